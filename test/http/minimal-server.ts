import { createHttpServer, type HttpServer } from '../../src/http/server.ts';
import type { Metrics } from '../../src/http/metrics.ts';
import type { StatusPageOptions } from '../../src/http/status-page.ts';
import { createWebhookHandler } from '../../src/http/webhooks.ts';
import { silentLogger } from '../daemon/helpers.ts';

/** The daemon's HTTP server with webhooks off and probes that always pass: for tests of /metrics and `/`. */
export async function startMinimalServer(metrics: Metrics, statusPage: StatusPageOptions | null = null): Promise<{ server: HttpServer; url: string }> {
  const server = createHttpServer({
    logger: silentLogger,
    metrics,
    webhooks: createWebhookHandler({
      secret: undefined,
      logger: silentLogger,
      metrics,
      pull: { contacts: async () => {}, companies: async () => {} },
      onMalformed: async () => {},
    }),
    readiness: { pingDatabase: async () => {}, intercomAuth: async () => ({ ok: true }), role: () => 'leader' },
    statusPage,
  });
  return { server, url: (await server.listen(0, '127.0.0.1')).url };
}
