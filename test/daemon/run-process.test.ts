import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/http/webhook-signature.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { parsePrometheusText } from '../http/prom-text.ts';
import { waitFor } from './helpers.ts';
import { getJson, spawnDaemon, type DaemonProcess } from './process-helpers.ts';

/**
 * The daemon as operators run it: `intercom-sync run` child processes against one database and the simulator.
 * Pull schedules are set far in the future so that any pull seen here was triggered by a webhook; the outbox sweep
 * ticks every second, so the leader leaves a visible trail of push runs in sync_runs.
 */
const SECRET = 'webhook-secret-for-tests';
let tdb: TestDatabase;
let sim: RunningSimulator;
const daemons: DaemonProcess[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
});

afterAll(async () => {
  for (const d of daemons) if (d.alive()) d.child.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.exited));
  await sim.close();
  await tdb.drop();
});

async function start(name: string): Promise<DaemonProcess> {
  const d = await spawnDaemon(name, {
    DATABASE_URL: tdb.url,
    INTERCOM_BASE_URL: sim.url,
    INTERCOM_ACCESS_TOKEN: sim.token,
    INTERCOM_CLIENT_SECRET: SECRET,
    INTERCOM_RATE_LIMIT_PER_MINUTE: '6000',
    CONTACTS_PULL_CRON: '0 0 1 1 *',
    COMPANIES_PULL_CRON: '0 0 1 1 *',
    OUTBOX_SWEEP_CRON: '* * * * * *',
    VERIFY_CRON: '0 0 1 1 *',
  });
  daemons.push(d);
  return d;
}

async function roleOf(d: DaemonProcess): Promise<string | null> {
  const r = await getJson(`${d.url}/readyz`);
  return r && r.status === 200 ? String(r.body.role) : null;
}

async function ready(d: DaemonProcess, role?: string): Promise<string> {
  return waitFor(`${d.name} to be ready${role ? ` as ${role}` : ''}`, async () => {
    if (!d.alive()) throw new Error(`${d.name} exited:\n${d.output()}`);
    const r = await roleOf(d);
    return r && (!role || r === role) ? r : null;
  }, 30_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n--- ${d.name} output ---\n${d.output().slice(-4000)}`);
  });
}

async function runsBy(pid: number, kind = 'push'): Promise<number> {
  const { rows } = await tdb.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM intercom.sync_runs WHERE kind = $1 AND details->>'replica' LIKE $2`,
    [kind, `%:${pid}`],
  );
  return rows[0]!.n;
}

function post(d: DaemonProcess, body: string, signature: string): Promise<Response> {
  return fetch(`${d.url}/webhooks/intercom`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature': signature },
    body,
  });
}

async function simCreateContact(fields: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${sim.url}/__sim/contacts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  if (!r.ok) throw new Error(`simulator refused contact: ${r.status} ${await r.text()}`);
  return String(((await r.json()) as { contact: { id: string } }).contact.id);
}

const notification = (topic: string, item: Record<string, unknown>): string =>
  JSON.stringify({ type: 'notification_event', topic, id: `notif_${Math.random()}`, created_at: 1, data: { item } });

let leader: DaemonProcess;
let standby: DaemonProcess;

