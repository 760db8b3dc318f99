import type pg from 'pg';

export type Tx = pg.PoolClient;

/** Runs fn in one transaction on one pooled connection; rolls back on any throw. */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * withTransaction, run again (up to `attempts` times, a few ms apart) when Postgres aborts it as a deadlock victim
 * (40P01) or a serialization failure (40001): the standard remedy, since the other transaction has committed by
 * then. Only for functions whose only effects are the transaction's own statements (a retry must not count twice).
 * The push's finish needs it: it locks the mapping, then the contact row, and a pull applying an email-matched
 * contact locks them the other way round (chaos seed 14).
 */
export async function withRetriedTransaction<T>(pool: pg.Pool, fn: (tx: Tx) => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await withTransaction(pool, fn);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (i >= attempts || (code !== '40P01' && code !== '40001')) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * i));
    }
  }
}

/**
 * Marks the current transaction as intercom-sync applying pulled data. The change-capture triggers read this
 * transaction-local setting and skip the outbox, so a pulled change never echoes back to Intercom.
 */
export async function enterSyncApplyMode(tx: Tx): Promise<void> {
  await tx.query(SYNC_APPLY_MODE_SQL);
}

/** The statement behind enterSyncApplyMode, for callers that send it together with others in one round trip. */
export const SYNC_APPLY_MODE_SQL = `SELECT set_config('intercom_sync.applying', 'on', true)`;
