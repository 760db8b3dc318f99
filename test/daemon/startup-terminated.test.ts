import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { waitFor } from './helpers.ts';
import { getJson, spawnDaemon, type DaemonProcess } from './process-helpers.ts';

/**
 * Found by the chaos test (seed 2): `pg_terminate_backend` on a daemon's connections right after a restart ended
 * the new daemon with exit 1 before it logged anything. A terminated backend is an outage, not a bad configuration:
 * start-up must wait it out. A schema of its own makes the daemon run every migration, so its start-up queries
 * last long enough for the terminations to land in them.
 */
let tdb: TestDatabase;
let sim: RunningSimulator;
let daemon: DaemonProcess | null = null;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
});

afterAll(async () => {
  if (daemon?.alive()) daemon.child.kill('SIGKILL');
  await daemon?.exited;
  await sim.close();
  await tdb.drop();
});

/** Terminates the daemon's backends until `forMs` after the first one it hit (bounded by `maxMs` overall). */
async function terminateDaemonBackends(forMs: number, maxMs: number): Promise<number> {
  // A client of its own under another name: the test pool is named 'intercom-sync' like the daemon's.
  const killer = new pg.Client({ connectionString: tdb.url, application_name: 'startup-terminated-test' });
  await killer.connect();
  const started = Date.now();
  let firstHit: number | null = null;
  let killed = 0;
  while (Date.now() - started < maxMs && (firstHit === null || Date.now() - firstHit < forMs)) {
    const { rows } = await killer.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name LIKE 'intercom-sync%' AND datname = current_database() AND pid <> pg_backend_pid()`,
    );
    if (rows.length > 0) {
      killed += rows.length;
      firstHit ??= Date.now();
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await killer.end();
  return killed;
}

describe('intercom-sync run while its connections are terminated during start-up', () => {
  it('retries the start-up queries and becomes ready instead of exiting', async () => {
    const terminating = terminateDaemonBackends(2000, 30_000);
    daemon = await spawnDaemon('terminated-at-start', {
      DATABASE_URL: tdb.url,
      SYNC_SCHEMA: 'startup_terminated',
      INTERCOM_BASE_URL: sim.url,
      INTERCOM_ACCESS_TOKEN: sim.token,
      CONTACTS_PULL_CRON: '0 0 1 1 *',
      COMPANIES_PULL_CRON: '0 0 1 1 *',
      VERIFY_CRON: '0 0 1 1 *',
    });
    const d = daemon;
    const killed = await terminating;
    expect(killed).toBeGreaterThan(0);
    const exitedEarly = d.exited.then((e) => {
      throw new Error(`daemon exited (${JSON.stringify(e)}) before it was ready:\n${d.output().slice(-4000)}`);
    });
    exitedEarly.catch(() => undefined); // it rejects again at the deliberate SIGTERM below
    await Promise.race([
      exitedEarly,
      waitFor('the daemon to become ready', async () => (await getJson(`${d.url}/readyz`))?.status === 200, 60_000, 200),
    ]).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- output ---\n${d.output().slice(-4000)}`);
    });
    expect(d.alive()).toBe(true);
    expect(d.output()).toContain('retrying');
    const { rows } = await tdb.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM startup_terminated.schema_migrations`);
    expect(rows[0]!.n).toBeGreaterThan(0);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
  }, 120_000);
});
