/**
 * Rapid re-creation of one key (an application deleting and re-inserting rows with the same external_id): a decision
 * taken for an older row — an archive, a delete, a takeover — never acts on the contact once a newer live row holds
 * it or is taking it over (src/sync/push/claim.ts), and a pull never mistakes our own takeover for a revival nor lets
 * the contact's older values win the link of the newer row. Each interleaving an attack found (1 key in 53, each
 * through 100 rapid cycles) is forced here by holding one row's outbox entry back (claims go by next_attempt_at)
 * or by pausing a request in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processHost } from '../../src/daemon/host.ts';
import type { IntercomGateway, Priority } from '../../src/intercom/gateway.ts';
import { createPushEngine } from '../../src/sync/push/index.ts';
import { baseConfig, drainAll, insertUser, mappingOf, pullEngineOf, pushWorld, silent, simContactsByExternalId, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld({ seed: 421 });
});
afterAll(async () => {
  await w?.close();
});

const hold = (localId: number) => w.sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now() + interval '1 hour' WHERE local_id = $1`, [localId]);
const release = (localId: number) => w.sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now() WHERE local_id = $1`, [localId]);
const pendingOf = async (localId: number) =>
  (await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'pending'`, [localId])).length > 0;
const deadLetters = () => w.sql<{ local_id: number; last_error: string }>(`SELECT local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead'`);

/** Drains until this row's entry is done (other rows' entries may be held back meanwhile). */
async function drainRow(localId: number, engine = w.engine): Promise<void> {
  for (let i = 0; i < 200 && (await pendingOf(localId)); i++) {
    await engine.drainOnce();
    if (await pendingOf(localId)) await new Promise((r) => setTimeout(r, 30));
  }
  expect(await pendingOf(localId)).toBe(false);
}

/**
 * The first row is synced, deleted and archived; the second takes the archived contact over, but its PUT is answered
 * 502 after Intercom applied it (unarchived and written, nothing recorded), and it is deleted before its entry runs
 * again: its delete is held back. Returns the ids and the contact.
 */
async function halfTakenOver(key: string, o: { secondsBeforeTakeover?: number } = {}): Promise<{ first: number; second: number; x: string }> {
  const first = await insertUser(w, key, 'One');
  await drainAll(w);
  const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
  await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
  await drainAll(w);
  if (o.secondsBeforeTakeover) await w.control('POST', '/__sim/clock', { advance_seconds: o.secondsBeforeTakeover });
  const second = await insertUser(w, key, 'Two');
  await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 502, after_apply: true, count: 1 });
  await w.engine.drainOnce({ max: 1 });
  expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Two']]);
  expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'pending', intercom_id: null });
  await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [second]);
  await hold(second);
  return { first, second, x };
}

