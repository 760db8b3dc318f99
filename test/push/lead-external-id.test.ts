/**
 * Whether Intercom keeps an external_id on a lead is disputed, so the simulator offers each reading
 * (leadExternalId: keep / drop / reject) and the daemon must be right under each: the lead syncs keyed by email, the
 * application's external_id is never wiped locally, and it is not pushed again on every change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PullEngine } from '../../src/sync/pull/index.ts';
import { drainAll, mappingOf, pullEngineOf, pushWorld, simContact, type PushWorld } from './helpers.ts';

for (const mode of ['keep', 'drop', 'reject'] as const) {
  describe(`a lead with an external_id, simulator leadExternalId=${mode}`, () => {
    let w: PushWorld;
    let pull: PullEngine;
    beforeAll(async () => {
      w = await pushWorld({ seed: 114, leadExternalId: mode });
      pull = pullEngineOf(w);
    });
    afterAll(async () => {
      await w?.close();
    });

    it('syncs keyed by email, keeps the local external_id, and sends it no more than Intercom takes it', async () => {
      const [row] = await w.sql<{ id: number }>(
        `INSERT INTO intercom.contacts (role, external_id, email, name) VALUES ('lead', 'lead-x1', 'lead-x1@example.com', 'L') RETURNING id`,
      );
      await drainAll(w);
      expect(await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE status = 'dead'`)).toEqual([]);
      const m = await mappingOf(w, 'contact', row!.id);
      expect(m).toMatchObject({ status: 'active' });
      const [key] = await w.sql<{ external_key: string }>(
        `SELECT external_key FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = $1`,
        [row!.id],
      );
      expect(key!.external_key).toBe('lead-x1@example.com');
      const remote = await simContact(w, m!.intercom_id!);
      expect(remote.contact.external_id).toBe(mode === 'keep' ? 'lead-x1' : null);

      // A local change sends that change only (one PUT), and nothing after it is pending.
      await w.resetStats();
      await w.sql(`UPDATE intercom.contacts SET name = 'L2' WHERE id = $1`, [row!.id]);
      await drainAll(w);
      expect((await w.stats()).by_route['PUT /contacts/{id}']).toEqual({ '200': 1 });
      expect((await simContact(w, m!.intercom_id!)).contact.name).toBe('L2');

      // A remote edit pulled back keeps the application's external_id, and queues nothing.
      await w.control('PATCH', `/__sim/contacts/${m!.intercom_id!}`, { name: 'Remote' });
      await pull.pullContacts();
      const [local] = await w.sql<{ external_id: string | null; name: string }>(
        `SELECT external_id, name FROM intercom.contacts WHERE id = $1`,
        [row!.id],
      );
      expect(local).toEqual({ external_id: 'lead-x1', name: 'Remote' });
      expect(await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE status = 'pending'`)).toEqual([]);
    });
  });
}
