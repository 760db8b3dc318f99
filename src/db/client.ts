import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { defineTables, type Tables } from './schema.ts';

// Postgres bigint (int8) would otherwise arrive as a string; our ids and counters fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Database {
  pool: pg.Pool;
  db: NodePgDatabase;
  tables: Tables;
  schema: string;
}

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'intercom-sync' });
  // An idle client whose connection is killed emits 'error' on the pool; without a listener that crashes Node.
  pool.on('error', () => undefined);
  // A checked-out client (a transaction waiting on Intercom, a held advisory lock) emits 'error' on itself when its
  // connection is terminated. Its next query fails and the caller handles that; the event alone must not crash.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export function createDatabase(pool: pg.Pool, schema: string): Database {
  return { pool, db: drizzle(pool), tables: defineTables(schema), schema };
}
