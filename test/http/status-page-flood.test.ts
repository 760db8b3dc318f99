import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/client.ts';
import { daemonMetricsQueries } from '../../src/db/queries/daemon-metrics.ts';
import { statusQueries } from '../../src/db/queries/status.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { createHttpServer, type HttpServer } from '../../src/http/server.ts';
import { createStatusPageHandler, isLoopback, type StatusPageOptions } from '../../src/http/status-page.ts';
import { createWebhookHandler } from '../../src/http/webhooks.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silentLogger, waitFor } from '../daemon/helpers.ts';
import { killDaemon, startQuietDaemon, type DaemonProcess } from '../daemon/process-helpers.ts';

/**
 * The status page and /metrics are open to many (the page without a token on loopback, /metrics to Prometheus), and
 * they read the database. They once shared the sync's 10 connections: 200 page requests at once made 200 pushes take
 * 70 s instead of 12. Now they read through a small pool of their own and serve a few requests at once, answering
 * 503 with Retry-After beyond. The tests hold the page's reads on a table lock (status_samples, which only the page
 * reads and the usage recorder writes), so that the flood is in flight when the counts are taken: no timing involved.
 */
const TOKEN = 'flood-test-token-0123456789';
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(async () => {
  await tdb.drop();
});

/** Holds ACCESS EXCLUSIVE on status_samples until `release()`: every status page read waits on it. */
async function lockSamples(url: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: url, application_name: 'flood-test lock' });
  await c.connect();
  await c.query('BEGIN');
  await c.query('LOCK TABLE intercom.status_samples IN ACCESS EXCLUSIVE MODE');
  return {
    async release() {
      await c.query('COMMIT');
      await c.end();
    },
  };
}

async function connectionsOf(appName: string): Promise<{ total: number; waitingOnLock: number }> {
  const { rows } = await tdb.pool.query<{ total: number; waiting: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting
       FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
    [appName],
  );
  return { total: rows[0]!.total, waitingOnLock: rows[0]!.waiting };
}


describe('in one process: a limit on concurrent page reads', () => {
  let server: HttpServer;
  let base: string;
  let httpPool: pg.Pool;

  beforeAll(async () => {
    httpPool = createPool(tdb.url, 2, { purpose: 'http-test' });
    const q = daemonMetricsQueries('intercom');
    const metrics = createMetrics(
      { readDb: async () => ({ outbox: await q.outbox(httpPool), pullLag: await q.pullLag(httpPool), mappings: await q.mappings(httpPool) }) },
      silentLogger,
    );
    const statusPage: StatusPageOptions = {
      token: undefined,
      pii: false,
      budgetPerMinute: 500,
      schema: 'intercom',
      load: (hours) => statusQueries('intercom').snapshot(httpPool, hours),
    };
    server = createHttpServer({
      logger: silentLogger,
      metrics,
      webhooks: createWebhookHandler({ secret: undefined, logger: silentLogger, pull: { contacts: async () => {}, companies: async () => {} } }),
      readiness: { pingDatabase: async () => {}, intercomAuth: async () => ({ ok: true }), role: () => 'leader' },
      statusPage,
      maxConcurrentReads: 4,
    });
    base = (await server.listen(0, '127.0.0.1')).url;
  });

  afterAll(async () => {
    await server.close();
    await httpPool.end();
  });

  it('200 page requests at once: 4 are served, the rest answered 503 with Retry-After, the sync pool untouched', async () => {
    const lock = await lockSamples(tdb.url);
    let released = false;
    try {
      const answers = Array.from({ length: 200 }, () => fetch(base).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() })));
      const refused: { status: number; retryAfter: string | null; body: string }[] = [];
      for (const a of answers) void a.then((x) => x.status === 503 && refused.push(x));
      await waitFor('196 refusals while 4 pages wait on the lock', () => refused.length >= 196, 30_000);
      expect(refused[0]!.retryAfter).toBe('5');
      expect(JSON.parse(refused[0]!.body)).toMatchObject({ error: 'busy' });
      // The page's reads hold at most the 2 connections of their own pool; the sync's pool has all of its own free.
      expect(httpPool.totalCount).toBeLessThanOrEqual(2);
      expect((await connectionsOf('intercom-sync http-test')).total).toBeLessThanOrEqual(2);
      const idleBefore = tdb.pool.waitingCount;
      const client = await tdb.pool.connect();
      client.release();
      expect(idleBefore).toBe(0);
      await lock.release();
      released = true;
      const all = await Promise.all(answers);
      expect(all.filter((a) => a.status === 200)).toHaveLength(4);
      expect(all.filter((a) => a.status === 503)).toHaveLength(196);
    } finally {
      if (!released) await lock.release();
    }
    // The limit is on requests in flight: once they are done, the page is served again.
    expect((await fetch(base)).status).toBe(200);
  });

  it('/metrics has a limit of its own: a page flood does not get a scrape refused', async () => {
    const lock = await lockSamples(tdb.url);
    let released = false;
    try {
      const pages = Array.from({ length: 20 }, () => fetch(base).then((r) => r.status));
      await waitFor('the page reads to wait on the lock', async () => (await connectionsOf('intercom-sync http-test')).waitingOnLock >= 1, 30_000);
      // The scrape waits for a connection of the same small pool, but it is not refused for the pages' sake.
      const scrape = fetch(`${base}/metrics`).then((r) => r.status);
      await lock.release();
      released = true;
      expect(await scrape).toBe(200);
      const statuses = await Promise.all(pages);
      expect(statuses.filter((s) => s === 503)).toHaveLength(16);
    } finally {
      if (!released) await lock.release();
    }
  });
});

