import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainAll, insertUsers, mappingOf, pushWorld, simContact, simContactsByExternalId, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld();
});
afterAll(async () => {
  await w?.close();
});

describe('push request costs', () => {
  it('N updates to linked contacts cost N requests; a no-op costs none', async () => {
    const ids = await insertUsers(w, 1, 20, 'cost-');
    await w.resetStats();
    const created = await drainAll(w);
    expect(created).toBe(20);
    expect((await w.stats()).total).toBe(20);

    await w.resetStats();
    await w.sql(`UPDATE intercom.contacts SET name = 'Renamed ' || id WHERE id = ANY($1::bigint[])`, [ids.slice(0, 10)]);
    const summary = await w.engine.drainOnce();
    const stats = await w.stats();
    expect(summary.requests).toBe(10);
    expect(stats.total).toBe(10);
    expect(stats.by_route['PUT /contacts/{id}']?.['200']).toBe(10);
    expect(summary.counts.updated).toBe(10);
    // Every applied change cites the Intercom request that applied it, as the simulator answered it.
    const audited = await w.sql<{ request_id: string | null }>(
      `SELECT request_id FROM intercom.audit_log WHERE direction = 'push' AND local_id = ANY($1::bigint[])`,
      [ids],
    );
    expect(audited.length).toBe(30);
    expect(audited.every((a) => typeof a.request_id === 'string' && /^[0-9a-f-]{36}$/.test(a.request_id))).toBe(true);

    const m = await mappingOf(w, 'contact', ids[0]!);
    const remote = await simContact(w, m!.intercom_id!);
    expect(remote.contact.name).toBe(`Renamed ${ids[0]}`);

    // Applications often rewrite rows unchanged, or change and change back before the push: zero requests.
    await w.resetStats();
    await w.sql(`UPDATE intercom.contacts SET name = 'tmp' WHERE id = ANY($1::bigint[])`, [ids.slice(10)]);
    await w.sql(`UPDATE intercom.contacts SET name = 'User ' || (id - $2::bigint + 1) WHERE id = ANY($1::bigint[])`, [
      ids.slice(10),
      ids[0]!,
    ]);
    await w.sql(`UPDATE intercom.contacts SET email = email WHERE id = ANY($1::bigint[])`, [ids]);
    const noop = await w.engine.drainOnce();
    expect(noop.counts.unchanged).toBe(10);
    expect(noop.requests).toBe(0);
    expect((await w.stats()).total).toBe(0);
    const [{ n }] = (await w.sql<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.sync_outbox`)) as [{ n: number }];
    expect(n).toBe(0);
  });

  it('1,000 inserts of new users cost 1,000 requests and create 1,000 contacts with the right external_ids', async () => {
    await insertUsers(w, 1, 1000, 'bulk-');
    await w.resetStats();
    const requests = await drainAll(w);
    const stats = await w.stats();
    expect(requests).toBe(1000);
    expect(stats.total).toBe(1000);
    expect(stats.by_route['POST /contacts']?.['200']).toBe(1000);

    const rows = await w.sql<{ external_id: string; intercom_id: string; status: string }>(
      `SELECT c.external_id, m.intercom_id, m.status FROM intercom.contacts c
         JOIN intercom.sync_mappings m ON m.entity_type = 'contact' AND m.local_id = c.id
        WHERE c.external_id LIKE 'bulk-%'`,
    );
    expect(rows).toHaveLength(1000);
    expect(rows.every((r) => r.status === 'active' && r.intercom_id)).toBe(true);
    for (const r of rows.filter((_, i) => i % 97 === 0)) {
      const found = await simContactsByExternalId(w, r.external_id);
      expect(found.map((f) => f.contact.id)).toEqual([r.intercom_id]);
    }
    expect(new Set(rows.map((r) => r.intercom_id)).size).toBe(1000);
    const audit = await w.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM intercom.audit_log WHERE direction = 'push' AND action = 'create'`,
    );
    expect(audit[0]!.n).toBe(1020);
    // The data rows mirror the link for applications.
    const mirrored = await w.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM intercom.contacts WHERE external_id LIKE 'bulk-%' AND intercom_id IS NOT NULL`,
    );
    expect(mirrored[0]!.n).toBe(1000);
  });

  it('plan() classifies pending work without sending a request', async () => {
    await w.resetStats();
    await insertUsers(w, 1, 3, 'plan-');
    await w.sql(`UPDATE intercom.contacts SET name = 'Planned' WHERE external_id IN ('cost-000001', 'cost-000002')`);
    await w.sql(`UPDATE intercom.contacts SET phone = '+1' WHERE external_id = 'cost-000003'`);
    await w.sql(`UPDATE intercom.contacts SET phone = NULL WHERE external_id = 'cost-000003'`);
    const plan = await w.engine.plan();
    expect(plan).toEqual({ create: 3, update: 2, unchanged: 1, invalid: 0, delete: 0, requests: 5 });
    expect((await w.stats()).total).toBe(0);
    await drainAll(w);
  });
});
