/**
 * `npm run chaos -- --seeds 1-20`: runs the chaos convergence test once per seed, in sequence (the machine's two
 * cores are the test's daemon, simulator and Postgres; seeds in parallel would measure each other), through vitest
 * with CHAOS_SEED, and writes the outcome per seed to docs/guarantees.md between its markers, after every seed, so
 * an interrupted range still leaves what it ran. Each seed's full output goes to <tmpdir>/intercom-sync-chaos/.
 * Flags: --seeds <spec> (default 1-20), --timeout-seconds <n> per seed (default 900: a bound, never a wait),
 * --no-write (print the table only; also implied by CHAOS_SIM, the diagnosis switch of convergence.test.ts).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSeeds, readRunOutput, renderTable, replaceTable, type SeedOutcome } from './seed-table.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = join(ROOT, 'docs/guarantees.md');

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

function commitOf(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'test', 'bin', 'package.json'], { cwd: ROOT }).toString().trim();
    return dirty ? `${sha}+uncommitted changes` : sha;
  } catch {
    return 'unknown';
  }
}

/** 143 is vitest stopping on a SIGTERM it did not send itself: say so, the run was interrupted, not failed. */
function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `vitest killed by ${signal} (interrupted from outside)`;
  if (code !== null && code > 128) return `vitest exited with ${code}: signal ${code - 128} from outside, interrupted`;
  return `vitest exited with ${code}`;
}

async function runSeed(seed: number, timeoutMs: number, logDir: string): Promise<SeedOutcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', 'test/chaos/convergence.test.ts'], {
    cwd: ROOT,
    env: { ...process.env, CHAOS_SEED: String(seed), FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a seed over its bound is stopped with everything it started, and only that.
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (c, sig) => resolve({ code: c, signal: sig })),
  );
  clearTimeout(timer);
  const wallMs = Date.now() - started;
  writeFileSync(join(logDir, `seed-${seed}.log`), output);
  const { settledS, problem } = readRunOutput(output);
  const passed = code === 0 && !timedOut;
  return {
    seed,
    passed,
    wallMs,
    settledS,
    problem: passed ? null : timedOut ? `stopped after the ${timeoutMs / 1000} s bound${problem ? `; ${problem}` : ''}` : (problem ?? exitText(code, signal)),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seeds = parseSeeds(flag(args, '--seeds') ?? '1-20');
  const timeoutMs = Number(flag(args, '--timeout-seconds') ?? 900) * 1_000;
  if (!(timeoutMs > 0)) throw new Error('--timeout-seconds must be a positive number');
  // A table in the guarantees page describes the documented test, never one with a behaviour turned off.
  const write = !args.includes('--no-write') && !process.env.CHAOS_SIM;
  if (process.env.CHAOS_SIM) process.stderr.write(`CHAOS_SIM=${process.env.CHAOS_SIM} is set: the table is printed, not written\n`);
  const logDir = join(tmpdir(), 'intercom-sync-chaos');
  mkdirSync(logDir, { recursive: true });
  const meta = {
    date: new Date().toISOString().slice(0, 10),
    commit: commitOf(),
    command: `npm run chaos -- --seeds ${flag(args, '--seeds') ?? '1-20'}`,
    planned: seeds.length,
  };
  const outcomes: SeedOutcome[] = [];
  for (const seed of seeds) {
    process.stderr.write(`▶ seed ${seed} … `);
    const o = await runSeed(seed, timeoutMs, logDir);
    outcomes.push(o);
    process.stderr.write(`${o.passed ? 'pass' : 'FAIL'} in ${(o.wallMs / 1000).toFixed(0)} s${o.problem ? `: ${o.problem}` : ''}\n`);
    if (write) writeFileSync(DOC, replaceTable(readFileSync(DOC, 'utf8'), renderTable(outcomes, meta)));
  }
  const table = renderTable(outcomes, meta);
  process.stdout.write(`${table}\n\nlogs: ${logDir}/seed-<n>.log${write ? `; table written to ${DOC}` : ''}\n`);
  process.exitCode = outcomes.every((o) => o.passed) ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
});
