import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('intercom-sync requeue', () => {
  it('puts the chosen dead letters back in line and says how many', async () => {
    const { rows } = await t.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id) SELECT 'rq' || g FROM generate_series(1, 3) g RETURNING id`,
    );
    await t.pool.query(`UPDATE intercom.sync_outbox SET status = 'dead', attempts = 3, last_error = 'bad'`);
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: t.url, LOG_LEVEL: 'silent' };
    const one = await run(process.execPath, [BIN, 'requeue', '--entity', 'contact', '--id', String(rows[0]!.id)], { env });
    expect(one.stdout).toBe('requeued 1 dead outbox entry\n');
    const rest = await run(process.execPath, [BIN, 'requeue'], { env });
    expect(rest.stdout).toBe('requeued 2 dead outbox entries\n');
    const left = await t.pool.query(`SELECT status, attempts, last_error FROM intercom.sync_outbox`);
    expect(left.rows).toEqual(Array(3).fill({ status: 'pending', attempts: 0, last_error: null }));
    const audit = await t.pool.query(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'requeue'`);
    expect(audit.rows[0].n).toBe(3);
  });
});
