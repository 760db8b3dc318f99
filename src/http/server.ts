import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { checkReadiness, type ReadinessSources } from './health.ts';
import type { Metrics } from './metrics.ts';
import { sendJson, sendText } from './respond.ts';
import { createStatusPageHandler, type StatusPageOptions } from './status-page.ts';
import type { WebhookHandler } from './webhooks.ts';

/**
 * The daemon's HTTP surface on plain node:http: four routes do not need a framework. Every replica serves it,
 * leader or standby, so probes and webhooks work wherever the load balancer sends them.
 */
export interface HttpServerOptions {
  readiness: ReadinessSources;
  metrics: Metrics;
  webhooks: WebhookHandler;
  logger: Logger;
  /** The HTML status page at `/`; absent or null = off (STATUS_PAGE=off), and `/` answers 404. */
  statusPage?: StatusPageOptions | null;
}

export interface HttpServer {
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  /** Stops accepting connections and closes idle ones; busy ones get `graceMs`. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const log = opts.logger.child({ module: 'http' });
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/healthz': {
      GET: (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    '/readyz': {
      GET: async (_req, res) => {
        const r = await checkReadiness(opts.readiness);
        sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not_ready', role: r.role, checks: r.checks });
      },
    },
    '/metrics': {
      GET: async (_req, res) => {
        const m = await opts.metrics.render();
        sendText(res, 200, m.contentType, m.body);
      },
    },
    '/webhooks/intercom': {
      POST: (req, res) => opts.webhooks.handle(req, res),
    },
  };
  if (opts.statusPage) {
    const statusPage = createStatusPageHandler(opts.statusPage);
    routes['/'] = { GET: statusPage, HEAD: statusPage };
  }

  const server: Server = createServer(
    {
      // Load balancers keep connections alive longer than Node's 5 s default would allow; avoid racing their reuse.
      keepAliveTimeout: 65_000,
      // A slow client may not hold a socket indefinitely (slowloris): headers within 20 s, the whole request within
      // 30 s, checked every second rather than Node's default 30 s so a flood of them is cut promptly.
      // https://nodejs.org/api/http.html#serverheaderstimeout, https://nodejs.org/api/http.html#serverrequesttimeout
      headersTimeout: 20_000,
      requestTimeout: 30_000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const route = routes[path];
      const handler = route?.[req.method ?? 'GET'];
      res.on('finish', () => opts.metrics.recordHttp(route ? path : 'other', res.statusCode));
      if (!route) return sendJson(res, 404, { error: 'not_found', message: `no route ${path}` });
      if (!handler) {
        return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} ${path}` }, {
          allow: Object.keys(route).join(', '),
        });
      }
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((err: unknown) => {
          log.error({ err, path }, 'request failed');
          if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: 'see the intercom-sync logs' });
          else res.destroy();
        });
    },
  );

  let closed: Promise<void> | null = null;
  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          log.info({ port: a.port, host: a.address }, 'HTTP server listening');
          resolve({ port: a.port, url: `http://${shown === '0.0.0.0' || shown === '[::]' ? '127.0.0.1' : shown}:${a.port}` });
        });
      });
    },
    close(graceMs = 2000) {
      return (closed ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }));
    },
  };
}
