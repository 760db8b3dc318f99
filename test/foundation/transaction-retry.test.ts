/**
 * withRetriedTransaction (src/db/transaction.ts): a transaction Postgres aborts as a deadlock victim is run again
 * and commits. Found by chaos seed 14, where the push's finish and a pull locked a mapping and a contact row in
 * opposite orders: the finish was the victim, its result was never recorded and its entry sat leased for minutes.
 * The deadlock here is forced: two transactions lock two rows in opposite orders, and the retried one has the
 * shorter deadlock_timeout, so it is the one Postgres picks as the victim.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withRetriedTransaction, withTransaction } from '../../src/db/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE lock_pair (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
  await db.pool.query(`INSERT INTO lock_pair (id) VALUES (1), (2)`);
});
afterAll(async () => {
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a deadlock victim is run again and commits; the other transaction commits too', async () => {
  let runs = 0;
  // other: row 1, then (waiting on the retried one) row 2. retried: row 2, then — once other waits — row 1.
  const other = withTransaction(db.pool, async (tx) => {
    await tx.query(`UPDATE lock_pair SET n = n + 1 WHERE id = 1`);
    await sleep(100);
    await tx.query(`UPDATE lock_pair SET n = n + 1 WHERE id = 2`);
  });
  await sleep(30);
  const retried = withRetriedTransaction(db.pool, async (tx) => {
    runs++;
    await tx.query(`SET LOCAL deadlock_timeout = '20ms'`);
    await tx.query(`UPDATE lock_pair SET n = n + 10 WHERE id = 2`);
    if (runs === 1) await sleep(200);
    await tx.query(`UPDATE lock_pair SET n = n + 10 WHERE id = 1`);
  });
  await Promise.all([other, retried]);
  expect(runs).toBe(2);
  expect((await db.pool.query(`SELECT id, n FROM lock_pair ORDER BY id`)).rows).toEqual([
    { id: 1, n: 11 },
    { id: 2, n: 11 },
  ]);
});

it('any other error is not retried', async () => {
  let runs = 0;
  await expect(
    withRetriedTransaction(db.pool, async (tx) => {
      runs++;
      await tx.query(`SELECT 1/0`);
    }),
  ).rejects.toThrow(/division by zero/);
  expect(runs).toBe(1);
});
