/**
 * A contact deleted and re-created locally with the same external_id converges. In archive mode
 * the new row revives and relinks the archived contact with its own data; in delete mode it gets a fresh contact;
 * both audited. Every sequence of inserts, updates, soft and hard deletes and re-inserts of one key, with pushes
 * interleaved, ends with Intercom holding the last live row (or nothing live), and no dead letter.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processHost } from '../../src/daemon/host.ts';
import type { IntercomGateway, Priority } from '../../src/intercom/gateway.ts';
import type { ContactWrite } from '../../src/intercom/payloads.ts';
import { createPushEngine, type PushEngine } from '../../src/sync/push/index.ts';
import { baseConfig, drainAll, insertUser, mappingOf, pullEngineOf, pushWorld, silent, simContactsByExternalId, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld({ seed: 131 });
});
afterAll(async () => {
  await w?.close();
});

async function deadLetters(localIds: number[]): Promise<{ local_id: number; last_error: string }[]> {
  return w.sql(`SELECT local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead' AND local_id = ANY($1::bigint[])`, [
    localIds,
  ]);
}

describe('re-created contacts', () => {
  it('archive mode: a re-inserted key revives and relinks the archived contact with the new data', async () => {
    const first = await insertUser(w, 'recreate-1', 'First');
    await drainAll(w);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w);
    expect((await simContactsByExternalId(w, 'recreate-1')).map((c) => c.archived)).toEqual([true]);

    const second = await insertUser(w, 'recreate-1', 'Second');
    await drainAll(w);
    expect(await deadLetters([first, second])).toEqual([]);
    const held = await simContactsByExternalId(w, 'recreate-1');
    expect(held.map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Second']]);
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await mappingOf(w, 'contact', first)).toMatchObject({ status: 'deleted', intercom_id: null });
    const [audit] = await w.sql<{ action: string; details: Record<string, unknown> }>(
      `SELECT action, details FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push'`,
      [second],
    );
    expect(audit).toMatchObject({ action: 'link', details: { revived_from_local_id: first, unarchived: true, intercom_id: x } });
  });

  // Chaos seed 7: the takeover's unarchive moves the old contact's updated_at, and a pull that ran before the
  // takeover committed took it for a revival and linked the new row itself, with the old contact's values winning
  // under newest_wins. The row is the push's to link: the pull leaves it alone and the new values reach Intercom.
  it('a pull between the takeover unarchive and its commit leaves the re-created row to the push', async () => {
    const first = await insertUser(w, 'recreate-pull', 'First');
    await drainAll(w);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w);
    const second = await insertUser(w, 'recreate-pull', 'Second');
    // Seconds pass before the takeover (updated_at is whole seconds), so the remote edit below is newer than both
    // our archive and the new row.
    await w.control('POST', '/__sim/clock', { advance_seconds: 5 });

    let pulled = false;
    const pull = pullEngineOf(w);
    // The gateway is a class instance: a spread would drop its methods, so the override sits on top of it.
    const gateway: IntercomGateway = Object.create(w.gateway, {
      updateContact: { value: async (id: string, body: ContactWrite, priority: Priority) => {
        if (!pulled) {
          pulled = true;
          // Intercom has the contact unarchived, with its old values; the new ones are not sent yet and the takeover
          // is not recorded. Someone edits the contact in Intercom meanwhile, so the pull sees it live and newer than
          // our archive. As in the chaos run, this PUT then fails (a 502 before it applies) and is retried later.
          await w.control('PATCH', `/__sim/contacts/${x}`, { phone: '+15550002' });
          await pull.pullContacts({});
          await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 502, count: 5 });
        }
        return w.gateway.updateContact(id, body, priority);
      } },
    });
    const engine = createPushEngine({ host: processHost(), gateway, store: w.store, logger: silent, config: baseConfig });
    await drainAll(w, engine);
    await pull.pullContacts({});
    expect(pulled).toBe(true);
    expect(await deadLetters([first, second])).toEqual([]);
    expect(await w.sql(`SELECT name, phone FROM intercom.contacts WHERE id = $1`, [second])).toEqual([{ name: 'Second', phone: '+15550002' }]);
    const held = await simContactsByExternalId(w, 'recreate-pull');
    expect(held.map((c) => [c.contact.id, c.archived, c.contact.name])).toEqual([[x, false, 'Second']]);
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'active', intercom_id: x });
    expect(await w.sql(`SELECT count(*)::int AS n FROM intercom.contacts WHERE external_id = 'recreate-pull' OR email = 'recreate-pull@example.com'`)).toEqual([{ n: 1 }]);
  });

  // Chaos seed 20: the re-created row's takeover unarchived the old contact, its PUT went unanswered, and the row was
  // deleted again before the link committed. Its mapping was still 'pending', so the delete was taken for a no-op
  // and the contact we had brought back stayed live. The unarchive is recorded as a write in doubt, and the delete
  // archives the contact it names.
  it('a re-created row deleted before its takeover committed archives the contact it brought back', async () => {
    const first = await insertUser(w, 'recreate-undo', 'First');
    await drainAll(w);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w);
    const second = await insertUser(w, 'recreate-undo', 'Second');
    await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 502, count: 1 });
    await w.engine.drainOnce();
    expect((await simContactsByExternalId(w, 'recreate-undo')).map((c) => c.archived)).toEqual([false]);
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'pending' });
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [second]);
    await w.sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now() WHERE local_id = $1`, [second]);
    await drainAll(w);
    expect(await deadLetters([first, second])).toEqual([]);
    expect((await simContactsByExternalId(w, 'recreate-undo')).map((c) => [c.contact.id, c.archived])).toEqual([[x, true]]);
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'archived', intercom_id: x });
    const actions = await w.sql<{ action: string }>(`SELECT action FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push'`, [second]);
    expect(actions.map((a) => a.action)).toEqual(['archive']);
  });

  it('delete mode: a re-inserted key gets a fresh contact', async () => {
    const engine = w.engineWith({ deleteMode: 'delete' });
    const first = await insertUser(w, 'recreate-2', 'First');
    await drainAll(w, engine);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w, engine);
    const second = await insertUser(w, 'recreate-2', 'Second');
    await drainAll(w, engine);
    expect(await deadLetters([first, second])).toEqual([]);
    const held = await simContactsByExternalId(w, 'recreate-2');
    const live = held.filter((c) => !c.deleted && !c.archived);
    expect(live.map((c) => c.contact.name)).toEqual(['Second']);
    expect(live[0]!.contact.id).not.toBe(x);
    expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'active', intercom_id: live[0]!.contact.id });
    const actions = await w.sql<{ action: string }>(
      `SELECT action FROM intercom.audit_log WHERE local_id = ANY($1::bigint[]) AND direction = 'push' ORDER BY id`,
      [[first, second]],
    );
    expect(actions.map((a) => a.action)).toEqual(['create', 'delete', 'create']);
  });

  // Found by the chaos test (docs/guarantees.md): the row is hard-deleted and re-inserted before the delete is pushed,
  // so the new row's create meets a 409 from a contact still mapped `active` to a row that no longer exists. Each
  // order of the two outbox entries is forced by holding the other one back (claims go by next_attempt_at).
  for (const first of ['create', 'delete'] as const) {
    it(`a key re-created before its delete was pushed converges when the ${first} is processed first`, async () => {
      const key = `recreate-race-${first}`;
      const old = await insertUser(w, key, 'Old');
      await drainAll(w);
      const x = (await mappingOf(w, 'contact', old))!.intercom_id!;
      await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [old]);
      const fresh = await insertUser(w, key, 'New');
      const [held, go] = first === 'create' ? [old, fresh] : [fresh, old];
      await w.sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now() + interval '1 hour' WHERE local_id = $1`, [held]);
      try {
        await w.engine.drainOnce({ max: 1 });
        const pending = await w.sql<{ last_error: string | null }>(
          `SELECT last_error FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'pending'`,
          [go],
        );
        if (first === 'delete') expect(pending).toEqual([]);
        // The create does not take the contact over while the old row's delete is queued: that delete would archive it
        // under the new row (a race the chaos test found with concurrent pushes). It waits, and runs after the delete.
        else expect(pending.map((p) => p.last_error)).toEqual([expect.stringContaining('has its delete pending')]);
      } finally {
        await w.sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now() WHERE local_id = $1`, [held]);
      }
      await drainAll(w);

      expect(await deadLetters([old, fresh])).toEqual([]);
      const contacts = await simContactsByExternalId(w, key);
      expect(contacts.map((c) => [c.contact.id, c.archived, c.deleted, c.contact.name])).toEqual([[x, false, false, 'New']]);
      expect(await mappingOf(w, 'contact', fresh)).toMatchObject({ status: 'active', intercom_id: x });
      expect(await mappingOf(w, 'contact', old)).toMatchObject({ status: 'deleted', intercom_id: null });
    });
  }

  type Op =
    | { kind: 'insert'; name: string }
    | { kind: 'update'; name: string }
    | { kind: 'soft' }
    | { kind: 'restore' }
    | { kind: 'hard' }
    | { kind: 'push' };

  for (const mode of ['archive', 'delete'] as const) {
    it(`property (${mode} mode): every sequence of local writes on one key converges`, async () => {
      const engine: PushEngine = w.engineWith({ deleteMode: mode });
      const name = fc.constantFrom('Ann', 'Bob', 'Cy', 'Di');
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('insert' as const), name }),
        fc.record({ kind: fc.constant('update' as const), name }),
        fc.record({ kind: fc.constant('soft' as const) }),
        fc.record({ kind: fc.constant('restore' as const) }),
        fc.record({ kind: fc.constant('hard' as const) }),
        fc.record({ kind: fc.constant('push' as const) }),
      );
      const seed = Number(process.env.RECREATE_SEED ?? Date.now() % 1_000_000);
      console.log(`[recreate] ${mode} property seed ${seed} (RECREATE_SEED=${seed} replays it)`);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 14 }), async (ops) => {
          const key = `rc-${mode}-${seed}-${run++}`;
          let row: { id: number; name: string; deleted: boolean } | null = null;
          const ids: number[] = [];
          for (const o of ops) {
            if (o.kind === 'insert' && row === null) {
              row = { id: await insertUser(w, key, o.name), name: o.name, deleted: false };
              ids.push(row.id);
            }
            else if (o.kind === 'update' && row) {
              await w.sql(`UPDATE intercom.contacts SET name = $2 WHERE id = $1`, [row.id, o.name]);
              row.name = o.name;
            } else if (o.kind === 'soft' && row) {
              await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [row.id]);
              row.deleted = true;
            } else if (o.kind === 'restore' && row) {
              await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL WHERE id = $1`, [row.id]);
              row.deleted = false;
            } else if (o.kind === 'hard' && row) {
              await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [row.id]);
              row = null;
            } else if (o.kind === 'push') await engine.drainOnce();
          }
          await drainAll(w, engine);
          expect(await deadLetters(ids)).toEqual([]);
          const held = await simContactsByExternalId(w, key);
          const live = held.filter((c) => !c.deleted && !c.archived);
          if (row && !row.deleted) {
            expect(live.map((c) => c.contact.name)).toEqual([row.name]);
            expect(await mappingOf(w, 'contact', row.id)).toMatchObject({ status: 'active', intercom_id: live[0]!.contact.id });
          } else {
            expect(live).toEqual([]);
          }
          // Never more than one contact for the key in archive mode: the archived one is revived, not duplicated.
          if (mode === 'archive') expect(held.filter((c) => !c.deleted).length).toBeLessThanOrEqual(1);
        }),
        { seed, numRuns: 25, endOnFailure: true },
      );
    });
  }
});
