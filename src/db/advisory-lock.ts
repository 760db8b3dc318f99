import type pg from 'pg';
import { createHash } from 'node:crypto';

/** A stable signed 64-bit key for pg_advisory_lock, derived from a readable name. */
export function advisoryKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

/** The part of a pg.Client a session lock needs. */
export interface SessionConnection {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * The statements of a session-level advisory lock, for holders that keep a connection of their own (the leader
 * lock) as well as for tryAdvisoryLock below. https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS
 */
export const sessionLock = {
  async tryLock(conn: SessionConnection, key: string): Promise<boolean> {
    const { rows } = await conn.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
    return rows[0]?.ok === true;
  },
  async lock(conn: SessionConnection, key: string): Promise<void> {
    await conn.query('SELECT pg_advisory_lock($1::bigint)', [key]);
  },
  /** One round trip: proves the session, and with it the lock, is still there. */
  async ping(conn: SessionConnection): Promise<void> {
    await conn.query('SELECT 1');
  },
  async unlock(conn: SessionConnection, key: string): Promise<void> {
    await conn.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
  },
};

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
    if (!(await sessionLock.tryLock(client, key))) {
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
        await sessionLock.unlock(client, key);
        giveBack(false);
      } catch {
        // A broken connection drops its session locks with it; do not return it to the pool.
        giveBack(true);
      }
    },
  };
}