describe('readiness probes', () => {
  it('arriving together share one database check', async () => {
    let pings = 0;
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    const server = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics({}, silentLogger),
      webhooks: createWebhookHandler({ secret: undefined, logger: silentLogger, pull: { contacts: async () => {}, companies: async () => {} } }),
      readiness: {
        pingDatabase: async () => {
          pings += 1;
          await held;
        },
        intercomAuth: async () => ({ ok: true }),
        role: () => 'leader',
      },
    });
    const { url } = await server.listen(0, '127.0.0.1');
    try {
      const probes = Array.from({ length: 50 }, () => fetch(`${url}/readyz`).then((r) => r.status));
      await waitFor('the first probe to reach the database', () => pings >= 1, 10_000);
      // The server answers one more request after the probes were sent: they have arrived, or nearly all of them.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      answer();
      expect(new Set(await Promise.all(probes))).toEqual(new Set([200]));
      // One check for the probes that arrived while it ran (a straggler after it ended may start a second).
      expect(pings).toBeLessThanOrEqual(2);
      const before = pings;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(pings).toBe(before + 1);
    } finally {
      answer();
      await server.close();
    }
  });
});

describe('default access: loopback only unless STATUS_PAGE_TOKEN is set', () => {
  it('loopback addresses, IPv4-mapped ones included', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9']) expect(isLoopback(a), a).toBe(true);
    for (const a of [undefined, '', '10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '::', '0.0.0.0', '127.0.0.1.example', '1127.0.0.1']) {
      expect(isLoopback(a), String(a)).toBe(false);
    }
  });

  // Traffic in tests stays on loopback, so a client "from another address" is a request whose socket reports one
  // (a documentation address, RFC 5737): the handler decides on req.socket.remoteAddress alone.
  it('from another address: 403 naming STATUS_PAGE_TOKEN without a token; the token opens it; loopback needs it too', async () => {
    const load = (hours: number) => statusQueries('intercom').snapshot(tdb.pool, hours);
    const page = (token: string | undefined) => createStatusPageHandler({ token, pii: false, budgetPerMinute: 500, schema: 'intercom', load });
    const open = page(undefined);
    const refused = await call(open, '192.0.2.10', '/');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('STATUS_PAGE_TOKEN');
    expect((await call(open, '::ffff:192.0.2.10', '/')).status).toBe(403);
    expect((await call(open, '127.0.0.1', '/')).status).toBe(200);
    expect((await call(open, '::1', '/')).status).toBe(200);

    const locked = page(TOKEN);
    expect((await call(locked, '192.0.2.10', '/')).status).toBe(401);
    expect((await call(locked, '192.0.2.10', '/', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await call(locked, '192.0.2.10', `/?token=${TOKEN}`)).status).toBe(200);
    expect((await call(locked, '127.0.0.1', '/')).status).toBe(401);
  });
});

/** Runs one request through `handler` as if it came from `address`, without any network traffic. */
async function call(
  handler: ReturnType<typeof createStatusPageHandler>,
  address: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: address });
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = url;
  req.headers = headers;
  const res = new ServerResponse(req);
  let body = '';
  const end = res.end.bind(res);
  res.end = ((chunk?: unknown) => {
    if (typeof chunk === 'string') body += chunk;
    return end();
  }) as typeof res.end;
  await handler(req, res);
  socket.destroy();
  return { status: res.statusCode, body };
}

describe('the daemon: a page flood does not take the sync\'s connections', () => {
  let sim: RunningSimulator;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
    daemon = await startQuietDaemon('flood', { databaseUrl: tdb.url, intercom: sim, env: { HTTP_DB_CONNECTIONS: '2' }, until: 'leader' });
  }, 90_000);

  afterAll(async () => {
    await killDaemon(daemon);
    await sim?.close();
  });

  it('200 page requests stuck on a lock: at most 2 page connections, the rest 503, and a local change is pushed meanwhile', async () => {
    const lock = await lockSamples(tdb.url);
    let released = false;
    try {
      const answers = Array.from({ length: 200 }, () => fetch(daemon.url).then((r) => ({ status: r.status, retryAfter: r.headers.get('retry-after') })).catch(() => null));
      await waitFor('page reads waiting on the lock', async () => {
        const { rows } = await tdb.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name LIKE 'intercom-sync%' AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n >= 1;
      }, 30_000);
      // A push needs the sync's pool: it must get its connections while the pages wait.
      const id = (
        await tdb.pool.query<{ id: number }>(`INSERT INTO intercom.contacts (external_id, email, name) VALUES ('flood-1', 'flood-1@example.com', 'During the flood') RETURNING id`)
      ).rows[0]!.id;
      await waitFor('the change to be pushed while the page requests wait', async () => {
        const { rows } = await tdb.pool.query<{ intercom_id: string | null }>(`SELECT intercom_id FROM intercom.contacts WHERE id = $1`, [id]);
        return rows[0]?.intercom_id ?? null;
      }, 30_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- daemon output ---\n${daemon.output().slice(-3000)}`);
      });
      const page = await connectionsOf('intercom-sync http');
      expect(page.total).toBeLessThanOrEqual(2);
      expect(page.waitingOnLock).toBeGreaterThanOrEqual(1);
      await lock.release();
      released = true;
      const all = await Promise.all(answers);
      const busy = all.filter((a) => a?.status === 503);
      expect(busy.length).toBeGreaterThanOrEqual(150);
      expect(busy[0]!.retryAfter).toBe('5');
      expect(all.filter((a) => a?.status === 200).length).toBeGreaterThanOrEqual(1);
      expect(daemon.alive()).toBe(true);
    } finally {
      if (!released) await lock.release();
    }
  }, 120_000);
});
