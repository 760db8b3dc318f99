/**
 * A re-created key whose archived Intercom holder answers in a drifted shape (a field of another type, a role the
 * 2.14 description does not list: the simulator's schema drift) links like any other: the takeover reads the holder's
 * readable identity as the pull does — id, external_id, email, and role and archived as far as they can be read — and
 * never retries its way to a dead letter (docs/guarantees.md promises that drifted records never dead-letter). Before,
 * the holder's GET failed to parse, the entry retried (7 times in 6 minutes in an attack run) heading for a dead letter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftOf } from '../../src/simulator/realism.ts';
import { drainAll, insertUser, mappingOf, pushWorld, simContactsByExternalId, type PushWorld } from './helpers.ts';

const SEED = 613;
let w: PushWorld;
beforeAll(async () => {
  // A few attempts, soon: before the change the entry went dead well within the drain.
  w = await pushWorld({ seed: SEED }, { maxAttempts: 3 });
});
afterAll(async () => {
  await w?.close();
});

const drift = (rate: number) => w.control('PATCH', '/__sim/config', { schema_drift_rate: rate });

/** A key synced, deleted and archived while Intercom answered in shape, whose contact drifts this way once drift is on. */
async function archivedHolder(kind: 'wrong_type' | 'unknown_role', wording: 'plain' | 'archived'): Promise<{ key: string; first: number; x: string }> {
  for (let i = 0; i < 30; i++) {
    const key = `drift-${kind}-${wording}-${i}`;
    const first = await insertUser(w, key, 'Old', '+15550001');
    await drainAll(w);
    const x = (await mappingOf(w, 'contact', first))!.intercom_id!;
    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [first]);
    await drainAll(w);
    if (driftOf(x, 1, SEED) === kind) return { key, first, x };
  }
  throw new Error(`no contact of the first 30 drifts as ${kind}`);
}

describe('a re-created key whose archived holder answers in a drifted shape', () => {
  for (const kind of ['wrong_type', 'unknown_role'] as const) {
    for (const wording of ['plain', 'archived'] as const) {
      it(`links it (${kind}, 409 ${wording}): unarchived, the new row's values sent, audited, no dead letter`, async () => {
        await drift(0);
        await w.control('PATCH', '/__sim/config', { conflict_wording: wording });
        const { key, first, x } = await archivedHolder(kind, wording);
        await drift(1);
        try {
          const second = await insertUser(w, key, 'New');
          await drainAll(w);
          expect(await w.sql(`SELECT local_id, last_error FROM intercom.sync_outbox WHERE local_id = ANY($1::bigint[])`, [[first, second]])).toEqual([]);
          const held = await simContactsByExternalId(w, key);
          // The row's values reach Intercom; what it lacks (phone) stays as Intercom holds it.
          expect(held.map((c) => [c.contact.id, c.archived, c.contact.name, c.contact.phone])).toEqual([[x, false, 'New', '+15550001']]);
          expect(await mappingOf(w, 'contact', second)).toMatchObject({ status: 'active', intercom_id: x });
          expect(await mappingOf(w, 'contact', first)).toMatchObject({ status: 'deleted', intercom_id: null });
          const audit = await w.sql<{ action: string; details: Record<string, unknown> }>(
            `SELECT action, details FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push' ORDER BY id`,
            [second],
          );
          expect(audit.map((a) => a.action)).toEqual(['link', 'invalid']);
          expect(audit[0]!.details).toMatchObject({ revived_from_local_id: first, unarchived: true, intercom_id: x, holder_unreadable: true });
        } finally {
          await drift(0);
        }
      });
    }
  }
});
