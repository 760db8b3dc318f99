import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonMetricsQueries } from '../../src/db/queries/daemon-metrics.ts';
import type { Role } from '../../src/daemon/leader-lock.ts';
import { createIntercomAuthCheck } from '../../src/http/health.ts';
import { createMetrics, type Metrics } from '../../src/http/metrics.ts';
import { createHttpServer, type HttpServer } from '../../src/http/server.ts';
import { signBody } from '../../src/http/webhook-signature.ts';
import { createWebhookHandler, type WebhookHandler } from '../../src/http/webhooks.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silentLogger } from '../daemon/helpers.ts';
import { parsePrometheusText } from './prom-text.ts';

const SECRET = 'test-client-secret';
let tdb: TestDatabase;
let server: HttpServer;
let webhooks: WebhookHandler;
let metrics: Metrics;
let base: string;
let role: Role = 'leader';
let authError: Error | null = null;
let meCalls = 0;
const pulled = { contacts: [] as string[][], companies: [] as string[][] };
const malformed: string[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  const q = daemonMetricsQueries('intercom');
  metrics = createMetrics(
    {
      readDb: async () => ({ outbox: await q.outbox(tdb.pool), pullLag: await q.pullLag(tdb.pool), mappings: await q.mappings(tdb.pool) }),
      limiterState: () => ({ queued: 3, running: 1, reservoir: 80, pausedUntil: null }),
      role: () => role,
    },
    silentLogger,
  );
  webhooks = createWebhookHandler({
    secret: SECRET,
    logger: silentLogger,
    metrics,
    pull: {
      contacts: async (ids) => {
        pulled.contacts.push(ids);
      },
      companies: async (ids) => {
        pulled.companies.push(ids);
      },
    },
    onMalformed: async (reason) => {
      malformed.push(reason);
    },
  });
  server = createHttpServer({
    logger: silentLogger,
    metrics,
    webhooks,
    readiness: {
      pingDatabase: async () => {
        await tdb.pool.query('SELECT 1');
      },
      intercomAuth: createIntercomAuthCheck({
        me: async () => {
          meCalls += 1;
        },
        authError: () => authError,
      }),
      role: () => role,
    },
  });
  base = (await server.listen(0, '127.0.0.1')).url;
});

afterAll(async () => {
  await webhooks.close(1000);
  await server.close();
  await tdb.drop();
});

function post(body: string, signature?: string): Promise<Response> {
  return fetch(`${base}/webhooks/intercom`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature': signature } : {}) },
    body,
  });
}

const notification = (topic: string, item: Record<string, unknown>): string =>
  JSON.stringify({ type: 'notification_event', app_id: 'abc', topic, id: 'notif_1', created_at: 1, data: { type: 'notification_event_data', item } });

