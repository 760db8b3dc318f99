import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enterSyncApplyMode, withTransaction } from '../../src/db/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

interface OutboxRow {
  entity_type: string;
  local_id: number;
  related_id: number;
  op: string;
  changed_fields: string[];
  version: number;
}

describe('change capture triggers', () => {
  let t: TestDatabase;
  const outbox = async () =>
    (
      await t.pool.query<OutboxRow>(
        `SELECT entity_type, local_id, related_id, op, changed_fields, version FROM intercom.sync_outbox
          WHERE status = 'pending' ORDER BY id`,
      )
    ).rows;

  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });
  beforeEach(async () => {
    await t.pool.query('TRUNCATE intercom.contact_companies, intercom.contacts, intercom.companies, intercom.sync_outbox');
  });

  it('enqueue an insert with the fields it set', async () => {
    const { rows } = await t.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id, email, name) VALUES ('u1', 'u1@example.com', 'Ann') RETURNING id`,
    );
    expect(await outbox()).toEqual([
      {
        entity_type: 'contact',
        local_id: rows[0]!.id,
        related_id: 0,
        op: 'upsert',
        changed_fields: ['custom_attributes', 'email', 'external_id', 'name', 'role', 'unsubscribed_from_emails'],
        version: 1,
      },
    ]);
  });

  it('coalesce repeated updates of one row into one pending entry that accumulates fields', async () => {
    const { rows } = await t.pool.query<{ id: number }>(
      `INSERT INTO intercom.companies (company_id, name) VALUES ('c1', 'Acme') RETURNING id`,
    );
    await t.pool.query(`UPDATE intercom.companies SET name = 'Acme Inc' WHERE id = $1`, [rows[0]!.id]);
    await t.pool.query(`UPDATE intercom.companies SET plan = 'pro' WHERE id = $1`, [rows[0]!.id]);
    await t.pool.query(`UPDATE intercom.companies SET plan = 'pro' WHERE id = $1`, [rows[0]!.id]); // no change
    const entries = await outbox();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.version).toBe(3);
    expect(entries[0]!.changed_fields).toEqual(expect.arrayContaining(['name', 'plan', 'company_id']));
  });

  it('ignore rewrites that change nothing, and changes to columns the sync owns', async () => {
    const { rows } = await t.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id, email) VALUES ('u2', 'u2@example.com') RETURNING id`,
    );
    await t.pool.query('DELETE FROM intercom.sync_outbox');
    await t.pool.query(`UPDATE intercom.contacts SET email = email, intercom_id = 'abc' WHERE id = $1`, [rows[0]!.id]);
    expect(await outbox()).toEqual([]);
  });

  it('enqueue deletes, soft deletes and association changes', async () => {
    const c = await t.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id) VALUES ('u3') RETURNING id`,
    );
    const co = await t.pool.query<{ id: number }>(`INSERT INTO intercom.companies (company_id) VALUES ('c3') RETURNING id`);
    const contactId = c.rows[0]!.id;
    const companyId = co.rows[0]!.id;
    await t.pool.query('DELETE FROM intercom.sync_outbox');
    await t.pool.query(`INSERT INTO intercom.contact_companies (contact_id, company_id) VALUES ($1, $2)`, [contactId, companyId]);
    await t.pool.query(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [contactId]);
    await t.pool.query(`DELETE FROM intercom.companies WHERE id = $1`, [companyId]); // cascades the association
    const entries = await outbox();
    expect(entries.map((e) => [e.entity_type, e.op, e.related_id])).toEqual([
      ['contact_company', 'detach', companyId], // attach then detach, coalesced into one entry
      ['contact', 'upsert', 0],
      ['company', 'delete', 0],
    ]);
    expect(entries[1]!.changed_fields).toEqual(['deleted_at']);
  });

  it('do not enqueue writes made in sync-apply mode, and the mode ends with the transaction', async () => {
    await withTransaction(t.pool, async (tx) => {
      await enterSyncApplyMode(tx);
      await tx.query(`INSERT INTO intercom.contacts (external_id, email) VALUES ('pulled', 'p@example.com')`);
      await tx.query(`UPDATE intercom.contacts SET name = 'From Intercom' WHERE external_id = 'pulled'`);
    });
    expect(await outbox()).toEqual([]);
    // Same pooled connection later, outside apply mode: changes are captured again.
    await t.pool.query(`UPDATE intercom.contacts SET name = 'Local edit' WHERE external_id = 'pulled'`);
    expect((await outbox()).map((e) => e.changed_fields)).toEqual([['name']]);
  });

  it('keep a newer change pending when a worker completes an older version', async () => {
    const { rows } = await t.pool.query<{ id: number }>(`INSERT INTO intercom.contacts (external_id) VALUES ('u4') RETURNING id`);
    const [entry] = (await t.pool.query<{ id: number; version: number }>(`SELECT id, version FROM intercom.sync_outbox`)).rows;
    await t.pool.query(`UPDATE intercom.contacts SET name = 'later' WHERE id = $1`, [rows[0]!.id]);
    const done = await t.pool.query(`DELETE FROM intercom.sync_outbox WHERE id = $1 AND version = $2`, [entry!.id, entry!.version]);
    expect(done.rowCount).toBe(0);
    expect(await outbox()).toHaveLength(1);
  });

  it('maintain updated_at on every update', async () => {
    const { rows } = await t.pool.query<{ id: number; updated_at: Date }>(
      `INSERT INTO intercom.contacts (external_id, updated_at) VALUES ('u5', now() - interval '1 day') RETURNING id, updated_at`,
    );
    const after = await t.pool.query<{ updated_at: Date }>(
      `UPDATE intercom.contacts SET name = 'x' WHERE id = $1 RETURNING updated_at`,
      [rows[0]!.id],
    );
    expect(after.rows[0]!.updated_at.getTime()).toBeGreaterThan(rows[0]!.updated_at.getTime());
  });
});
