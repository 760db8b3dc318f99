/**
 * A create answered 2xx in a drifted shape (the simulator's schemaDriftRate: signed_up_at as a string, a role the
 * description does not list) is rightly left in doubt: the body could not be read. The email search that resolves the
 * doubt then meets the same unreadable record among its results (page.invalid). That is not a positive "nothing
 * there": Intercom does not deduplicate leads, so creating again makes a second lead with the same email.
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
  ])('($kind, seed $seed) is never created again because the lookup could not read what it found; the dead letter names the id', async ({ seed, kind }) => {
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
    const [dead] = await w!.sql<{ status: string; last_error: string }>(
      `SELECT status, last_error FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = $1`,
      [row!.id],
    );
    expect(dead?.status).toBe('dead');
    expect(dead?.last_error).toContain(created);
    expect(dead?.last_error).toMatch(/could not read/);
    // The doubt stays: an operator (or a later fix of the payload reader) can still link the contact it made.
    expect(await w!.sql(`SELECT op FROM intercom.sync_write_doubts WHERE local_id = $1`, [row!.id])).toEqual([{ op: 'create' }]);
  });
});
