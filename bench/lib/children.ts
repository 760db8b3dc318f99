import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FullPullChildResult } from '../children/full-pull.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs bench/children/<name>.ts as compiled JavaScript and returns the JSON line it prints last. The daemon ships
 * compiled (bin/ runs dist/), and a child under tsx carries its transpiler and module cache: about 50 MB of RSS the
 * product does not have (measured: `node --import tsx` 155 MB after loading src/engines.ts, plain node 104 MB after
 * dist/engines.js), which a memory figure must not count. So the child is bundled with esbuild, packages left
 * external, into .tmp/ (inside the repository, so node resolves node_modules from there).
 */
export async function runChild<T>(name: string, env: Record<string, string>): Promise<T> {
  const outDir = join(ROOT, '.tmp', 'bench-children');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}.mjs`);
  await build({
    entryPoints: [join(ROOT, 'bench', 'children', `${name}.ts`)],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  const child = spawn(process.execPath, [outfile], {
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
