import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { excerpt } from '../log-excerpt.ts';
import { checkReadiness, type Readiness, type ReadinessSources } from './health.ts';
import type { Metrics } from './metrics.ts';
import { createGate, requestTarget, sendBusy, sendJson, sendText } from './respond.ts';
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
  /**
   * `/` and `/metrics` read the database; each serves at most this many requests at once and answers 503 with
   * Retry-After beyond (default DEFAULT_MAX_CONCURRENT_READS). With their own small pool (src/main.ts) a flood of
   * them waits on that pool, never on the sync's.
   */
  maxConcurrentReads?: number;
}

export const DEFAULT_MAX_CONCURRENT_READS = 4;

export interface HttpServer {
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  /** Stops accepting connections and closes idle ones; busy ones get `graceMs`. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const log = opts.logger.child({ module: 'http' });
  const maxReads = opts.maxConcurrentReads ?? DEFAULT_MAX_CONCURRENT_READS;
  const metricsGate = createGate(maxReads);
  // Probes that arrive together share one check: a flood of /readyz costs one database round trip at a time.
  let readiness: Promise<Readiness> | null = null;
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/healthz': {
      GET: (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    '/readyz': {
      GET: async (_req, res) => {
        readiness ??= checkReadiness(opts.readiness).finally(() => {
          readiness = null;
        });
        const r = await readiness;
        sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not_ready', role: r.role, checks: r.checks });
      },
    },
    '/metrics': {
      GET: async (_req, res) => {
        const release = metricsGate.enter();
        if (!release) return sendBusy(res, '/metrics');
        try {
          const m = await opts.metrics.render();
          sendText(res, 200, m.contentType, m.body);
        } finally {
          release();
        }
      },
    },
    '/webhooks/intercom': {
      POST: (req, res) => opts.webhooks.handle(req, res),
    },
  };
  if (opts.statusPage) {
    const statusPage = createStatusPageHandler({ maxConcurrent: maxReads, ...opts.statusPage });
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
      // Nothing may escape a request listener: a throw there is an uncaught exception, and one request would end
      // the daemon on every replica. Synchronous throws and rejections alike end in `failed`.
      try {
        dispatch(req, res);
      } catch (err) {
        failed(res, err, req.url);
      }
    },
  );
  // A request Node cannot parse (a malformed request line or header, headers too large, a timeout) never reaches the
  // listener: Node answers it 400 (431, 408) and closes the socket, which is what we want, so no 'clientError'
  // listener replaces that default. https://nodejs.org/api/http.html#event-clienterror
  // Errors of the listening socket after start-up are emitted on the server, and without a listener they would end
  // the process. libuv absorbs EMFILE on accept itself (it closes the connections it cannot take), so these are rare
  // (ENOBUFS, ENOMEM): logged, and the server keeps listening.
  server.on('error', (err) => log.error({ err }, 'HTTP server error; still listening'));

  function dispatch(req: IncomingMessage, res: ServerResponse): void {
    const target = requestTarget(req);
    if (!target) {
      res.on('finish', () => opts.metrics.recordHttp('other', res.statusCode));
      return sendJson(res, 400, { error: 'bad_request', message: 'the request target is not a valid URL' }, { connection: 'close' });
    }
    const path = target.pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    const handler = route && Object.hasOwn(route, req.method ?? '') ? route[req.method ?? ''] : undefined;
    res.on('finish', () => opts.metrics.recordHttp(route ? path : 'other', res.statusCode));
    if (!route) return sendJson(res, 404, { error: 'not_found', message: `no route ${excerpt(path, 200)}` });
    if (!handler) {
      return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} ${excerpt(path, 200)}` }, {
        allow: Object.keys(route).join(', '),
      });
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => failed(res, err, path));
  }

  function failed(res: ServerResponse, err: unknown, path: string | undefined): void {
    try {
      log.error({ err, path }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: 'see the intercom-sync logs' });
      else res.destroy();
    } catch {
      // The answer itself failed (the socket is gone, a header refused): nothing left to tell the client.
      res.destroy();
    }
  }

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
