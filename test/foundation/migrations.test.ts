import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/client.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('apply to an empty schema, then are a no-op', async () => {
    const first = await runMigrations(t.pool, 'fresh_schema');
    expect(first.applied.length).toBeGreaterThanOrEqual(2);
    const second = await runMigrations(t.pool, 'fresh_schema');
    expect(second).toEqual({ applied: [], alreadyApplied: first.applied.length });
    const { rows } = await t.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'fresh_schema' ORDER BY 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'api_usage',
        'audit_log',
        'companies',
        'contact_companies',
        'contacts',
        'schema_migrations',
        'sync_mappings',
        'sync_outbox',
        'sync_runs',
        'sync_state',
      ]),
    );
  });

  it('re-target every object to the configured schema, leaving the default schema alone', async () => {
    await runMigrations(t.pool, 'tenant_b');
    await t.pool.query(`INSERT INTO tenant_b.contacts (external_id, email) VALUES ('u-1', 'a@example.com')`);
    const outbox = await t.pool.query(`SELECT entity_type FROM tenant_b.sync_outbox`);
    expect(outbox.rows).toEqual([{ entity_type: 'contact' }]);
    const other = await t.pool.query(`SELECT count(*)::int AS n FROM intercom.sync_outbox`);
    expect(other.rows[0]).toEqual({ n: 0 });
  });

  it('serialise concurrent runners (two replicas starting at once)', async () => {
    const pools = [createPool(t.url, 2), createPool(t.url, 2), createPool(t.url, 2)];
    try {
      const results = await Promise.all(pools.map((p) => runMigrations(p, 'raced')));
      const appliedCounts = results.map((r) => r.applied.length).sort();
      // Exactly one runner did the work; the others found it done.
      expect(appliedCounts.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      await Promise.all(pools.map((p: pg.Pool) => p.end()));
    }
  });
});