describe('intercom-sync run', () => {
  it('runs one leader and one standby against one database; only the leader works', async () => {
    const a = await start('daemon-a');
    const b = await start('daemon-b');
    const roles = await Promise.all([ready(a), ready(b)]);
    await waitFor('one leader and one standby', async () => {
      const r = [await roleOf(a), await roleOf(b)].sort();
      return r[0] === 'leader' && r[1] === 'standby';
    });
    [leader, standby] = (await roleOf(a)) === 'leader' ? [a, b] : [b, a];
    expect(roles.sort()).toEqual(['leader', 'standby']);

    await waitFor('the leader to record outbox sweeps', async () => (await runsBy(leader.pid)) >= 2);
    expect(await runsBy(standby.pid)).toBe(0);

    const text = await (await fetch(`${standby.url}/metrics`)).text();
    const leaderGauge = parsePrometheusText(text).samples.find((s) => s.name === 'intercom_sync_leader');
    expect(leaderGauge?.value).toBe(0);
  });

  it('a webhook with a valid signature triggers a targeted pull; a bad signature gets 401 and changes nothing', async () => {
    const goodId = await simCreateContact({ role: 'user', external_id: 'wh-good', email: 'wh-good@example.com', name: 'Good' });
    const badId = await simCreateContact({ role: 'user', external_id: 'wh-bad', email: 'wh-bad@example.com', name: 'Bad' });

    const bad = notification('contact.user.updated', { type: 'contact', id: badId });
    const r401 = await post(leader, bad, signBody(bad, 'not-the-secret'));
    expect(r401.status).toBe(401);

    const good = notification('contact.user.created', { type: 'contact', id: goodId });
    const r202 = await post(leader, good, signBody(good, SECRET));
    expect(r202.status).toBe(202);

    await waitFor('the webhook pull to bring the contact in', async () => {
      const { rows } = await tdb.pool.query(`SELECT 1 FROM intercom.contacts WHERE intercom_id = $1`, [goodId]);
      return rows.length === 1;
    });
    const webhookRuns = async () =>
      (
        await tdb.pool.query<{ status: string; details: { ids?: string[] } }>(
          `SELECT status, details FROM intercom.sync_runs WHERE kind = 'webhook' ORDER BY id`,
        )
      ).rows;
    await waitFor('the targeted pull to be recorded', async () =>
      (await webhookRuns()).some((r) => r.status === 'succeeded' && r.details.ids?.includes(goodId)),
    );
    const runs = await webhookRuns();
    expect(runs.some((r) => r.details.ids?.includes(badId))).toBe(false);
    const { rows: badRows } = await tdb.pool.query(`SELECT 1 FROM intercom.contacts WHERE intercom_id = $1 OR external_id = 'wh-bad'`, [badId]);
    expect(badRows).toHaveLength(0);

    const malformed = '{"type":"notification_event","topic":"contact.user.created","data":{}}';
    const r400 = await post(leader, malformed, signBody(malformed, SECRET));
    expect(r400.status).toBe(400);
    expect(((await r400.json()) as { error: string }).error).toBe('malformed_notification');
    await waitFor('the malformed notification to be recorded', async () => {
      const { rows } = await tdb.pool.query(`SELECT 1 FROM intercom.sync_runs WHERE kind = 'webhook' AND status = 'failed' AND error LIKE 'malformed%'`);
      return rows.length > 0;
    });
    expect((await getJson(`${leader.url}/healthz`))?.status).toBe(200);
  });

  it('/metrics of the running daemon parses as Prometheus text with the named series', async () => {
    const { samples, types } = parsePrometheusText(await (await fetch(`${leader.url}/metrics`)).text());
    for (const family of [
      'intercom_sync_intercom_requests_total',
      'intercom_sync_intercom_rate_limited_total',
      'intercom_sync_limiter_queued',
      'intercom_sync_limiter_remaining_budget',
      'intercom_sync_outbox_depth',
      'intercom_sync_outbox_oldest_pending_age_seconds',
      'intercom_sync_outbox_dead_letters',
      'intercom_sync_pull_lag_seconds',
      'intercom_sync_conflicts_total',
      'intercom_sync_run_duration_seconds',
      'intercom_sync_webhooks_total',
    ]) {
      expect(types.has(family), family).toBe(true);
    }
    expect(samples.find((s) => s.name === 'intercom_sync_leader')?.value).toBe(1);
    expect(samples.some((s) => s.name === 'intercom_sync_intercom_requests_total' && s.value > 0)).toBe(true);
    expect(samples.some((s) => s.name === 'intercom_sync_run_duration_seconds_count' && s.labels.kind === 'push')).toBe(true);
  });

  it('when the leader is killed with SIGKILL the standby takes over', async () => {
    const old = leader;
    old.child.kill('SIGKILL');
    await old.exited;
    await ready(standby, 'leader');
    const before = await runsBy(standby.pid);
    await waitFor('the new leader to record outbox sweeps', async () => (await runsBy(standby.pid)) > before);
    // Runs the dead leader left open are closed by its successor.
    const { rows } = await tdb.pool.query(
      `SELECT 1 FROM intercom.sync_runs WHERE status = 'running' AND details->>'replica' LIKE $1`,
      [`%:${old.pid}`],
    );
    expect(rows).toHaveLength(0);
    leader = standby;
  });

  it('SIGTERM stops gracefully with exit code 0 and loses no outbox entry', async () => {
    const next = await start('daemon-c');
    await ready(next, 'standby');
    // Slow Intercom down so that pushes are in flight when the signal arrives.
    await fetch(`${sim.url}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: '*', path: '*', kind: 'latency', latency_ms: 400 }),
    });
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { rows } = await tdb.pool.query<{ id: number }>(
        `INSERT INTO intercom.contacts (external_id, email, name) VALUES ($1, $2, $3) RETURNING id`,
        [`term-${i}`, `term-${i}@example.com`, `Term ${i}`],
      );
      ids.push(rows[0]!.id);
    }
    await waitFor('pushes to be in flight', async () => {
      const { rows } = await tdb.pool.query(`SELECT 1 FROM intercom.sync_outbox WHERE locked_by IS NOT NULL`);
      return rows.length > 0;
    });
    leader.child.kill('SIGTERM');
    const { code, signal } = await leader.exited;
    expect({ code, signal }, leader.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(leader.output()).toContain('shutdown complete');

    // Every change is either in Intercom with a mapping, or still waiting in the outbox — never dropped.
    const { rows } = await tdb.pool.query<{ id: number; pushed: boolean; pending: boolean }>(
      `SELECT c.id,
              EXISTS (SELECT 1 FROM intercom.sync_mappings m WHERE m.entity_type = 'contact' AND m.local_id = c.id AND m.intercom_id IS NOT NULL) AS pushed,
              EXISTS (SELECT 1 FROM intercom.sync_outbox o WHERE o.entity_type = 'contact' AND o.local_id = c.id) AS pending
         FROM intercom.contacts c WHERE c.id = ANY($1)`,
      [ids],
    );
    expect(rows).toHaveLength(20);
    expect(rows.filter((r) => !r.pushed && !r.pending)).toEqual([]);
    const { rows: open } = await tdb.pool.query(
      `SELECT 1 FROM intercom.sync_runs WHERE status = 'running' AND details->>'replica' LIKE $1`,
      [`%:${leader.pid}`],
    );
    expect(open).toHaveLength(0);

    // The lock was released on the way out: the standby leads and finishes the outbox, including entries the
    // stopped leader had claimed (it handed them back rather than leaving them leased).
    await fetch(`${sim.url}/__sim/faults`, { method: 'DELETE' });
    await ready(next, 'leader');
    await waitFor('the outbox to drain', async () => {
      const { rows: left } = await tdb.pool.query(`SELECT 1 FROM intercom.sync_outbox WHERE local_id = ANY($1) AND entity_type = 'contact'`, [ids]);
      return left.length === 0;
    }, 30_000);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  });
});
