import { createMetrics } from '../../src/http/metrics.ts';
import { createHttpServer, type HttpServer } from '../../src/http/server.ts';
import type { WebhookHandler } from '../../src/http/webhooks.ts';
import { silentLogger } from '../daemon/helpers.ts';

/** The daemon's HTTP server around a webhook handler, with readiness that always holds: for webhook-only tests. */
export async function serveWebhooks(webhooks: WebhookHandler): Promise<{ server: HttpServer; url: string }> {
  const server = createHttpServer({
    logger: silentLogger,
    metrics: createMetrics({}, silentLogger),
    webhooks,
    readiness: { pingDatabase: async () => undefined, intercomAuth: async () => ({ ok: true }), role: () => 'leader' },
  });
  return { server, url: (await server.listen(0, '127.0.0.1')).url };
}
