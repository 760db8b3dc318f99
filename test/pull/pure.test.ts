import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startOfLocalDay as simStartOfDay, startOfNextLocalDay as simNextDay } from '../../src/simulator/timezone.ts';
import { actionForFound, decideLink, resolveMissingContact } from '../../src/sync/identity.ts';
import { isLastPage, searchWindow, startOfLocalDay } from '../../src/sync/pull/pull-window.ts';
import type { ContactSnapshot } from '../../src/sync/snapshot.ts';
import { threeWayMerge } from '../../src/sync/three-way-merge.ts';
import { reconcile } from '../../src/sync/pull/reconcile.ts';
import { fieldChanges } from '../../src/sync/snapshot.ts';
import type { IntercomContact } from '../../src/intercom/payloads.ts';

const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Santiago', 'Australia/Lord_Howe', 'Pacific/Apia'];

describe('search window', () => {
  it('covers exactly the floor day onwards under Intercom day semantics ("> v" starts at the next local midnight)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_500_000_000, max: 1_900_000_000 }),
        fc.integer({ min: 0, max: 7200 }),
        fc.constantFrom(...ZONES),
        (wm, lookback, tz) => {
          const w = searchWindow(wm, lookback, tz);
          expect(w.floor).toBe(wm - lookback);
          // What the simulator (and Intercom) match for `updated_at > queryValue`: from the next local midnight on.
          const matchedFrom = simNextDay(w.queryValue, tz);
          expect(matchedFrom).toBeLessThanOrEqual(w.floor);
          // …and no earlier than the start of the floor's own day: at most one local day is re-read.
          expect(matchedFrom).toBe(simStartOfDay(w.floor, tz));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('finds local midnight across DST changes, including zones where midnight is skipped', () => {
    // Found by this property: Santiago skipped 00:00 on 2017-08-13, so that day began at 01:00 local (04:00Z).
    expect(startOfLocalDay(1_502_643_356, 'America/Santiago')).toBe(1_502_596_800);
    expect(simStartOfDay(1_502_643_356, 'America/Santiago')).toBe(1_502_596_800);
    fc.assert(
      fc.property(fc.integer({ min: 1_500_000_000, max: 1_900_000_000 }), fc.constantFrom(...ZONES), (t, tz) => {
        expect(startOfLocalDay(t, tz)).toBe(simStartOfDay(t, tz));
      }),
      { numRuns: 400 },
    );
  });

  it('stops paging once the oldest item of a page is below the floor', () => {
    expect(isLastPage({ data: [{ updatedAt: 10 }, { updatedAt: 5 }], nextCursor: 'x' }, 6)).toBe(true);
    expect(isLastPage({ data: [{ updatedAt: 10 }, { updatedAt: 6 }], nextCursor: 'x' }, 6)).toBe(false);
    expect(isLastPage({ data: [{ updatedAt: 10 }], nextCursor: null }, 6)).toBe(true);
    expect(isLastPage({ data: [], nextCursor: 'x' }, 6)).toBe(true);
  });
});

const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 3 }));
const snap = fc.record({
  external_id: fc.constantFrom('e1', 'e2', null),
  role: fc.constantFrom('user' as const, 'lead' as const),
  email: fc.constantFrom('a@x.io', 'b@x.io', null),
  phone: fc.constant(null),
  name: fc.constantFrom('Ann', 'Bob', 'Cid', null),
  owner_id: fc.constantFrom(1, 2, null),
  unsubscribed_from_emails: fc.boolean(),
  signed_up_at: fc.constantFrom(100, 200, null),
  last_seen_at: fc.constant(null),
  custom_attributes: fc.dictionary(fc.constantFrom('k1', 'k2', 'k3'), value.filter((v) => v !== null)),
}) as fc.Arbitrary<ContactSnapshot>;
const policy = fc.constantFrom('newest_wins' as const, 'local_wins' as const, 'remote_wins' as const);

