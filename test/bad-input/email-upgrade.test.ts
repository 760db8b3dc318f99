import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchEngines, drainAll, UNLIMITED_RATE, type BenchEngines } from '../../bench/lib/engines.ts';
import { MIGRATIONS_DIR, runMigrations } from '../../src/db/migrate.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

/**
 * Upgrading a database whose contacts hold addresses the new email check refuses (written under 0005's check, which
 * let invisible characters through): the migration must not fail on them, every new write is checked at once, the
 * stored rows surface on push as dead letters naming the character, and the query docs/guarantees.md gives lists
 * them, so that the constraint can be validated once they are fixed.
 */
const logger = pino({ level: 'silent' });
let db: TestDatabase;
let sim: RunningSimulator;
let engines: BenchEngines;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
  engines = benchEngines({ pool: db.pool, databaseUrl: db.url, simUrl: sim.url, token: sim.token, ratePerMinute: UNLIMITED_RATE, logger });
});

afterAll(async () => {
  await engines?.close();
  await sim?.close();
  await db?.drop();
});

const LEGACY = [
  { externalId: 'legacy-zwsp', email: 'ann\u200bsmith@example.com', problem: 'invisible format character U+200B at character 4 of 21' },
  { externalId: 'legacy-nel', email: 'bob@example.com\u0085', problem: 'control character U+0085 at character 16 of 16' },
  { externalId: 'legacy-rlo', email: 'eve\u202e@example.com', problem: 'invisible format character U+202E at character 4 of 16' },
];

/** The query docs/guarantees.md gives for listing the rows the check refuses (the sql block naming the check). */
async function documentedQuery(): Promise<string> {
  const doc = await readFile(new URL('../../docs/guarantees.md', import.meta.url), 'utf8');
  const block = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('-- rows the email check refuses'));
  if (!block) throw new Error('docs/guarantees.md has no sql block listing the rows the email check refuses');
  return block;
}

describe('upgrading over stored addresses the new email check refuses', () => {
  it('migrates, checks new writes, dead-letters the stored rows by name and lists them for the follow-up', async () => {
    // The database as 0008 left it: 0005's check, and rows it allowed.
    const old = await readFile(`${MIGRATIONS_DIR}/0005_email_check_spelled_out.sql`, 'utf8');
    for (const statement of old.split('--> statement-breakpoint')) await db.pool.query(statement);
    await db.pool.query(`DELETE FROM intercom.schema_migrations WHERE tag = '0009_email_invisible_chars'`);
    const ids = new Map<string, number>();
    for (const l of LEGACY) {
      const { rows } = await db.pool.query<{ id: number }>(
        `INSERT INTO intercom.contacts (external_id, email) VALUES ($1, $2) RETURNING id`,
        [l.externalId, l.email],
      );
      ids.set(l.externalId, rows[0]!.id);
    }
    const { rows: goodRows } = await db.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id, email) VALUES ('upgrade-good', 'good@example.com') RETURNING id`,
    );

    const result = await runMigrations(db.pool, 'intercom');
    expect(result.applied).toEqual(['0009_email_invisible_chars']);
    const { rows: con } = await db.pool.query<{ convalidated: boolean }>(
      `SELECT convalidated FROM pg_constraint WHERE conname = 'contacts_email_format_check' AND conrelid = 'intercom.contacts'::regclass`,
    );
    expect(con).toEqual([{ convalidated: false }]);

    // Every new write is checked: an INSERT, and an UPDATE of a stored row, name the constraint.
    await expect(
      db.pool.query(`INSERT INTO intercom.contacts (external_id, email) VALUES ('new-wj', 'new\u2060one@example.com')`),
    ).rejects.toMatchObject({ constraint: 'contacts_email_format_check' });
    await expect(
      db.pool.query(`UPDATE intercom.contacts SET name = 'x' WHERE id = $1`, [ids.get('legacy-zwsp')]),
    ).rejects.toMatchObject({ constraint: 'contacts_email_format_check' });

    // The stored rows surface on push as named dead letters; nothing reaches Intercom for them; the good row does.
    await drainAll(engines, db.pool);
    for (const l of LEGACY) {
      const id = ids.get(l.externalId)!;
      const { rows } = await db.pool.query<{ status: string; last_error: string }>(
        `SELECT status, last_error FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = $1`,
        [id],
      );
      expect(rows).toEqual([{ status: 'dead', last_error: `contact ${id}: email is not an email address Intercom accepts (${l.problem})` }]);
      expect([...sim.state.contacts.byId.values()].filter((c) => c.data.external_id === l.externalId)).toEqual([]);
    }
    expect([...sim.state.contacts.byId.values()].filter((c) => c.data.external_id === 'upgrade-good')).toHaveLength(1);

    // The follow-up: the documented query lists exactly those rows; fixed, the constraint validates.
    const listed = await db.pool.query<{ id: number }>(await documentedQuery());
    expect(listed.rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual([...ids.values()].sort((a, b) => a - b));
    expect(listed.rows.map((r) => Number(r.id))).not.toContain(goodRows[0]!.id);
    await expect(db.pool.query(`ALTER TABLE intercom.contacts VALIDATE CONSTRAINT contacts_email_format_check`)).rejects.toMatchObject({
      code: '23514',
    });
    for (const [n, id] of [...ids.values()].entries()) {
      await db.pool.query(`UPDATE intercom.contacts SET email = $2 WHERE id = $1`, [id, `fixed${n}@example.com`]);
    }
    expect((await db.pool.query(await documentedQuery())).rows).toEqual([]);
    await db.pool.query(`ALTER TABLE intercom.contacts VALIDATE CONSTRAINT contacts_email_format_check`);
  });
});
