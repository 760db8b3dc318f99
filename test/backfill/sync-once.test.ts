import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { harness, type Harness } from '../intercom/helpers.ts';

// `intercom-sync sync --once` as a scheduler runs it: a process per cycle, against Postgres and the simulator.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('sync --once', () => {
  let t: TestDatabase;
  let h: Harness;
  const N = 400;

  beforeAll(async () => {
    t = await createTestDatabase();
    h = await harness({ seed: 5, seedContacts: N, seedCompanies: 6 });
  });
  afterAll(async () => {
    await h.close();
    await t.drop();
  });

  async function cycle(): Promise<{ requests: number; steps: { kind: string; status: string; summary: { requests: number; counts: Record<string, number> } }[] }> {
    const r = await run(process.execPath, ['bin/intercom-sync.js', 'sync', '--once', '--json'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        DATABASE_URL: t.url,
        INTERCOM_BASE_URL: h.sim.url,
        INTERCOM_ACCESS_TOKEN: h.sim.token,
        INTERCOM_RATE_LIMIT_PER_MINUTE: '100000',
        LOG_LEVEL: 'silent',
      },
    });
    return JSON.parse(r.stdout.trim()) as never;
  }
  const step = (c: Awaited<ReturnType<typeof cycle>>, kind: string) => c.steps.find((s) => s.kind === kind)!;

  it('runs one cycle per process: the first pulls everything, later ones cost ⌈changes/150⌉ searches and one request per local change', async () => {
    const first = await cycle();
    expect(first.steps.map((s) => [s.kind, s.status])).toEqual([
      ['pull_contacts', 'succeeded'],
      ['pull_companies', 'succeeded'],
      ['push', 'succeeded'],
    ]);
    expect(step(first, 'pull_contacts').summary.counts.created).toBe(N);
    const runs = (await t.pool.query(`SELECT kind, status FROM intercom.sync_runs ORDER BY id`)).rows;
    expect(runs).toEqual([
      { kind: 'pull_contacts', status: 'succeeded' },
      { kind: 'pull_companies', status: 'succeeded' },
      { kind: 'push', status: 'succeeded' },
    ]);

    // 200 remote edits and 3 local ones, then a new process: the time zone comes from sync_state, not GET /me.
    const ids = (await t.pool.query<{ intercom_id: string }>(`SELECT intercom_id FROM intercom.contacts ORDER BY id LIMIT 200`)).rows;
    await h.control('POST', '/__sim/clock', { advance_seconds: 3600 });
    for (const { intercom_id } of ids) await h.control('PATCH', `/__sim/contacts/${intercom_id}`, { name: `remote ${intercom_id}` });
    await t.pool.query(`UPDATE intercom.contacts SET name = 'local ' || id WHERE id IN (SELECT id FROM intercom.contacts ORDER BY id DESC LIMIT 3)`);
    await h.control('DELETE', '/__sim/stats');
    const second = await cycle();
    const pull = step(second, 'pull_contacts');
    expect(pull.summary.counts.updated).toBe(200);
    expect(pull.summary.requests).toBe(Math.ceil(200 / 150));
    expect(step(second, 'push').summary.requests).toBe(3);
    const stats = (await (await fetch(`${h.sim.url}/__sim/stats`)).json()) as { by_route: Record<string, Record<string, number>> };
    expect(stats.by_route['GET /me']).toBeUndefined();
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM intercom.sync_outbox`)).rows[0].n).toBe(0);
  });
});
