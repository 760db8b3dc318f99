/**
 * A full contacts pull (what a backfill runs) in a process of its own, so its resident memory is ours alone:
 * companies, then contacts; samples RSS every 100 ms with the number of contacts done so far, and prints one JSON line when finished.
 * Env: DATABASE_URL, SIM_URL, SIM_TOKEN.
 */
import { pino } from 'pino';
import { createDatabase, createPool } from '../../src/db/client.ts';
import { benchEngines, UNLIMITED_RATE } from '../lib/engines.ts';

export interface FullPullChildResult {
  /** The contacts pass alone. */
  seconds: number;
  done: number;
  counts: Record<string, number>;
  requests: number;
  peakRssMb: number;
  /** After loading the code, before any work: what Node, pg and the SDK cost on their own (compiled, as shipped). */
  startRssMb: number;
  /** RSS after each tenth of the contacts: flat means memory does not grow with the dataset. */
  rssByTenthMb: number[];
  /** Peak RSS of the companies pass that runs first, so a peak can be placed. */
  companiesPeakRssMb: number;
}

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const pool = createPool(env('DATABASE_URL'), 10);
const { pool: p } = createDatabase(pool, 'intercom');
const engines = benchEngines({
  pool: p,
  databaseUrl: env('DATABASE_URL'),
  simUrl: env('SIM_URL'),
  token: env('SIM_TOKEN'),
  ratePerMinute: UNLIMITED_RATE,
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
});
const startRss = process.memoryUsage.rss();
let peak = startRss;
let done = 0;
let total: number | null = null;
const tenths: number[] = [];
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  peak = Math.max(peak, rss);
  if (total && total > 0) {
    while (tenths.length < 10 && done >= ((tenths.length + 1) * total) / 10) tenths.push(mb(rss));
  }
}, 100);
try {
  // Companies first, as a backfill does, so contacts link to known companies instead of fetching each one.
  await engines.pull.fullPullCompanies({});
  const companiesPeak = Math.max(peak, process.memoryUsage.rss());
  const t0 = performance.now();
  const summary = await engines.pull.fullPullContacts({
    resume: false,
    onProgress: (pr) => {
      done = pr.done;
      total = pr.total;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  const result: FullPullChildResult = {
    seconds,
    done: Object.values(summary.counts).reduce((a, b) => a + (b ?? 0), 0),
    counts: summary.counts,
    requests: summary.requests,
    peakRssMb: mb(peak),
    startRssMb: mb(startRss),
    rssByTenthMb: tenths,
    companiesPeakRssMb: mb(companiesPeak),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  clearInterval(sampler);
  await engines.close();
  await pool.end();
}
