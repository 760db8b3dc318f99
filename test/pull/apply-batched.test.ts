import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPullStore } from '../../src/db/queries/pull.ts';
import type { IntercomContact } from '../../src/intercom/payloads.ts';
import { contactFromRemote, snapshotHash } from '../../src/sync/snapshot.ts';
import type { ConflictPolicy } from '../../src/sync/three-way-merge.ts';
import { guarded } from '../../src/sync/pull/contact-page.ts';
import { applyContact, remoteSnapshot, type PulledContact } from '../../src/sync/pull/apply-contacts.ts';
import { applyContactsBatched } from '../../src/sync/pull/apply-contacts-batch.ts';
import type { RunDeps } from '../../src/sync/pull/run-deps.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silent } from './helpers.ts';

// The batched apply of changed contacts must decide exactly as the per-record path: same rows, same mappings, same
// associations, same audit rows. Two databases get the same generated state (linked contacts, some edited locally
// with a pending push, companies attached or not) and the same pulled page; one applies it record by record, the
// other batched; then every table is compared.
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const COMPANIES = 4;

let a: TestDatabase;
let b: TestDatabase;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

const names = fc.constantFrom('Ada', 'Grace', 'Alan', null);
const field = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const contactArb = fc.record({
  base: fc.record({ name: names, phone: fc.constantFrom('+1 555', '+44 20', null), plan: fc.constantFrom('free', 'pro'), vip: fc.boolean() }),
  // undefined = the side left the field alone.
  local: fc.record({ name: field(names), phone: field(fc.constantFrom('+1 555', '+49 30', null)), plan: field(fc.constantFrom('free', 'team')) }),
  remote: fc.record({ name: field(names), phone: field(fc.constantFrom('+1 555', '+33 1', null)), vip: field(fc.boolean()) }),
  localAfterRemote: fc.boolean(),
  deleted: fc.boolean(),
  companies: fc.option(fc.subarray([...Array(COMPANIES).keys()]), { nil: null }),
  attached: fc.subarray([...Array(COMPANIES).keys()]),
  pendingAttach: fc.option(fc.nat(COMPANIES - 1), { nil: null }),
});
type GenContact = typeof contactArb extends fc.Arbitrary<infer T> ? T : never;
type Gen = fc.Arbitrary<{ contacts: GenContact[]; policy: ConflictPolicy }>;
const scenario: Gen = fc.record({
  contacts: fc.array(contactArb, { minLength: 2, maxLength: 12 }),
  policy: fc.constantFrom<ConflictPolicy>('newest_wins', 'local_wins', 'remote_wins'),
});

const T0 = 1_750_000_000;

/** The same state in one database: linked companies and contacts, local edits (some pending), associations. */
async function setUp(db: TestDatabase, s: GenContact[]): Promise<void> {
  await db.pool.query(
    `TRUNCATE intercom.contacts, intercom.companies, intercom.contact_companies, intercom.sync_mappings, intercom.sync_outbox,
              intercom.audit_log RESTART IDENTITY CASCADE`,
  );
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query(`SELECT set_config('intercom_sync.applying', 'on', true)`);
    for (let k = 0; k < COMPANIES; k++) {
      await c.query(`INSERT INTO intercom.companies (id, company_id, name, intercom_id) VALUES ($1, $2, $3, $4)`, [k + 1, `co-${k}`, `Co ${k}`, `ic${k}`]);
      await c.query(
        `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, external_key, status, base_snapshot, base_hash, remote_updated_at)
         VALUES ('company', $1, $2, $3, 'active', NULL, NULL, to_timestamp($4))`,
        [k + 1, `ic${k}`, `co-${k}`, T0],
      );
    }
    for (let i = 0; i < s.length; i++) {
      const g = s[i]!;
      const snap = {
        external_id: `u-${i}`, email: `u${i}@example.com`, phone: g.base.phone, name: g.base.name,
        custom_attributes: { plan: g.base.plan, vip: g.base.vip },
      };
      // The base as the pull stores it: the snapshot of what Intercom held.
      const snapshot = contactFromRemote(remoteContact(i, { name: g.base.name, phone: g.base.phone, custom: snap.custom_attributes }));
      await c.query(
        `INSERT INTO intercom.contacts (id, external_id, role, email, phone, name, custom_attributes, intercom_id, remote_updated_at, updated_at)
         VALUES ($1, $2, 'user', $3, $4, $5, $6::jsonb, $7, to_timestamp($8), to_timestamp($9))`,
        [i + 1, snap.external_id, snap.email, snap.phone, snap.name, JSON.stringify(snap.custom_attributes), `ct${i}`, T0, T0],
      );
      await c.query(
        `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, external_key, status, base_snapshot, base_hash, remote_updated_at)
         VALUES ('contact', $1, $2, $3, 'active', $4::jsonb, $5, to_timestamp($6))`,
        [i + 1, `ct${i}`, snap.external_id, JSON.stringify(snapshot), snapshotHash(snapshot), T0],
      );
      for (const k of g.attached) await c.query(`INSERT INTO intercom.contact_companies VALUES ($1, $2)`, [i + 1, k + 1]);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  } finally {
    c.release();
  }
  // Local edits outside sync-apply mode: the triggers enqueue them, as an application's writes would be.
  for (let i = 0; i < s.length; i++) {
    const l = s[i]!.local;
    const sets: string[] = [];
    const vals: unknown[] = [i + 1];
    if (l.name !== undefined) sets.push(`name = $${vals.push(l.name)}`);
    if (l.phone !== undefined) sets.push(`phone = $${vals.push(l.phone)}`);
    if (l.plan !== undefined) sets.push(`custom_attributes = custom_attributes || jsonb_build_object('plan', $${vals.push(l.plan)}::text)`);
    if (s[i]!.deleted) sets.push('deleted_at = to_timestamp(1750000100)');
    if (sets.length > 0) {
      sets.push(`updated_at = to_timestamp($${vals.push(s[i]!.localAfterRemote ? T0 + 900 : T0 + 300)})`);
      await db.pool.query(`UPDATE intercom.contacts SET ${sets.join(', ')} WHERE id = $1`, vals);
    }
    const pa = s[i]!.pendingAttach;
    if (pa !== null && !s[i]!.attached.includes(pa)) await db.pool.query(`INSERT INTO intercom.contact_companies VALUES ($1, $2)`, [i + 1, pa + 1]);
  }
}

