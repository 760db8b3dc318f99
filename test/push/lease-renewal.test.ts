import { afterAll, beforeAll, expect, it } from 'vitest';
import { drainAll, insertUsers, pushWorld, type PushWorld } from './helpers.ts';

/**
 * A claimed entry can wait behind the limiter (a 429 pause, a full budget) or a slow Intercom for longer than its
 * lease. If the lease ran out meanwhile, a second worker claimed the entry and wrote the same entity again: two
 * PUTs in flight for one contact and two audit rows for one change (the rule
 * that no two writes to one entity are in flight at once). The holder now renews the leases of everything it holds until it finishes.
 */
let w: PushWorld;
beforeAll(async () => {
  // Leases of two seconds, renewed every 667 ms: one renewal may come late on a loaded machine (the whole suite on two
  // cores, embedded Postgres) without the lease running out. With one-second leases a fresh-clone run saw a renewal
  // miss its 667 ms of slack and the second worker claim all three entries.
  w = await pushWorld({ seed: 11 }, { leaseSeconds: 2 }, 4, { timeoutSeconds: 30 });
});
afterAll(async () => {
  await w?.close();
});

it('a worker slower than its lease keeps its entries: a second worker never writes them again', { timeout: 60_000 }, async () => {
  const ids = await insertUsers(w, 1, 3, 'lease-');
  await drainAll(w);
  await w.sql(`DELETE FROM intercom.audit_log`);
  await w.sql(`UPDATE intercom.contacts SET name = 'Renamed ' || id WHERE id = ANY($1::bigint[])`, [ids]);
  await w.resetStats();
  // Each PUT takes 2.5 lease lengths.
  await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'latency', latency_ms: 5_000 });

  const slow = w.engine.drainOnce();
  const other = w.engineWith({ leaseSeconds: 2 });
  let otherClaimed = 0;
  let slowDone = false;
  void slow.finally(() => (slowDone = true));
  // The other worker keeps looking for claimable work for as long as the slow one is busy.
  while (!slowDone) {
    const s = await other.drainOnce();
    otherClaimed += Number((s.details as { claimed?: number } | undefined)?.claimed ?? 0);
    await new Promise((r) => setTimeout(r, 100));
  }
  await slow;
  await w.control('DELETE', '/__sim/faults');

  expect(otherClaimed).toBe(0);
  const puts = Object.values((await w.stats()).by_route['PUT /contacts/{id}'] ?? {}).reduce((a, b) => a + b, 0);
  expect(puts).toBe(3);
  const audit = await w.sql<{ local_id: number; n: number }>(
    `SELECT local_id, count(*)::int AS n FROM intercom.audit_log WHERE direction = 'push' GROUP BY local_id ORDER BY local_id`,
  );
  expect(audit).toEqual(ids.map((id) => ({ local_id: id, n: 1 })));
});
