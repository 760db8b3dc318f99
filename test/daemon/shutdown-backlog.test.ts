import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { waitFor } from './helpers.ts';
import { getJson, spawnDaemon, type DaemonProcess } from './process-helpers.ts';

/**
 * SIGTERM with a big outbox backlog. Before the shutdown was bounded, a 49,000-entry backlog took 26.5 s against a
 * 25 s SHUTDOWN_TIMEOUT_SECONDS and left 53 entries leased to the exited worker, which no other worker could take until
 * the lease ran out. Here: 20,000 new users, Intercom at 50 ms a request and a budget of 60 requests a minute (10 a
 * 10-second window, spent at once), so that when the signal comes the entries in flight wait on the limiter for a
 * window that opens after the shutdown timeout, and the outbox sweep as well as the push loop hold claims.
 */
const SHUTDOWN_TIMEOUT_SECONDS = 6;
const BACKLOG = 20_000;
let tdb: TestDatabase;
let sim: RunningSimulator;
let daemon: DaemonProcess;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
});

afterAll(async () => {
  if (daemon?.alive()) daemon.child.kill('SIGKILL');
  await daemon?.exited;
  await sim?.close();
  await tdb?.drop();
});

async function outbox(): Promise<{ pending: number; leased: number }> {
  const { rows } = await tdb.pool.query<{ pending: number; leased: number }>(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'pending' AND locked_by IS NOT NULL)::int AS leased
       FROM intercom.sync_outbox`,
  );
  return rows[0]!;
}

describe('SIGTERM with a big outbox backlog', () => {
  it(`exits within SHUTDOWN_TIMEOUT_SECONDS and leaves no entry leased`, { timeout: 120_000 }, async () => {
    await tdb.pool.query(
      `INSERT INTO intercom.contacts (external_id, email, name)
       SELECT 'backlog-' || g, 'backlog' || g || '@example.com', 'Backlog ' || g FROM generate_series(1, $1::int) g`,
      [BACKLOG],
    );
    expect((await outbox()).pending).toBeGreaterThanOrEqual(BACKLOG);
    await fetch(`${sim.url}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sim.token}` },
      body: JSON.stringify({ method: '*', path: '*', kind: 'latency', latency_ms: 50 }),
    });
    daemon = await spawnDaemon('shutdown-backlog', {
      DATABASE_URL: tdb.url,
      INTERCOM_BASE_URL: sim.url,
      INTERCOM_ACCESS_TOKEN: sim.token,
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      INTERCOM_RATE_LIMIT_PER_MINUTE: '60',
      OUTBOX_SWEEP_CRON: '* * * * * *',
      CONTACTS_PULL_CRON: '0 0 1 1 *',
      COMPANIES_PULL_CRON: '0 0 1 1 *',
      VERIFY_CRON: '0 0 1 1 *',
      LOG_LEVEL: 'warn',
    });
    await waitFor('the leader to be pushing', async () => {
      if (!daemon.alive()) throw new Error(`daemon exited:\n${daemon.output()}`);
      const ready = await getJson(`${daemon.url}/readyz`);
      return ready?.body.role === 'leader' && (await outbox()).leased > 0;
    }, 60_000);
    // Past the first window's budget: the entries in flight now wait on the limiter for the next window.
    await new Promise((r) => setTimeout(r, 2500));
    const leasedAtSignal = (await outbox()).leased;

    const signalled = Date.now();
    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    const tookMs = Date.now() - signalled;
    const after = await outbox();
    console.log(
      `shutdown: ${leasedAtSignal} entries leased at SIGTERM, exit ${exit.code} after ${tookMs} ms ` +
        `(timeout ${SHUTDOWN_TIMEOUT_SECONDS} s), ${after.leased} leased after, ${after.pending} pending`,
    );
    expect(leasedAtSignal).toBeGreaterThan(0);
    expect(exit.code, daemon.output().slice(-3000)).toBe(0);
    expect(tookMs, daemon.output().slice(-4000)).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
    expect(after.leased).toBe(0);
  });
});
