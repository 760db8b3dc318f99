import pg from 'pg';

// Postgres bigint (int8) would otherwise arrive as a string; our ids and counters fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

/** The pool type, for layers that hold a pool but never build SQL themselves. */
export type Pool = pg.Pool;

export interface Database {
  pool: pg.Pool;
  schema: string;
}

export interface PoolOptions {
  /** Shown in pg_stat_activity after "intercom-sync", e.g. "http" for the status page's and /metrics' pool. */
  purpose?: string;
  /** Postgres cancels a statement of this pool running longer (statement_timeout). */
  statementTimeoutMs?: number;
}

export function createPool(url: string, max = 10, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: opts.purpose ? `intercom-sync ${opts.purpose}` : 'intercom-sync',
    ...(opts.statementTimeoutMs !== undefined ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client whose connection is killed emits 'error' on the pool; without a listener that crashes Node.
  pool.on('error', () => undefined);
  // A checked-out client (a transaction waiting on Intercom, a held advisory lock) emits 'error' on itself when its
  // connection is terminated. Its next query fails and the caller handles that; the event alone must not crash.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Readiness: one round trip through the pool. */
export async function pingDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}

export function createDatabase(pool: pg.Pool, schema: string): Database {
  return { pool, schema };
}

/**
 * A connection of its own, outside the pool, for what holds a session open: the leader's advisory lock and the
 * outbox LISTEN. With `keepaliveSeconds`, server-side keepalives are set: a peer whose host vanishes (no FIN, no RST)
 * keeps its session, and its lock, until the server notices the dead socket; keepalives bound that to a few periods
 * instead of the OS default of hours. https://www.postgresql.org/docs/current/runtime-config-connection.html
 */
export function dedicatedClient(url: string, purpose: string, keepaliveSeconds?: number): () => Promise<pg.Client> {
  return async () => {
    const c = new pg.Client({ connectionString: url, application_name: `intercom-sync ${purpose}`, keepAlive: true });
    c.on('error', () => undefined);
    await c.connect();
    if (keepaliveSeconds !== undefined) {
      await c
        .query(
          `SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $1, false),
                  set_config('tcp_keepalives_count', '3', false)`,
          [String(Math.max(1, keepaliveSeconds))],
        )
        .catch(() => undefined);
    }
    return c;
  };
}
