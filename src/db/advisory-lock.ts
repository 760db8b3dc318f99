import type pg from 'pg';
import { advisoryKey } from './migrate.ts';

export interface HeldLock {
  /** Idempotent: a second call does nothing. Never rejects. */
  release(): Promise<void>;
}

/**
 * A session advisory lock held on a pooled connection until release(). Session locks belong to the connection, so
 * the client stays checked out while the lock is held; a connection that breaks takes the lock with it and is
 * destroyed instead of returned to the pool. https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
export async function tryAdvisoryLock(pool: pg.Pool, name: string): Promise<HeldLock | null> {
  const key = advisoryKey(name);
  const client = await pool.connect();
  // Held idle across a whole scroll or backfill: a terminated connection must surface as a failed query, not crash Node.
  const ignore = () => undefined;
  client.on('error', ignore);
  const giveBack = (destroy: boolean) => {
    client.off('error', ignore);
    client.release(destroy);
  };
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
    if (!rows[0]?.ok) {
      giveBack(false);
      return null;
    }
  } catch (err) {
    giveBack(true);
    throw err;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
        giveBack(false);
      } catch {
        // A broken connection drops its session locks with it; do not return it to the pool.
        giveBack(true);
      }
    },
  };
}
