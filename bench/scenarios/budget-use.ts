import type { RequestRecord } from '../../src/intercom/gateway.ts';
import { REALISTIC_LATENCY } from '../../src/simulator/realism.ts';
import { benchEngines, drainAll } from '../lib/engines.ts';
import { atLeast, atMost, fmt, type Figure } from '../lib/figures.ts';
import type { Scenario } from '../lib/context.ts';
import { DEFAULT_BUDGETS, type BenchOptions } from '../lib/options.ts';
import { openSimulator } from '../lib/simulator.ts';

/**
 * Budget use (docs/performance.md, "Budget use"): how much of Intercom's budget each kind of work spends when every
 * request takes realistic time. For each budget, against a simulator enforcing it (10-second windows) with latency on
 * every route: budget use = the minimum time at that budget (minimum requests ÷ requests per second) ÷ the elapsed
 * time. A sync that pages one request at a time is latency-bound and scores low at large budgets; one that keeps
 * budget/s × latency requests in flight scores near 100 % until local work (the apply) becomes the limit.
 */
/** --quick runs one budget (10,000/min) unless --budgets names others. */
export function budgetUseBudgets(opts: Pick<BenchOptions, 'quick' | 'budgets'>): number[] {
  return opts.quick && opts.budgets.join() === DEFAULT_BUDGETS.join() ? [10_000] : opts.budgets;
}

const KINDS = ['full_pull', 'first_cycle', 'steady_cycle', 'backlog', 'push_updates', 'push_creates'] as const;

/** The figures this scenario prints for these options (a complete run has each one). */
export function budgetUseFigureIds(opts: Pick<BenchOptions, 'quick' | 'budgets'>): string[] {
  return budgetUseBudgets(opts).flatMap((b) => [
    ...KINDS.map((k) => `budget_use.${k}.${b}`),
    `requests.first_cycle.${b}`,
    `requests.steady_cycle.${b}`,
  ]);
}

export const budgetUseScenario: Scenario = {
  name: 'budget-use',
  async run({ opts, pg, logger, progress }) {
    const n = opts.contacts;
    const size = n !== null
      ? { contacts: n, changes: Math.max(150, Math.round(n / 20)), backlog: n, updates: Math.max(50, Math.round(n / 10)), creates: Math.max(20, Math.round(n / 20)) }
      : opts.quick
        ? { contacts: 300, changes: 150, backlog: 300, updates: 50, creates: 20 }
        : { contacts: 20_000, changes: 1_000, backlog: 20_000, updates: 2_000, creates: 1_000 };
    const budgets = budgetUseBudgets(opts);
    // Only the latency of the realistic profile: its other harsh behaviours (HTML 403s, drift) are other benches'.
    const latency = opts.latency === 'realistic' ? { ...REALISTIC_LATENCY } : { fixedMs: opts.latency };
    const latencyText = opts.latency === 'realistic' ? 'realistic latency' : `${opts.latency} ms latency`;
    const figures: Figure[] = [];
    for (const budget of budgets) {
      const sim = await openSimulator({
        rateLimitPerMinute: budget,
        seedContacts: size.contacts,
        seedCompanies: Math.max(1, Math.floor(size.contacts / 100)),
        latency,
      });
      const db = await pg.fresh(`budget_use_${budget}`);
      const e = benchEngines({ pool: db.pool, databaseUrl: db.url, simUrl: sim.url, token: sim.token, ratePerMinute: budget, logger });
      const perSecond = budget / 60;
      const ids = [...sim.state.contacts.order].map((r) => r.id);
      const editRemote = (n: number, tag: string) => {
        for (let i = 0; i < n; i++) sim.state.contacts.update(ids[i % ids.length]!, { name: `${tag} ${i}` });
      };
      const measure = async (what: string, id: string, minRequests: number, work: () => Promise<unknown>) => {
        progress(`budget-use @ ${fmt(budget)}/min: ${what}`);
        const from = e.records.length;
        const t0 = performance.now();
        await work();
        const seconds = (performance.now() - t0) / 1000;
        const spent: RequestRecord[] = e.records.slice(from);
        const limited = spent.filter((r) => r.status === 429).length;
        const minSeconds = minRequests / perSecond;
        figures.push({
          id: `budget_use.${id}.${budget}`,
          label: `budget use: ${what} @ ${fmt(budget)}/min`,
          value: Math.round((minSeconds / seconds) * 1000) / 10,
          unit: '%',
          goal: atLeast(90, '≥ 90 %, 0 × 429'),
          note: `${seconds.toFixed(1)} s against ${minSeconds.toFixed(1)} s minimum; ${fmt(spent.length)} requests (minimum ${fmt(minRequests)}), ${limited} × 429; ${latencyText}`,
        });
        return spent.length;
      };
      try {
        // Companies first, as a backfill runs them (one scroll), so the contacts' pages find their companies known.
        await e.pull.fullPullCompanies({});
        // A full pull (what a backfill and the first daemon cycle run): ⌈N/150⌉ pages at best.
        await measure(`full pull ${fmt(size.contacts)}`, 'full_pull', Math.ceil(size.contacts / 150), () => e.pull.pullContacts({}));
        // The first cycle after it starts from the watermark the full pull left, not from scratch.
        editRemote(size.changes, 'first');
        const first = await measure(`first cycle after full pull, ${fmt(size.changes)} changes`, 'first_cycle', Math.ceil(size.changes / 150), () => e.pull.pullContacts({}));
        editRemote(size.changes, 'steady');
        const steady = await measure(`steady cycle, ${fmt(size.changes)} changes`, 'steady_cycle', Math.ceil(size.changes / 150), () => e.pull.pullContacts({}));
        for (const [key, label, n] of [['first_cycle', 'first cycle after full pull', first], ['steady_cycle', 'steady cycle', steady]] as const) {
          figures.push({
            id: `requests.${key}.${budget}`,
            label: `requests: ${label}, ${fmt(size.changes)} changes @ ${fmt(budget)}/min`,
            value: n,
            unit: 'req',
            // The search starts at the local day before watermark − lookback: up to two extra pages re-read.
            goal: atMost(Math.ceil(size.changes / 150) + 2, `≤ ⌈N/150⌉ + 2 = ${Math.ceil(size.changes / 150) + 2}`),
          });
        }
        editRemote(size.backlog, 'backlog');
        await measure(`incremental backlog ${fmt(size.backlog)} changed`, 'backlog', Math.ceil(size.backlog / 150), () => e.pull.pullContacts({}));
        await db.pool.query(
          `UPDATE intercom.contacts SET name = 'pushed ' || id WHERE id IN (SELECT id FROM intercom.contacts WHERE intercom_id IS NOT NULL ORDER BY id LIMIT $1)`,
          [size.updates],
        );
        await measure(`push ${fmt(size.updates)} updates`, 'push_updates', size.updates, () => drainAll(e, db.pool));
        await db.pool.query(
          `INSERT INTO intercom.contacts (external_id, email, name)
           SELECT 'bench-new-' || i, 'bench-new-' || i || '@example.org', 'New ' || i FROM generate_series(1, $1) AS i`,
          [size.creates],
        );
        await measure(`push ${fmt(size.creates)} creates`, 'push_creates', size.creates, () => drainAll(e, db.pool));
      } finally {
        await e.close();
        await db.drop();
        await sim.close();
      }
    }
    return figures;
  },
};
