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

/** A promise with its resolve, to hand the turn from one transaction to the other. */
function latch(): { done: Promise<void>; open: () => void } {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { done, open };
}

/** Waits until some session waits for a lock held by another: the other transaction is blocked on row 2. */
async function someoneWaitsForALock(): Promise<void> {
  for (const end = Date.now() + 30_000; ; await sleep(10)) {
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows.length > 0) return;
    if (Date.now() > end) throw new Error('the other transaction never waited for row 2');
  }
}

it('a deadlock victim is run again and commits; the other transaction commits too', async () => {
  let runs = 0;
  // other: row 1, then (waiting on the retried one) row 2. retried: row 2, then, once other waits, row 1. Each step
  // waits for the one before it, not for a timer, so a busy machine cannot take the deadlock away.
  const otherHoldsRow1 = latch();
  const retriedHoldsRow2 = latch();
  const other = withTransaction(db.pool, async (tx) => {
    // Never the one to look for the deadlock, however late the retried one closes the cycle.
    await tx.query(`SET LOCAL deadlock_timeout = '60s'`);
    await tx.query(`UPDATE lock_pair SET n = n + 1 WHERE id = 1`);
    otherHoldsRow1.open();
    await retriedHoldsRow2.done;
    await tx.query(`UPDATE lock_pair SET n = n + 1 WHERE id = 2`);
  });
  await otherHoldsRow1.done;
  const retried = withRetriedTransaction(db.pool, async (tx) => {
    runs++;
    await tx.query(`SET LOCAL deadlock_timeout = '20ms'`);
    await tx.query(`UPDATE lock_pair SET n = n + 10 WHERE id = 2`);
    if (runs === 1) {
      retriedHoldsRow2.open();
      // Only with other already waiting does our own wait close the cycle; our deadlock_timeout, far shorter than
      // other's, then makes this transaction the one that finds it, and the victim.
      await someoneWaitsForALock();
    }
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
