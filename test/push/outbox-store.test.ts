import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dedicatedClient } from '../../src/db/client.ts';
import { createOutboxListen } from '../../src/db/listen.ts';
import { createPushStore } from '../../src/db/queries/outbox.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import type { PushStore } from '../../src/db/queries/outbox.ts';
import { silent } from './helpers.ts';

let db: TestDatabase;
let store: PushStore;
const sql = async <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
  (await db.pool.query<T>(text, values)).rows;
const noWrite = { expectBaseHash: null, guard: null, mappings: [], localPatches: [], audit: [] };

beforeAll(async () => {
  db = await createTestDatabase();
  store = createPushStore(db.pool, db.schema);
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await sql(`TRUNCATE intercom.sync_outbox, intercom.sync_mappings, intercom.audit_log, intercom.contacts CASCADE`);
});

async function insertContacts(n: number): Promise<number[]> {
  const rows = await sql<{ id: number }>(
    `INSERT INTO intercom.contacts (external_id, name) SELECT 'x' || g, 'n' FROM generate_series(1, $1::int) g RETURNING id`,
    [n],
  );
  return rows.map((r) => r.id);
}

describe('outbox store', () => {
  it('concurrent claims never hand the same entry to two workers', async () => {
    await insertContacts(200);
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claim(`w${i}`, 40, 60)));
    const ids = claims.flat().map((e) => e.id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    // Leased entries are not due for anyone else.
    expect(await store.claim('late', 50, 60)).toEqual([]);
  });

  it('an expired lease makes the entry claimable again', async () => {
    await insertContacts(1);
    const [first] = await store.claim('dead-worker', 10, 60);
    await sql(`UPDATE intercom.sync_outbox SET locked_until = now() - interval '1 second'`);
    const [again] = await store.claim('next', 10, 60);
    expect(again?.id).toBe(first!.id);
  });

  it('completion deletes only the claimed version; a newer change stays pending and claimable', async () => {
    const [id] = await insertContacts(1);
    const [entry] = await store.claim('w', 10, 60);
    await sql(`UPDATE intercom.contacts SET name = 'newer' WHERE id = $1`, [id]);
    expect(await store.finish(entry!, 'w', noWrite)).toBe('superseded');
    const [again] = await store.claim('w', 10, 60);
    expect(again).toMatchObject({ id: entry!.id, version: entry!.version + 1 });
    expect(again!.changedFields).toContain('name');
    expect(await store.finish(again!, 'w', noWrite)).toBe('done');
    expect(await sql(`SELECT 1 FROM intercom.sync_outbox`)).toEqual([]);
  });

  it('a result computed from a base that pull replaced meanwhile is not written (stale), no attempt counted', async () => {
    const [id] = await insertContacts(1);
    await sql(
      `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, status, base_hash) VALUES ('contact', $1, 'ic1', 'active', 'h1')`,
      [id],
    );
    const [entry] = await store.claim('w', 10, 60);
    await sql(`UPDATE intercom.sync_mappings SET base_hash = 'h2'`);
    const r = await store.finish(entry!, 'w', {
      ...noWrite,
      expectBaseHash: 'h1',
      guard: { entity: 'contact', localId: id! },
      audit: [{ runId: null, direction: 'push', entityType: 'contact', localId: id!, intercomId: 'ic1', externalKey: null, action: 'update' }],
    });
    expect(r).toBe('stale');
    expect(await sql(`SELECT attempts, locked_by FROM intercom.sync_outbox`)).toEqual([{ attempts: 0, locked_by: null }]);
    expect(await sql(`SELECT 1 FROM intercom.audit_log`)).toEqual([]);
  });

  it('retryLater counts attempts and backs off; a deferral does not count', async () => {
    await insertContacts(1);
    const [entry] = await store.claim('w', 10, 60);
    await store.retryLater(entry!, 'w', { delayMs: 60_000, countAttempt: true, error: 'boom' });
    expect(await store.claim('w', 10, 60)).toEqual([]);
    const [row] = await sql<{ attempts: number; last_error: string; later: boolean }>(
      `SELECT attempts, last_error, next_attempt_at > now() + interval '50 seconds' AS later FROM intercom.sync_outbox`,
    );
    expect(row).toEqual({ attempts: 1, last_error: 'boom', later: true });
    await sql(`UPDATE intercom.sync_outbox SET next_attempt_at = now()`);
    const [e2] = await store.claim('w', 10, 60);
    await store.retryLater(e2!, 'w', { delayMs: 0, countAttempt: false });
    expect((await sql<{ attempts: number }>(`SELECT attempts FROM intercom.sync_outbox`))[0]!.attempts).toBe(1);
  });

  it('requeue revives dead letters, folding one into a newer pending entry of the same row', async () => {
    const [a, b] = await insertContacts(2);
    const entries = await store.claim('w', 10, 60);
    for (const e of entries) {
      await store.dead(e, 'w', 'bad', {}, { runId: null, direction: 'push', entityType: 'contact', localId: e.localId, intercomId: null, externalKey: null, action: 'invalid' });
    }
    await sql(`UPDATE intercom.contacts SET name = 'fixed' WHERE id = $1`, [b]);
    expect(await store.requeueDead({}, null)).toBe(2);
    const rows = await sql<{ local_id: number; status: string; attempts: number }>(
      `SELECT local_id, status, attempts FROM intercom.sync_outbox ORDER BY local_id`,
    );
    expect(rows).toEqual([
      { local_id: a, status: 'pending', attempts: 0 },
      { local_id: b, status: 'pending', attempts: 0 },
    ]);
  });

  it('enqueueUnlinked queues rows without a link (and their associations), once', async () => {
    const [a, b] = await insertContacts(2);
    const [co] = await sql<{ id: number }>(`INSERT INTO intercom.companies (company_id) VALUES ('c1') RETURNING id`);
    await sql(`INSERT INTO intercom.contact_companies VALUES ($1, $2)`, [a, co!.id]);
    await sql(`DELETE FROM intercom.sync_outbox`);
    await sql(
      `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, status) VALUES ('contact', $1, 'ic', 'active')`,
      [b],
    );
    expect(await store.enqueueUnlinked()).toBe(3);
    expect(await store.enqueueUnlinked()).toBe(0);
    const rows = await sql<{ entity_type: string; local_id: number }>(
      `SELECT entity_type, local_id FROM intercom.sync_outbox ORDER BY entity_type`,
    );
    expect(rows).toEqual([
      { entity_type: 'company', local_id: co!.id },
      { entity_type: 'contact', local_id: a },
      { entity_type: 'contact_company', local_id: a },
    ]);
  });

  it('reservePendingMapping is fresh once, then says a create may have happened', async () => {
    const [a] = await insertContacts(1);
    expect((await store.reservePendingMapping('contact', a!, 'x1')).fresh).toBe(true);
    expect((await store.reservePendingMapping('contact', a!, 'x1')).fresh).toBe(false);
  });

  it('an outbox change wakes the LISTEN of this schema', async () => {
    let woke = 0;
    let resolve!: () => void;
    const first = new Promise<void>((r) => (resolve = r));
    const listen = createOutboxListen({ connect: dedicatedClient(db.url, 'store listen test'), schema: db.schema, logger: silent });
    const unlisten = await listen(() => {
      woke++;
      resolve();
    });
    await insertContacts(1);
    await first;
    await unlisten();
    expect(woke).toBeGreaterThanOrEqual(1);
  });
});
