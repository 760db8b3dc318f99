import { spawn, type ChildProcess } from 'node:child_process';
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
