import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './helpers.ts';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** A `intercom-sync run` child process, with its output kept for failure messages. */
export interface DaemonProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function spawnDaemon(name: string, env: Record<string, string>): Promise<DaemonProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/intercom-sync.js', 'run'], {
    cwd: ROOT,
    // Only what the daemon needs: a variable leaking in from the test runner's environment must not change it.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LEADER_LOCK_RETRY_SECONDS: '1',
      SHUTDOWN_TIMEOUT_SECONDS: '10',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    exited,
    alive: () => running,
  };
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> } | null> {
  try {
    const r = await fetch(url);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  } catch {
    return null;
  }
}

/** Schedules that never fire within a test: the daemon pulls only when the test makes it (webhooks, the sweep). */
export const NO_SCHEDULED_PULLS = {
  CONTACTS_PULL_CRON: '0 0 1 1 *',
  COMPANIES_PULL_CRON: '0 0 1 1 *',
  VERIFY_CRON: '0 0 1 1 *',
} as const;

/**
 * A daemon on `databaseUrl` and the simulator at `intercom`, with no scheduled pulls, started and waited for: until
 * it answers /healthz, or until it leads (for tests that need its push engine running).
 */
export async function startQuietDaemon(
  name: string,
  o: { databaseUrl: string; intercom: { url: string; token: string }; env?: Record<string, string>; until?: 'healthz' | 'leader' },
): Promise<DaemonProcess> {
  const daemon = await spawnDaemon(name, {
    DATABASE_URL: o.databaseUrl,
    INTERCOM_BASE_URL: o.intercom.url,
    INTERCOM_ACCESS_TOKEN: o.intercom.token,
    ...NO_SCHEDULED_PULLS,
    ...o.env,
  });
  const leader = o.until === 'leader';
  await waitFor(leader ? `${name} to lead` : `${name} to answer /healthz`, async () => {
    if (!daemon.alive()) throw new Error(`daemon exited:\n${daemon.output()}`);
    const r = await getJson(`${daemon.url}/${leader ? 'readyz' : 'healthz'}`);
    return leader ? r?.body.role === 'leader' : r?.status === 200;
  }, 30_000);
  return daemon;
}

/** SIGKILL (idempotent): these tests judge what the daemon served, not how it stops. */
export async function killDaemon(daemon: DaemonProcess | undefined): Promise<void> {
  if (daemon?.alive()) daemon.child.kill('SIGKILL');
  await daemon?.exited;
}
