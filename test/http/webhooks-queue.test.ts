import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../src/http/server.ts';
import { signBody } from '../../src/http/webhook-signature.ts';
import { createWebhookHandler, type WebhookHandler } from '../../src/http/webhooks.ts';
import { serveWebhooks } from './webhook-server.ts';
import { silentLogger, waitFor } from '../daemon/helpers.ts';

const SECRET = 's3cret-for-queue-tests';
let server: HttpServer;
let webhooks: WebhookHandler;
let url: string;
const calls: string[][] = [];
let release: (() => void) | null = null;

beforeAll(async () => {
  webhooks = createWebhookHandler({
    secret: SECRET,
    logger: silentLogger,
    maxPendingIds: 5,
    pull: {
      contacts: async (ids) => {
        calls.push(ids);
        // The first pull is held so that later notifications pile up behind it.
        if (calls.length === 1) await new Promise<void>((r) => (release = r));
      },
      companies: async () => undefined,
    },
  });
  ({ server, url } = await serveWebhooks(webhooks));
});

afterAll(async () => {
  release?.();
  await webhooks.close(1000);
  await server.close();
});

async function send(id: string): Promise<number> {
  const body = JSON.stringify({ type: 'notification_event', topic: 'contact.user.updated', data: { item: { type: 'contact', id } } });
  const r = await fetch(`${url}/webhooks/intercom`, { method: 'POST', body, headers: { 'x-hub-signature': signBody(body, SECRET) } });
  return r.status;
}

describe('webhook queue', () => {
  it('coalesces notifications that arrive during a pull into one batch, bounded in size', async () => {
    expect(await send('first')).toBe(202);
    await waitFor('the first pull to start', () => calls.length === 1);
    // 'f' exceeds maxPendingIds (5): it is dropped and left to the scheduled pull.
    for (const id of ['a', 'b', 'a', 'c', 'd', 'e', 'f']) expect(await send(id)).toBe(202);
    release?.();
    await webhooks.idle();
    expect(calls).toEqual([['first'], ['a', 'b', 'c', 'd', 'e']]);
  });

  it('refuses new notifications once closing, leaving them to the scheduled pull', async () => {
    await webhooks.close(1000);
    expect(await send('late')).toBe(503);
    expect(calls.flat()).not.toContain('late');
  });
});
