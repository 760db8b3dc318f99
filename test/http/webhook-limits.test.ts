import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../src/http/server.ts';
import { signBody } from '../../src/http/webhook-signature.ts';
import { createWebhookHandler, type WebhookHandler } from '../../src/http/webhooks.ts';
import { serveWebhooks } from './webhook-server.ts';
import { silentLogger } from '../daemon/helpers.ts';

/**
 * The limits on what an unauthenticated client can make POST /webhooks/intercom hold: without them, slow unsigned
 * connections made the daemon buffer every byte they sent (test/http/webhook-memory.test.ts).
 */
const SECRET = 'limits-secret';
const MAX_BODY = 4096;
const MAX_CONCURRENT = 2;
const BODY_TIMEOUT_MS = 500;
let server: HttpServer;
let webhooks: WebhookHandler;
let port: number;
let url: string;
const pulled: string[][] = [];

beforeAll(async () => {
  webhooks = createWebhookHandler({
    secret: SECRET,
    logger: silentLogger,
    maxBodyBytes: MAX_BODY,
    maxConcurrent: MAX_CONCURRENT,
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    pull: { contacts: async (ids) => void pulled.push(ids), companies: async () => undefined },
  });
  ({ server, url } = await serveWebhooks(webhooks));
  port = Number(new URL(url).port);
});

afterAll(async () => {
  await webhooks.close(1000);
  await server.close();
});

/** Sends headers and `partial` bytes of a body declared `declared` long, then waits for the answer (or a close). */
function slowRequest(declared: number, partial: number, signature = `sha1=${'ab'.repeat(20)}`): Promise<{ status: number | null; closedAfterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let head = '';
    s.on('data', (d: Buffer) => (head += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m?.[1] ? Number(m[1]) : null, closedAfterMs: Date.now() - started });
    });
    s.on('connect', () => {
      s.write(
        `POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\ncontent-length: ${declared}\r\nx-hub-signature: ${signature}\r\n\r\n`,
      );
      s.write(Buffer.alloc(partial, 0x20));
    });
  });
}

function body(id: string): string {
  return JSON.stringify({ type: 'notification_event', topic: 'contact.user.updated', data: { item: { type: 'contact', id } } });
}

describe('webhook limits', () => {
  it('refuses a declared body above the cap with 413 without reading it, and closes the connection', async () => {
    const r = await slowRequest(MAX_BODY + 1, 10);
    expect(r.status).toBe(413);
  });

  it('refuses a body that grows past the cap without a declared length (chunked)', async () => {
    const big = body('x'.repeat(MAX_BODY));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const r = await fetch(`${url}/webhooks/intercom`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'x-hub-signature': signBody(big, SECRET) },
    } as RequestInit).catch(() => null);
    // Either the 413 arrives or the connection is cut mid-upload; the notification is never pulled.
    if (r) expect(r.status).toBe(413);
    expect(pulled.flat()).not.toContain('x'.repeat(MAX_BODY));
  });

  it('answers a body that does not arrive within the deadline with 408 and closes the socket', async () => {
    const r = await slowRequest(1000, 10);
    expect(r.status).toBe(408);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
  });

  it('refuses a request without a well-formed signature before reading its body', async () => {
    const r = await slowRequest(1000, 10, 'nonsense');
    expect(r.status).toBe(401);
  });

  it('answers 503 beyond the concurrency cap, and serves again once the slow ones are cut', async () => {
    const slow = Array.from({ length: MAX_CONCURRENT }, () => slowRequest(1000, 10));
    // Wait until both slow requests hold a slot, i.e. until a further one is refused as busy.
    let busy: number | null = null;
    for (let i = 0; i < 50 && busy !== 503; i++) {
      busy = (await slowRequest(1000, 10)).status;
    }
    expect(busy).toBe(503);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([408, 408]);
    const ok = await fetch(`${url}/webhooks/intercom`, { method: 'POST', body: body('after'), headers: { 'x-hub-signature': signBody(body('after'), SECRET) } });
    expect(ok.status).toBe(202);
    await webhooks.idle();
    expect(pulled).toContainEqual(['after']);
  });
});
