import { createGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { atLeast, atMost, type Figure } from '../lib/figures.ts';
import { sleep, type Scenario } from '../lib/context.ts';
import { openSimulator } from '../lib/simulator.ts';

const RATE = 500;
const WINDOW_MS = 10_000;
const PER_WINDOW = Math.floor(RATE / 6);

/**
 * Budget use: a backlog of contact updates larger than the budget, sent through the production gateway (its one
 * limiter is what every engine spends through) against a simulator enforcing 500/min in 10-second windows. Counted
 * over the windows the run covers entirely, so the ramp at the start and the tail at the end do not dilute it.
 */
export const budgetScenario: Scenario = {
  name: 'budget',
  async run({ opts, logger, progress }) {
    const windows = opts.quick ? 1 : 7;
    const sim = await openSimulator({ rateLimitPerMinute: RATE, seedContacts: 200 });
    const records: RequestRecord[] = [];
    const gateway = createGateway({
      token: sim.token,
      baseUrl: sim.url,
      apiVersion: '2.14',
      ratePerMinute: RATE,
      logger,
      onRequest: (r) => records.push(r),
    });
    try {
      const ids = (await gateway.listContacts({ perPage: 150 }, 'push')).data.map((c) => c.id);
      // Start on a window boundary, so the first window is a whole one.
      await sleep(WINDOW_MS - (Date.now() % WINDOW_MS) + 20);
      await sim.resetStats();
      records.length = 0;
      const started = Date.now();
      const backlog = PER_WINDOW * windows + Math.ceil(PER_WINDOW / 2);
      progress(`budget: ${backlog} updates through the gateway at ${RATE}/min (about ${windows * 10 + 5} s)`);
      const results = await Promise.allSettled(
        Array.from({ length: backlog }, (_, i) =>
          gateway.updateContact(ids[i % ids.length]!, { name: `Budget ${i}` }, 'push'),
        ),
      );
      const failed = results.filter((r) => r.status === 'rejected').length;
      const stats = await sim.stats();
      const perWindow = new Map<number, number>();
      for (const r of records) {
        if (r.status === null || r.status === 429) continue;
        const w = Math.floor(r.at.getTime() / WINDOW_MS);
        perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
      }
      const first = Math.floor(started / WINDOW_MS);
      const full = [...perWindow.entries()].filter(([w]) => w >= first && w < first + windows).map(([, n]) => n);
      const sent = full.reduce((a, b) => a + b, 0);
      const perMinute = full.length === 0 ? 0 : (sent / (full.length * WINDOW_MS)) * 60_000;
      return [
        {
          id: 'budget.requests_per_minute',
          label: 'budget: sustained requests/min',
          value: Math.round(perMinute),
          unit: 'req/min',
          goal: atLeast(RATE * 0.95, `≥ ${RATE * 0.95} (95 % of ${RATE})`),
          note: `${full.length} full 10 s windows: ${full.join(', ')} (cap ${PER_WINDOW} each)`,
        },
        {
          id: 'budget.share',
          label: 'budget: share of the budget used',
          value: Math.round((perMinute / RATE) * 1000) / 10,
          unit: '%',
          goal: atLeast(95, '≥ 95 %'),
          note: `${backlog} updates queued at once; ${failed} failed`,
        },
        {
          id: 'budget.rate_limited',
          label: 'budget: 429 answers',
          value: stats.rate_limited,
          unit: '',
          goal: atMost(0, '0'),
          note: `simulator counted ${stats.total} requests`,
        },
      ] satisfies Figure[];
    } finally {
      await gateway.close();
      await sim.close();
    }
  },
};
