import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { BenchResults } from '../../bench/lib/report.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every figure `npm run bench` prints; the smoke run must produce each one, as a number. Values are not judged. */
const EXPECTED = [
  'requests_per_change.pull',
  'requests_per_change.backfill_matching',
  'requests_per_change.push',
  'requests_per_change.noop',
  'throughput.pull_contacts_per_second',
  'throughput.copy_rows_per_second',
  'throughput.pull_vs_copy',
  'throughput.changed_contacts_per_second',
  'throughput.changed_vs_copy',
  'memory.peak_rss_1000',
  'latency.p50_ms',
  'latency.p95_ms',
  'budget.requests_per_minute',
  'budget.share',
  'budget.rate_limited',
  // --quick runs budget use at one budget (10,000/min) with small sizes.
  ...['full_pull', 'first_cycle', 'steady_cycle', 'backlog', 'push_updates', 'push_creates'].map((k) => `budget_use.${k}.10000`),
  'requests.first_cycle.10000',
  'requests.steady_cycle.10000',
];

it('npm run bench --quick runs every scenario and writes every figure with its goal', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
  const out = join(dir, 'results.json');
  try {
    // As `npm run bench` runs it: its own process, its own embedded Postgres (BENCH_DATABASE_URL is not passed on).
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, text).toBe(0);

    const results = JSON.parse(await readFile(out, 'utf8')) as BenchResults;
    expect(results.failures).toEqual([]);
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.figures.map((f) => f.id).sort()).toEqual([...EXPECTED].sort());
    for (const f of results.figures) {
      expect(Number.isFinite(f.value), `${f.id} = ${f.value}`).toBe(true);
      expect(f.goal.length, `${f.id} has a goal`).toBeGreaterThan(0);
      // The printed table carries the figure and its goal on one line.
      expect(text.split('\n').some((line) => line.includes(f.label) && line.includes(f.goal)), `${f.label} printed with its goal`).toBe(true);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
