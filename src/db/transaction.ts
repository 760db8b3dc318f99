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
 * Marks the current transaction as intercom-sync applying pulled data. The change-capture triggers read this
 * transaction-local setting and skip the outbox, so a pulled change never echoes back to Intercom.
 */
export async function enterSyncApplyMode(tx: Tx): Promise<void> {
  await tx.query(`SELECT set_config('intercom_sync.applying', 'on', true)`);
}