describe('health', () => {
  it('/healthz answers while the process runs', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is ready as leader or standby with the database and Intercom auth fine', async () => {
    for (const r of ['leader', 'standby'] as const) {
      role = r;
      const res = await fetch(`${base}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ready', role: r, checks: { database: { ok: true }, intercom: { ok: true } } });
    }
    // The token was verified once; later probes do not spend Intercom budget.
    expect(meCalls).toBe(1);
  });

  it('/readyz is not ready while starting or when Intercom rejects the token', async () => {
    role = 'starting';
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    role = 'leader';
    authError = new Error('401 unauthorized');
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not_ready', checks: { intercom: { ok: false } } });
    authError = null;
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const r = await fetch(`${base}/webhooks/intercom`);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
  });
});

describe('webhooks', () => {
  it('turns a signed contact notification into a targeted pull of that contact', async () => {
    const body = notification('contact.user.updated', { type: 'contact', id: 'c_1', email: 'a@example.com' });
    const r = await post(body, signBody(body, SECRET));
    expect(r.status).toBe(202);
    await webhooks.idle();
    expect(pulled.contacts.flat()).toContain('c_1');
  });

  it('pulls companies for company topics and both sides of link objects', async () => {
    const b1 = notification('company.updated', { type: 'company', id: 'co_1' });
    const b2 = notification('contact.tag.created', { type: 'contact_tag', contact: { type: 'contact', id: 'c_2' }, tag: { id: 't' } });
    const b3 = notification('company.contact.attached', { type: 'contact_company', contact: { id: 'c_3' }, company: { id: 'co_2' } });
    for (const b of [b1, b2, b3]) expect((await post(b, signBody(b, SECRET))).status).toBe(202);
    await webhooks.idle();
    expect(pulled.companies.flat()).toEqual(expect.arrayContaining(['co_1', 'co_2']));
    expect(pulled.contacts.flat()).toEqual(expect.arrayContaining(['c_2', 'c_3']));
  });

  it('refuses a bad or missing signature with 401 and pulls nothing', async () => {
    const before = pulled.contacts.flat().length;
    const body = notification('contact.user.updated', { type: 'contact', id: 'c_evil' });
    const bad = await post(body, signBody(body, 'wrong-secret'));
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_signature' });
    expect((await post(body)).status).toBe(401);
    expect((await post(body, 'sha1=zz')).status).toBe(401);
    // Signed over a different body: the signature binds the exact bytes.
    expect((await post(body, signBody(body.replace('c_evil', 'c_other'), SECRET))).status).toBe(401);
    await webhooks.idle();
    expect(pulled.contacts.flat().length).toBe(before);
    expect(pulled.contacts.flat()).not.toContain('c_evil');
  });

  it('answers a malformed signed body with 400 and a clear error, records it, and keeps serving', async () => {
    const notJson = '{"type": "notification_event", ';
    const r1 = await post(notJson, signBody(notJson, SECRET));
    expect(r1.status).toBe(400);
    expect(await r1.json()).toEqual({ error: 'malformed_notification', message: 'body is not valid JSON' });
    const noItem = JSON.stringify({ type: 'notification_event', topic: 'contact.user.created', data: {} });
    const r2 = await post(noItem, signBody(noItem, SECRET));
    expect(r2.status).toBe(400);
    expect((await r2.json()) as { message: string }).toMatchObject({ message: expect.stringContaining('data.item') });
    const noId = notification('contact.user.created', { type: 'contact' });
    expect((await post(noId, signBody(noId, SECRET))).status).toBe(400);
    expect(malformed).toHaveLength(3);
    const ok = notification('contact.lead.created', { type: 'contact', id: 'c_after' });
    expect((await post(ok, signBody(ok, SECRET))).status).toBe(202);
    await webhooks.idle();
    expect(pulled.contacts.flat()).toContain('c_after');
  });

  it('acknowledges topics it does not sync without pulling', async () => {
    const before = pulled.contacts.length + pulled.companies.length;
    const ping = notification('ping', { type: 'ping', message: 'hello' });
    const r = await post(ping, signBody(ping, SECRET));
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ignored' });
    await webhooks.idle();
    expect(pulled.contacts.length + pulled.companies.length).toBe(before);
  });

  it('refuses bodies over 1 MB with 413', async () => {
    const big = 'x'.repeat(1024 * 1024 + 10);
    expect((await post(big, signBody(big, SECRET))).status).toBe(413);
  });
});

describe('metrics', () => {
  it('/metrics parses as Prometheus text and carries the named series', async () => {
    // A pending outbox entry and a watermark, so the database gauges have something to show.
    await tdb.pool.query(`INSERT INTO intercom.contacts (external_id, email) VALUES ('m1', 'm1@example.com')`);
    await tdb.pool.query(`INSERT INTO intercom.sync_state (stream, watermark) VALUES ('contacts', now() - interval '120 seconds')`);
    await tdb.pool.query(
      `INSERT INTO intercom.sync_runs (kind, status, started_at, finished_at) VALUES ('pull_contacts', 'succeeded', now() - interval '65 seconds', now() - interval '60 seconds')`,
    );
    metrics.recordRequest({ method: 'POST', endpoint: 'POST /contacts/search', status: 200, durationMs: 40, requestId: 'r1', priority: 'pull', at: new Date() });
    metrics.recordRequest({ method: 'POST', endpoint: 'POST /contacts/search', status: 429, durationMs: 5, requestId: 'r2', priority: 'pull', at: new Date() });
    metrics.recordRun({ kind: 'pull_contacts', runId: 1, status: 'succeeded', durationSeconds: 1.5, summary: { counts: { updated: 4, conflict: 1 }, requests: 2 } });
    role = 'leader';
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheusText(await r.text());
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(one('intercom_sync_intercom_requests_total', { endpoint: 'POST /contacts/search', status: '200' })).toBe(1);
    expect(one('intercom_sync_intercom_rate_limited_total', { endpoint: 'POST /contacts/search' })).toBe(1);
    expect(one('intercom_sync_limiter_queued')).toBe(3);
    expect(one('intercom_sync_limiter_remaining_budget')).toBe(80);
    expect(one('intercom_sync_outbox_depth', { entity_type: 'contact' })).toBe(1);
    expect(one('intercom_sync_outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(one('intercom_sync_outbox_dead_letters', { entity_type: 'contact' })).toBe(0);
    expect(one('intercom_sync_pull_lag_seconds', { stream: 'contacts' })).toBeGreaterThanOrEqual(60);
    expect(one('intercom_sync_pull_lag_seconds', { stream: 'companies' })).toBeUndefined();
    expect(one('intercom_sync_pull_watermark_age_seconds', { stream: 'contacts' })).toBeGreaterThanOrEqual(120);
    expect(one('intercom_sync_conflicts_total', { kind: 'pull_contacts' })).toBe(1);
    expect(one('intercom_sync_run_duration_seconds_count', { kind: 'pull_contacts', status: 'succeeded' })).toBe(1);
    expect(one('intercom_sync_webhooks_total', { result: 'unauthorized' })).toBeGreaterThanOrEqual(4);
    expect(one('intercom_sync_http_requests_total', { route: '/webhooks/intercom', status: '202' })).toBeGreaterThan(0);
    expect(one('intercom_sync_leader')).toBe(1);
    expect(one('intercom_sync_metrics_database_up')).toBe(1);
    expect(types.get('intercom_sync_run_duration_seconds')).toBe('histogram');
    expect(types.get('intercom_sync_intercom_requests_total')).toBe('counter');
  });
});

describe('webhooks without a client secret', () => {
  it('are refused with 503 and an explanation', async () => {
    const h = createWebhookHandler({ secret: undefined, logger: silentLogger, pull: { contacts: async () => undefined, companies: async () => undefined } });
    const s = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics({}, silentLogger),
      webhooks: h,
      readiness: { pingDatabase: async () => undefined, intercomAuth: async () => ({ ok: true }), role: () => 'standby' },
    });
    const { url } = await s.listen(0, '127.0.0.1');
    try {
      const body = notification('contact.user.updated', { type: 'contact', id: 'c' });
      const r = await fetch(`${url}/webhooks/intercom`, { method: 'POST', body, headers: { 'x-hub-signature': signBody(body, 'x') } });
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ error: 'webhooks_disabled', message: expect.stringContaining('INTERCOM_CLIENT_SECRET') });
    } finally {
      await h.close(100);
      await s.close();
    }
  });
});
