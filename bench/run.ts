/**
 * `npm run bench`: measures what intercom-sync spends (Intercom requests, budget share, local time, memory,
 * latency, the status page's render time over megabyte errors) against the bundled simulator and a real Postgres, prints a table with each figure's goal beside it and
 * writes bench/results.json. Figures are reported, not asserted; the run fails (exit 1) only when it is incomplete: a
 * scenario failed or a figure is missing. Flags: --quick (every scenario at a small size, about a minute: the smoke
 * run), --million, --only <scenario>.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { benchLogger, type Scenario, type ScenarioContext } from './lib/context.ts';
import type { Figure } from './lib/figures.ts';
import { parseBenchArgs, type BenchOptions } from './lib/options.ts';
import { openBenchPostgres } from './lib/postgres.ts';
import { EXPECTED_FIGURES, formatTable, incompleteness, machine, toJsonFigures, type BenchResults } from './lib/report.ts';
import { budgetScenario } from './scenarios/budget.ts';
import { budgetUseFigureIds, budgetUseScenario } from './scenarios/budget-use.ts';
import { latencyScenario } from './scenarios/latency.ts';
import { memoryFigureIds, memoryScenario } from './scenarios/memory.ts';
import { requestsScenario } from './scenarios/requests.ts';
import { statusPageScenario } from './scenarios/status-page.ts';
import { throughputScenario } from './scenarios/throughput.ts';

export const SCENARIOS: readonly Scenario[] = [
  requestsScenario,
  throughputScenario,
  memoryScenario,
  latencyScenario,
  budgetScenario,
  budgetUseScenario,
  statusPageScenario,
];

export const DEFAULT_OUT = fileURLToPath(new URL('./results.json', import.meta.url));

export async function runBench(opts: BenchOptions, progress: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<BenchResults> {
  const unknown = opts.only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  const chosen = opts.only.length > 0 ? SCENARIOS.filter((s) => opts.only.includes(s.name)) : SCENARIOS;
  const pg = await openBenchPostgres();
  const figures: Figure[] = [];
  const failures: BenchResults['failures'] = [];
  let version = 'unknown';
  try {
    const probe = await pg.fresh('probe');
    version = (await probe.pool.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? version;
    await probe.drop();
    const ctx: ScenarioContext = { opts, pg, logger: benchLogger(), progress };
    for (const s of chosen) {
      const t0 = performance.now();
      progress(`▶ ${s.name}`);
      try {
        figures.push(...(await s.run(ctx)));
      } catch (err) {
        // One broken scenario should not cost the figures of the others; it is listed in the output instead.
        failures.push({ scenario: s.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
      progress(`  ${s.name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await pg.stop();
  }
  return {
    at: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    machine: machine(),
    postgres: { source: pg.source, version },
    figures: toJsonFigures(figures),
    failures,
  };
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2), DEFAULT_OUT);
  const results = await runBench(opts);
  const m = results.machine;
  console.log(
    `intercom-sync bench (${results.mode}) — ${m.cores} cores (${m.cpu}), ${m.memoryMb} MB, Node ${m.node}, ` +
      `Postgres ${results.postgres.version} (${results.postgres.source})\n`,
  );
  const table = formatTable(results.figures);
  console.log(table);
  for (const f of results.failures) console.log(`\nscenario ${f.scenario} failed:\n${f.error}`);
  await writeFile(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten to ${opts.out}`);
  const problems = incompleteness(results, table, opts.only.length === 0 ? [...EXPECTED_FIGURES, ...memoryFigureIds(opts), ...budgetUseFigureIds(opts)] : null);
  if (problems.length > 0) {
    console.log(`\nincomplete run:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