describe('three-way merge', () => {
  const merge = (base: ContactSnapshot | null, local: ContactSnapshot, remote: ContactSnapshot, p: 'newest_wins' | 'local_wins' | 'remote_wins', l = 0, r = 0) =>
    threeWayMerge({ base, local, remote, policy: p, localUpdatedAtMs: l, remoteUpdatedAtMs: r });

  it('takes remote when only remote changed, keeps local when only local changed', () => {
    fc.assert(
      fc.property(snap, snap, policy, (base, other, p) => {
        expect(merge(base, base, other, p)).toEqual({ merged: other, conflicts: [] });
        expect(merge(base, other, base, p)).toEqual({ merged: other, conflicts: [] });
      }),
    );
  });

  it('every field equals one side; conflicts are exactly the fields both changed differently; policy picks the winner', () => {
    fc.assert(
      fc.property(snap, snap, snap, policy, fc.integer(), fc.integer(), (base, local, remote, p, lt, rt) => {
        const { merged, conflicts } = merge(base, local, remote, p, lt, rt);
        const winner = p === 'local_wins' ? 'local' : p === 'remote_wins' ? 'remote' : lt > rt ? 'local' : 'remote';
        const J = (v: unknown) => JSON.stringify(v ?? null);
        for (const f of Object.keys(base) as (keyof ContactSnapshot)[]) {
          if (f === 'custom_attributes') continue;
          const bothChanged = J(local[f]) !== J(base[f]) && J(remote[f]) !== J(base[f]) && J(local[f]) !== J(remote[f]);
          expect(conflicts.some((c) => c.field === f)).toBe(bothChanged);
          if (bothChanged) expect(J(merged[f])).toBe(J(winner === 'local' ? local[f] : remote[f]));
          else if (J(local[f]) !== J(base[f])) expect(J(merged[f])).toBe(J(local[f]));
          else expect(J(merged[f])).toBe(J(remote[f]));
        }
        for (const c of conflicts) expect(c.winner).toBe(winner);
      }),
    );
  });

  it('merges custom attributes key by key', () => {
    const base = { k1: 'a', k2: 'b' };
    const r = threeWayMerge({
      base: { custom_attributes: base } as unknown as ContactSnapshot,
      local: { custom_attributes: { k1: 'L', k2: 'b' } } as unknown as ContactSnapshot,
      remote: { custom_attributes: { k1: 'a', k2: 'R', k3: 'new' } } as unknown as ContactSnapshot,
      policy: 'newest_wins',
      localUpdatedAtMs: 0,
      remoteUpdatedAtMs: 0,
    });
    expect(r.merged.custom_attributes).toEqual({ k1: 'L', k2: 'R', k3: 'new' });
    expect(r.conflicts).toEqual([]);
  });

  it('with no base, every difference is a conflict decided by the policy', () => {
    fc.assert(
      fc.property(snap, snap, (local, remote) => {
        const { merged } = merge(null, local, remote, 'local_wins');
        expect(merged).toEqual(merge(null, local, local, 'remote_wins').merged);
      }),
    );
  });
});

const contact = (id: string, role: 'user' | 'lead', email: string | null, externalId: string | null = null) =>
  ({ id, role, email, externalId }) as IntercomContact;

describe('identity decisions', () => {
  it('external_id first, then a single email match (users preferred for a lead), else gone or ambiguous', async () => {
    const port = (byExt: IntercomContact | null, byEmail: IntercomContact[]) => ({
      findContactByExternalId: async () => byExt,
      searchContactsByEmail: async () => byEmail,
    });
    const known = { intercomId: 'old', externalId: 'x', email: 'a@x.io', role: 'user' as const };
    expect(await resolveMissingContact(port(contact('new', 'user', null, 'x'), []), known)).toMatchObject({ kind: 'found', via: 'external_id' });
    expect(await resolveMissingContact(port(null, [contact('u', 'user', 'a@x.io')]), known)).toMatchObject({ kind: 'found', via: 'email' });
    expect(await resolveMissingContact(port(null, []), known)).toEqual({ kind: 'gone' });
    expect(await resolveMissingContact(port(null, [contact('a', 'user', 'a@x.io'), contact('b', 'user', 'a@x.io')]), known)).toEqual({
      kind: 'ambiguous',
      candidates: ['a', 'b'],
    });
    const lead = { ...known, externalId: null, role: 'lead' as const };
    expect(await resolveMissingContact(port(null, [contact('l2', 'lead', 'a@x.io'), contact('u', 'user', 'a@x.io')]), lead)).toMatchObject({
      kind: 'found',
      contact: { id: 'u' },
    });
    // The id that answered 404 is never its own survivor.
    expect(await resolveMissingContact(port(contact('old', 'user', null, 'x'), [contact('old', 'user', 'a@x.io')]), known)).toEqual({ kind: 'gone' });
  });

  it('merged when another local row owns the survivor, otherwise relink; link only on a single candidate', () => {
    expect(actionForFound(1, 2)).toEqual({ kind: 'merged', intoLocalId: 2 });
    expect(actionForFound(1, null)).toEqual({ kind: 'relink' });
    expect(actionForFound(1, 1)).toEqual({ kind: 'relink' });
    expect(decideLink([])).toEqual({ kind: 'create' });
    expect(decideLink([7])).toEqual({ kind: 'link', row: 7 });
    expect(decideLink([7, 8])).toEqual({ kind: 'ambiguous', rows: [7, 8] });
  });
});

describe('reconcile: a push that reached Intercom but died before recording it', () => {
  it('reports exactly the fields Intercom moved from the base to the pending local value', () => {
    fc.assert(
      fc.property(snap, snap, policy, (base, local, p) => {
        // Intercom already holds the local change: remote == local.
        const r = reconcile({ local, remote: local, base, pendingLocalChange: true, policy: p, localUpdatedAtMs: 0, remoteUpdatedAtMs: 0 });
        expect(r.changes).toEqual({});
        expect(r.alreadyPushed).toEqual(fieldChanges(base, local));
        // Without a pending local change there is nothing of ours to account for.
        const quiet = reconcile({ local, remote: local, base, pendingLocalChange: false, policy: p, localUpdatedAtMs: 0, remoteUpdatedAtMs: 0 });
        expect(quiet.alreadyPushed).toEqual({});
      }),
    );
  });
});
