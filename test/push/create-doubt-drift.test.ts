/**
 * A create answered 2xx in a drifted shape (the simulator's schemaDriftRate: signed_up_at as a string, a role the
 * description does not list). The contact exists; only its full shape cannot be read. Its id can: the row is linked
 * to it at once (base = what was sent), audited `create` and `invalid`, and never created again — Intercom does not
 * deduplicate leads, so a second create would make a second lead with the same email. Before, the create stayed in
 * doubt for good and ended a dead letter, and the chaos range failed on it (docs/guarantees.md).
 *
 * Deterministic: the simulator's clock is frozen at a fixed second and seeded, so the new contact's id (second,
 * counter, seeded noise) and its drift (a hash of id and seed, src/simulator/realism.ts driftOf) are the same on
 * every run; the test asserts the drift kind so a change of id scheme cannot make it pass vacuously.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { driftOf } from '../../src/simulator/realism.ts';
import { drainAll, pushWorld, type PushWorld } from './helpers.ts';

const MAX_ATTEMPTS = 3;

let w: PushWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function simLeadsByEmail(email: string) {
  const r = await w!.control<{ data: { contact: { id: string; role: string } }[] }>('GET', `/__sim/contacts?email=${encodeURIComponent(email)}`);
  return r.data.filter((c) => c.contact.role === 'lead');
}

describe('a create whose answer drifted', () => {
  // With the clock frozen at this second, the first id of seed 2 drifts 'wrong_type', of seed 1 'unknown_role'.
  it.each([
    { seed: 2, kind: 'wrong_type' },
    { seed: 1, kind: 'unknown_role' },
  ])('($kind, seed $seed) is linked by its readable id, audited, and never created again', async ({ seed, kind }) => {
    w = await pushWorld({ seed, duplicateLeadsAllowed: true }, { maxAttempts: MAX_ATTEMPTS, createLookupDelaySeconds: 0, retryBaseMs: 1 });
    w.sim.state.clock.set(1_780_000_000);
    w.sim.state.clock.freeze(true);
    w.sim.state.applySettings({ schemaDriftRate: 1 });
    const email = 'drifted-lead@example.com';
    const [row] = await w!.sql<{ id: number }>(
      `INSERT INTO intercom.contacts (role, email, name) VALUES ('lead', $1, 'Drifted lead') RETURNING id`,
      [email],
    );
    await drainAll(w);

    const leads = await simLeadsByEmail(email);
    console.log(`seed ${seed}: leads ${leads.map((l) => l.contact.id).join(', ')}`);
    expect(driftOf(leads[0]!.contact.id, 1, seed)).toBe(kind);
    expect(leads).toHaveLength(1);
    const created = leads[0]!.contact.id;

    expect(await w!.sql(`SELECT status, intercom_id FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = $1`, [row!.id])).toEqual([
      { status: 'active', intercom_id: created },
    ]);
    expect(await w!.sql(`SELECT intercom_id FROM intercom.contacts WHERE id = $1`, [row!.id])).toEqual([{ intercom_id: created }]);
    expect(await w!.sql(`SELECT 1 FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = $1`, [row!.id])).toEqual([]);
    expect(await w!.sql(`SELECT 1 FROM intercom.sync_write_doubts WHERE local_id = $1`, [row!.id])).toEqual([]);
    const audit = await w!.sql<{ action: string; intercom_id: string; details: Record<string, unknown> }>(
      `SELECT action, intercom_id, details FROM intercom.audit_log WHERE local_id = $1 ORDER BY id`,
      [row!.id],
    );
    expect(audit.map((a) => [a.action, a.intercom_id])).toEqual([
      ['create', created],
      ['invalid', created],
    ]);
    expect(String(audit[1]!.details.reason)).toMatch(/unexpected body/);

    // The application writes again: the row is linked, so a PUT goes out (no create), Intercom applies it and answers
    // in the same drifted shape. Applied for certain (2xx): audited, agreed, not retried, no dead letter.
    await w!.sql(`UPDATE intercom.contacts SET name = 'Renamed' WHERE id = $1`, [row!.id]);
    await drainAll(w);
    const after = await simLeadsByEmail(email);
    expect(after.map((l) => [l.contact.id, (l.contact as { name?: string }).name])).toEqual([[created, 'Renamed']]);
    expect(await w!.sql(`SELECT status FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = $1`, [row!.id])).toEqual([]);
    expect(await w!.sql(`SELECT 1 FROM intercom.sync_write_doubts WHERE local_id = $1`, [row!.id])).toEqual([]);
    const updates = await w!.sql<{ action: string; changes: Record<string, unknown> }>(
      `SELECT action, changes FROM intercom.audit_log WHERE local_id = $1 AND action = 'update'`,
      [row!.id],
    );
    expect(updates).toEqual([{ action: 'update', changes: { name: { before: 'Drifted lead', after: 'Renamed' } } }]);
  });

  // Chaos seed 7 with drift on: the create's answer was lost (the connection dropped after Intercom applied it), and the
  // email search that resolves the doubt found the lead in a drifted shape. Before, that unreadable match blocked the
  // doubt for good (a dead letter); it is the one contact the search found, so it is linked by its readable id.
  it('a create in doubt found by the email search in a drifted shape is linked, not created again', async () => {
    w = await pushWorld({ seed: 2, duplicateLeadsAllowed: true }, { maxAttempts: MAX_ATTEMPTS, createLookupDelaySeconds: 0, retryBaseMs: 1 });
    w.sim.state.clock.set(1_780_000_000);
    w.sim.state.clock.freeze(true);
    w.sim.state.applySettings({ schemaDriftRate: 1 });
    await w.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts', kind: 'drop', after_apply: true, count: 1 });
    const email = 'lost-drifted@example.com';
    const [row] = await w!.sql<{ id: number }>(`INSERT INTO intercom.contacts (role, email, name) VALUES ('lead', $1, 'Lost') RETURNING id`, [email]);
    await drainAll(w);

    const leads = await simLeadsByEmail(email);
    expect(leads).toHaveLength(1);
    expect(driftOf(leads[0]!.contact.id, 1, 2)).not.toBeNull();
    expect(await w!.sql(`SELECT status, intercom_id FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = $1`, [row!.id])).toEqual([
      { status: 'active', intercom_id: leads[0]!.contact.id },
    ]);
    expect(await w!.sql(`SELECT 1 FROM intercom.sync_outbox WHERE local_id = $1`, [row!.id])).toEqual([]);
    expect(await w!.sql(`SELECT 1 FROM intercom.sync_write_doubts WHERE local_id = $1`, [row!.id])).toEqual([]);
    const audit = await w!.sql<{ action: string }>(`SELECT action FROM intercom.audit_log WHERE local_id = $1 ORDER BY id`, [row!.id]);
    expect(audit.map((a) => a.action)).toEqual(['create', 'invalid']);
  });
});