function remoteContact(i: number, v: { name: string | null; phone: string | null; custom: Record<string, unknown> }, updatedAt = T0): IntercomContact {
  return {
    id: `ct${i}`, externalId: `u-${i}`, role: 'user', email: `u${i}@example.com`, phone: v.phone, name: v.name,
    ownerId: null, unsubscribedFromEmails: false, customAttributes: v.custom, signedUpAt: null, lastSeenAt: null,
    createdAt: T0 - 86_400, updatedAt, companies: { ids: [], hasMore: false, totalCount: 0 }, tags: [], raw: null,
  };
}

function page(s: GenContact[]): PulledContact[] {
  return s.map((g, i) => {
    const r = g.remote;
    const contact = remoteContact(
      i,
      {
        name: r.name === undefined ? g.base.name : r.name,
        phone: r.phone === undefined ? g.base.phone : r.phone,
        custom: { plan: g.base.plan, vip: r.vip ?? g.base.vip },
      },
      T0 + 600,
    );
    return { contact, companyIds: g.companies === null ? null : g.companies.map((k: number) => `ic${k}`), ...remoteSnapshot(contact) };
  });
}

async function snapshotOf(db: TestDatabase): Promise<unknown> {
  const q = async (sql: string) => (await db.pool.query(sql)).rows;
  return {
    contacts: await q(`SELECT id, external_id, role, email, phone, name, custom_attributes, deleted_at, intercom_id, remote_updated_at
                         FROM intercom.contacts ORDER BY id`),
    mappings: await q(`SELECT entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into, base_snapshot, base_hash,
                              remote_updated_at FROM intercom.sync_mappings ORDER BY entity_type, local_id`),
    associations: await q(`SELECT contact_id, company_id FROM intercom.contact_companies ORDER BY 1, 2`),
    outbox: await q(`SELECT entity_type, local_id, related_id, status FROM intercom.sync_outbox ORDER BY 1, 2, 3`),
    audit: await q(`SELECT direction, entity_type, local_id, intercom_id, external_key, action, changes, details
                      FROM intercom.audit_log ORDER BY id`),
  };
}

describe('batched apply of changed contacts', () => {
  it(`merges, writes and audits exactly as the per-record path (property, seed ${SEED})`, { timeout: 600_000 }, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(scenario, async ({ contacts, policy }) => {
        await Promise.all([setUp(a, contacts), setUp(b, contacts)]);
        const pulled = page(contacts);
        const run = async (db: TestDatabase, batched: boolean) => {
          const store = createPullStore(db.pool, db.schema);
          const ctx = { runId: null, policy, logger: silent };
          const deps = { gateway: null as never, store, logger: silent, ctx, inFlight: () => 1, timezone: async () => 'UTC' } satisfies RunDeps;
          return store.applyTransaction(async (tx) => {
            const guard = (p: PulledContact, fn: () => Promise<never>) => guarded(tx, deps, 'contact', p.contact.id, p.contact.updatedAt, fn);
            if (batched) return (await applyContactsBatched(tx, pulled, ctx, guard as never)).map((x) => [x.contact.id, x.outcome] as const);
            const out: (readonly [string, string])[] = [];
            for (const p of pulled) out.push([p.contact.id, await guard(p, (() => applyContact(tx, p, ctx)) as never)] as const);
            return out;
          });
        };
        const perRecord = await run(a, false);
        const batch = await run(b, true);
        for (const [, o] of batch) seen.add(o);
        expect(new Map(batch)).toEqual(new Map(perRecord));
        expect(await snapshotOf(b)).toEqual(await snapshotOf(a));
      }),
      { numRuns: 40, seed: SEED },
    );
    // The runs exercised the merge, not only its trivial cases.
    expect([...seen].sort()).toEqual(expect.arrayContaining(['conflict', 'updated']));
  });
});
