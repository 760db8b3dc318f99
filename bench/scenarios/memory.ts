import { runFullPullChild } from '../lib/children.ts';
import { atMost, fmt, type Figure } from '../lib/figures.ts';
import type { Scenario } from '../lib/context.ts';
import type { BenchOptions } from '../lib/options.ts';
import { spawnSimulator } from '../lib/simulator.ts';

const LIMIT_MB = 256;

/**
 * Memory: the peak resident set of a process doing a full backfill (companies, then contacts) of a large workspace.
 * The RSS after each tenth of the contacts shows whether memory grows with the dataset or stays flat.
 */
export const memoryScenario: Scenario = {
  name: 'memory',
  async run({ opts, pg, progress }) {
    const sizes = memorySizes(opts);
    const figures: Figure[] = [];
    for (const n of sizes) {
      progress(`memory: seeding ${fmt(n)} contacts in the simulator`);
      const sim = await spawnSimulator({ seedContacts: n, seedCompanies: Math.max(1, Math.floor(n / 100)) });
      const db = await pg.fresh(`memory_${n}`);
      try {
        progress(`memory: full backfill of ${fmt(n)} contacts`);
        const r = await runFullPullChild(db.url, sim.url, sim.token);
        const tenths = r.rssByTenthMb;
        const growth = tenths.length >= 2 ? tenths.at(-1)! - tenths[0]! : 0;
        figures.push({
          id: `memory.peak_rss_${n}`,
          label: `memory: peak RSS, backfill of ${fmt(n)}`,
          value: Math.round(r.peakRssMb),
          unit: 'MB',
          goal: atMost(LIMIT_MB, `< ${LIMIT_MB} MB, flat`),
          note: `at start ${Math.round(r.startRssMb)} MB; companies pass peak ${Math.round(r.companiesPeakRssMb)} MB; by tenth of contacts: ${tenths.map((t) => Math.round(t)).join(' → ')} MB (growth ${growth >= 0 ? '+' : ''}${Math.round(growth)} MB); ${r.seconds.toFixed(0)} s`,
        });
      } finally {
        await db.drop();
        await sim.close();
      }
    }
    return figures;
  },
};

/** Workspace sizes of the memory run: 1,000 quick, 100,000 full, plus 1,000,000 with --million. */
function memorySizes(opts: Pick<BenchOptions, 'quick' | 'million'>): number[] {
  return opts.quick ? [1_000] : opts.million ? [100_000, 1_000_000] : [100_000];
}

/** The figures the memory run prints for these options (a complete run has each one). */
export function memoryFigureIds(opts: Pick<BenchOptions, 'quick' | 'million'>): string[] {
  return memorySizes(opts).map((n) => `memory.peak_rss_${n}`);
}