describe('a key deleted and re-created in quick succession', () => {
  it('the held-back delete of an older row stands down once a newer row holds the contact: no archive, audited', async () => {
    const key = 'rr-superseded';
    const { second, x } = await halfTakenOver(key);
    const third = await insertUser(w, key, 'Three');
    await drainRow(third);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });

    await w.resetStats();
    await release(second);
    await drainAll(w);
    const stats = await w.stats();
    expect(stats.by_route['POST /contacts/{id}/archive']).toBeUndefined();
    expect(stats.by_route['DELETE /contacts/{id}']).toBeUndefined();
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Three']]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'deleted', intercom_id: null });
    const audit = await w.sql<{ action: string; intercom_id: string; details: Record<string, unknown> }>(
      `SELECT action, intercom_id, details FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push' ORDER BY id`,
      [second],
    );
    expect(audit).toEqual([
      { action: 'superseded', intercom_id: x, details: expect.objectContaining({ decided: 'archive', held_by_local_id: third, held_by: 'mapping' }) },
    ]);
    expect(await deadLetters()).toEqual([]);
  });

  it('delete mode: the held-back delete of an older row never deletes the contact a newer row holds', async () => {
    const key = 'rr-superseded-delete';
    const { second, x } = await halfTakenOver(key);
    const third = await insertUser(w, key, 'Three');
    await drainRow(third);
    await w.resetStats();
    await release(second);
    await drainAll(w, w.engineWith({ deleteMode: 'delete' }));
    expect((await w.stats()).by_route['DELETE /contacts/{id}']).toBeUndefined();
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.deleted, c.contact.name])).toEqual([[x, false, false, 'Three']]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await deadLetters()).toEqual([]);
  });

  it("an older row's removal waits for nothing but stands down while a newer row's takeover is in flight", async () => {
    const key = 'rr-takeover-in-flight';
    const { second, x } = await halfTakenOver(key);
    const third = await insertUser(w, key, 'Three');
    // The newer row's takeover PUT waits in flight while the older row's delete runs.
    let paused = false;
    const gateway: IntercomGateway = Object.create(w.gateway, {
      updateContact: {
        value: async (id: string, body: Parameters<IntercomGateway['updateContact']>[1], priority: Priority) => {
          if (!paused) {
            paused = true;
            await release(second);
            await drainRow(second);
          }
          return w.gateway.updateContact(id, body, priority);
        },
      },
    });
    const engine = createPushEngine({ host: processHost(), gateway, store: w.store, logger: silent, config: baseConfig });
    await drainRow(third, engine);
    expect(paused).toBe(true);
    await drainAll(w);
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Three']]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    const [audit] = await w.sql<{ action: string; details: Record<string, unknown> }>(
      `SELECT action, details FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push'`,
      [second],
    );
    expect(audit).toMatchObject({ action: 'superseded', details: { held_by_local_id: third, held_by: 'write' } });
    expect(await deadLetters()).toEqual([]);
  });

  it("a newer row's takeover waits while an older row's archive is in flight, then brings the contact back", async () => {
    const key = 'rr-archive-in-flight';
    const { second, x } = await halfTakenOver(key);
    const third = await insertUser(w, key, 'Three');
    await hold(third);
    await release(second);
    // The older row's archive request waits in flight while the newer row's create runs.
    let paused = false;
    let thirdWhileArchiving: string | null = null;
    const gateway: IntercomGateway = Object.create(w.gateway, {
      archiveContact: {
        value: async (id: string, priority: Priority) => {
          if (!paused) {
            paused = true;
            await release(third);
            await w.engine.drainOnce();
            const [row] = await w.sql<{ last_error: string | null }>(`SELECT last_error FROM intercom.sync_outbox WHERE local_id = $1`, [third]);
            thirdWhileArchiving = row?.last_error ?? 'done';
          }
          return w.gateway.archiveContact(id, priority);
        },
      },
    });
    const engine = createPushEngine({ host: processHost(), gateway, store: w.store, logger: silent, config: baseConfig });
    await drainRow(second, engine);
    expect(paused).toBe(true);
    expect(thirdWhileArchiving).toContain('is in flight');
    await drainAll(w);
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Three']]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await deadLetters()).toEqual([]);
  });

  it('a pull meeting a contact an older row brought back (its takeover unfinished) does not revive the deleted row', async () => {
    const key = 'rr-no-phantom';
    // Seconds after the archive, our takeover's unarchive moves updated_at past the local delete: under newest_wins
    // that read as a revival.
    const { second, x } = await halfTakenOver(key, { secondsBeforeTakeover: 5 });
    await pullEngineOf(w).pullContacts({});
    expect(await w.sql(`SELECT id FROM intercom.contacts WHERE external_id = $1`, [key])).toEqual([]);
    // The application re-inserts the key, as it meant to.
    const third = await insertUser(w, key, 'Three');
    await release(second);
    await drainAll(w);
    await pullEngineOf(w).pullContacts({});
    await drainAll(w);
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Three']]);
    expect(await w.sql(`SELECT id, name FROM intercom.contacts WHERE external_id = $1`, [key])).toEqual([{ id: third, name: 'Three' }]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await deadLetters()).toEqual([]);
  });

  it("a pull linking a re-created row whose create is still queued keeps the row's values over the contact's older ones", async () => {
    const key = 'rr-pull-link';
    const first = await insertUser(w, key, 'One');
    await drainAll(w);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w);
    const third = await insertUser(w, key, 'Three');
    await hold(third);
    // Seconds later in Intercom's clock the old contact comes back with its old values (a person seen again), newer than
    // the application's row: the pull links the row to it (a revival of a key the application re-created).
    await w.control('POST', '/__sim/clock', { advance_seconds: 5 });
    await w.control('POST', `/__sim/contacts/${x}/seen`);
    await pullEngineOf(w).pullContacts({});
    expect(await w.sql(`SELECT name FROM intercom.contacts WHERE id = $1`, [third])).toEqual([{ name: 'Three' }]);
    await release(third);
    await drainAll(w);
    await pullEngineOf(w).pullContacts({});
    expect(await w.sql(`SELECT name FROM intercom.contacts WHERE id = $1`, [third])).toEqual([{ name: 'Three' }]);
    expect((await simContactsByExternalId(w, key)).map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Three']]);
    expect(await mappingOf(w, 'contact', third)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await deadLetters()).toEqual([]);
  });

  // The pull met a contact our push had just created for a row the application deleted meanwhile, before the push's
  // link committed: nobody local held its key, so it was taken for a contact made in Intercom and came back as a local
  // row the application never wrote (and whose key it was about to insert again). Per page (batched) and by id.
  for (const how of ['page', 'by id'] as const) {
    it(`a pull (${how}) does not bring back as a new row a contact our push created for a row deleted meanwhile`, async () => {
      const key = `rr-created-${how.replace(' ', '-')}`;
      const row = await insertUser(w, key, 'Gone');
      let pulled = false;
      const pull = pullEngineOf(w);
      const gateway: IntercomGateway = Object.create(w.gateway, {
        createContact: {
          value: async (body: Parameters<IntercomGateway['createContact']>[0], priority: Priority) => {
            const made = await w.gateway.createContact(body, priority);
            if (!pulled) {
              pulled = true;
              await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [row]);
              // Another contact changed in the same window, so the page is applied as a batch.
              await w.control('POST', '/__sim/contacts', { external_id: `${key}-other`, email: `${key}-other@example.com`, name: 'Other' });
              if (how === 'page') await pull.pullContacts({});
              else await pull.pullContactsByIds([made.id]);
            }
            return made;
          },
        },
      });
      const engine = createPushEngine({ host: processHost(), gateway, store: w.store, logger: silent, config: baseConfig });
      await drainRow(row, engine);
      expect(pulled).toBe(true);
      await pull.pullContacts({});
      await drainAll(w);
      expect(await w.sql(`SELECT id FROM intercom.contacts WHERE external_id = $1`, [key])).toEqual([]);
      expect((await simContactsByExternalId(w, key)).map((c) => c.archived)).toEqual([true]);
      expect(await deadLetters()).toEqual([]);
    });
  }
});
