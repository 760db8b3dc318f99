import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testSeed } from '../harness/seed.ts';
import { drainAll, insertUsers, pushWorld, simContactsByExternalId, type PushWorld } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/drain-child.ts', import.meta.url));
const LEASE_SECONDS = 2;
// The kill points are random but seeded: KILL_SEED=<n> replays a run, KILL_SEED=random explores.
const { seed: KILL_SEED, random } = testSeed('KILL', 20_251_201);

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld({ seed: 7 });
});
afterAll(async () => {
  await w?.close();
});

function startChild(): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, DATABASE_URL: w.db.url, SIM_URL: w.sim.url, SIM_TOKEN: w.sim.token, LEASE_SECONDS: String(LEASE_SECONDS) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exited };
}

async function pendingCount(): Promise<number> {
  const [r] = await w.sql<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.sync_outbox WHERE status = 'pending'`);
  return r!.n;
}

describe('killing the pushing process', () => {
  // Five child processes start tsx each; on a loaded machine that alone takes a while.
  it(`after SIGKILLs at random points (KILL_SEED=${KILL_SEED}) and a restart, every change is in Intercom exactly once`, { timeout: 180_000 }, async () => {
    // 200 linked contacts to update, then 300 new users: 500 outbox entries.
    const linkedIds = await insertUsers(w, 1, 200, 'k-old-');
    await drainAll(w);
    await w.sql(`DELETE FROM intercom.audit_log`);
    await insertUsers(w, 1, 300, 'k-new-');
    await w.sql(`UPDATE intercom.contacts SET name = 'Killed ' || id, phone = '+49' || id WHERE id = ANY($1::bigint[])`, [linkedIds]);
    expect(await pendingCount()).toBe(500);
    // Slow Intercom down a little so that the kills land in the middle of the work.
    await w.control('POST', '/__sim/faults', { method: '*', path: '*', kind: 'latency', latency_ms: 25 });

    const kills: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { child, exited } = startChild();
      const before = await pendingCount();
      // Wait until the child is actually pushing (tsx start-up takes a while), then kill at a random point.
      for (let t = 0; t < 300 && (await pendingCount()) === before; t++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, Math.floor(random() * 400)));
      child.kill('SIGKILL');
      const end = await exited;
      if (end.signal !== 'SIGKILL') throw new Error(`child ended on its own (code ${end.code}): ${end.stderr}`);
      kills.push(before - (await pendingCount()));
    }
    const last = startChild();
    const end = await last.exited;
    expect(end.stderr).toBe('');
    expect(end.code).toBe(0);
    expect(await pendingCount()).toBe(0);
    await w.control('DELETE', '/__sim/faults');
    // Some kills interrupted real progress (otherwise the test proves nothing).
    expect(kills.some((k) => k > 0)).toBe(true);

    const dead = await w.sql(`SELECT local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead'`);
    expect(dead).toEqual([]);

    // New users: exactly one Intercom contact each, linked to its row.
    const created = await w.sql<{ id: number; external_id: string; intercom_id: string | null; status: string }>(
      `SELECT c.id, c.external_id, m.intercom_id, m.status FROM intercom.contacts c
         JOIN intercom.sync_mappings m ON m.entity_type = 'contact' AND m.local_id = c.id
        WHERE c.external_id LIKE 'k-new-%'`,
    );
    expect(created).toHaveLength(300);
    expect(created.every((r) => r.status === 'active' && r.intercom_id)).toBe(true);
    for (const r of created) {
      const found = await simContactsByExternalId(w, r.external_id);
      expect(found.map((f) => f.contact.id)).toEqual([r.intercom_id]);
    }

    // Updated users: Intercom holds the change.
    const updated = await w.sql<{ id: number; external_id: string; name: string; phone: string }>(
      `SELECT id, external_id, name, phone FROM intercom.contacts WHERE id = ANY($1::bigint[])`,
      [linkedIds],
    );
    for (const r of updated) {
      const [remote] = await simContactsByExternalId(w, r.external_id);
      expect({ name: remote!.contact.name, phone: remote!.contact.phone }).toEqual({ name: r.name, phone: r.phone });
    }

    // Every change has exactly one audit row.
    const audit = await w.sql<{ local_id: number; n: number; actions: string[] }>(
      `SELECT local_id, count(*)::int AS n, array_agg(action) AS actions FROM intercom.audit_log
        WHERE direction = 'push' GROUP BY local_id`,
    );
    expect(audit).toHaveLength(500);
    expect(audit.filter((a) => a.n !== 1)).toEqual([]);
    const actions = new Set(audit.flatMap((a) => a.actions));
    expect([...actions].every((a) => ['create', 'link', 'update'].includes(a))).toBe(true);
  });
});
