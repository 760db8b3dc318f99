import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FullPullChildResult } from '../children/full-pull.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs bench/children/<name>.ts under tsx and returns the JSON line it prints last. */
export async function runChild<T>(name: string, env: Record<string, string>): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', `bench/children/${name}.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const last = out.trim().split('\n').at(-1);
  if (code !== 0 || !last) throw new Error(`bench child ${name} exited with ${code}:\n${err || out}`);
  return JSON.parse(last) as T;
}

export function runFullPullChild(databaseUrl: string, simUrl: string, token: string): Promise<FullPullChildResult> {
  return runChild<FullPullChildResult>('full-pull', { DATABASE_URL: databaseUrl, SIM_URL: simUrl, SIM_TOKEN: token });
}
