import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

/** Applications write these tables with plain SQL; a bad row must fail with a constraint name that says why. */
describe('constraints on the interface tables', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  const cases: [string, string, string][] = [
    ['invalid email', `INSERT INTO intercom.contacts (email) VALUES ('not-an-email')`, 'contacts_email_format_check'],
    ['unknown role', `INSERT INTO intercom.contacts (role, email) VALUES ('admin', 'a@example.com')`, 'contacts_role_check'],
    ['blank external_id', `INSERT INTO intercom.contacts (external_id) VALUES ('  ')`, 'contacts_external_id_not_blank_check'],
    ['custom attributes not an object', `INSERT INTO intercom.contacts (custom_attributes) VALUES ('[1,2]')`, 'contacts_custom_attributes_object_check'],
    ['blank company_id', `INSERT INTO intercom.companies (company_id) VALUES ('')`, 'companies_company_id_not_blank_check'],
    ['negative size', `INSERT INTO intercom.companies (company_id, size) VALUES ('c-neg', -1)`, 'companies_size_check'],
    ['monthly_spend above Intercom limit', `INSERT INTO intercom.companies (company_id, monthly_spend) VALUES ('c-big', 2147483648)`, 'companies_monthly_spend_check'],
  ];

  it.each(cases)('reject %s with a named constraint', async (_label, sql, constraint) => {
    await expect(t.pool.query(sql)).rejects.toMatchObject({ constraint });
  });

  it('reject a duplicate external_id but allow many contacts without one', async () => {
    await t.pool.query(`INSERT INTO intercom.contacts (external_id) VALUES ('dup')`);
    await expect(t.pool.query(`INSERT INTO intercom.contacts (external_id) VALUES ('dup')`)).rejects.toMatchObject({
      constraint: 'contacts_external_id_key',
    });
    await t.pool.query(`INSERT INTO intercom.contacts (role, email) VALUES ('lead', 'l1@example.com'), ('lead', 'l2@example.com')`);
  });

  it('apply defaults that make plain inserts pleasant', async () => {
    const { rows } = await t.pool.query(
      `INSERT INTO intercom.contacts (external_id) VALUES ('defaults') RETURNING role, custom_attributes, unsubscribed_from_emails, deleted_at`,
    );
    expect(rows[0]).toEqual({ role: 'user', custom_attributes: {}, unsubscribed_from_emails: false, deleted_at: null });
  });
});
