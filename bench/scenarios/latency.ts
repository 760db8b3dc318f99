import { benchEngines } from '../lib/engines.ts';
import { atMost, reportOnly, type Figure } from '../lib/figures.ts';
import { sleep, type Scenario } from '../lib/context.ts';
import { spawnSimulator } from '../lib/simulator.ts';

const RATE = 500;

/**
 * Latency: a local UPDATE committed → the new value readable in Intercom, with the budget free. The push runs as the
 * daemon runs it (runLoop woken by LISTEN/NOTIFY, 5 s polling as a fallback); the simulator, in its own process,
 * enforces 500/min, and the control API (never rate limited) is polled every 2 ms to see when the value lands.
 * Samples are taken one at a time, so each measures an idle pipeline, not a queue.
 */
export const latencyScenario: Scenario = {
  name: 'latency',
  async run({ opts, pg: bench, logger, progress }) {
    const samples = opts.quick ? 5 : 60;
    const sim = await spawnSimulator({ seedContacts: 50, rateLimitPerMinute: RATE });
    const db = await bench.fresh('latency');
    const engines = benchEngines({ pool: db.pool, databaseUrl: db.url, simUrl: sim.url, token: sim.token, ratePerMinute: RATE, logger });
    const stop = new AbortController();
    let loop: Promise<void> | null = null;
    try {
      await engines.pull.pullContacts();
      const { rows } = await db.pool.query<{ id: number; intercom_id: string }>(
        `SELECT id, intercom_id FROM intercom.contacts WHERE intercom_id IS NOT NULL ORDER BY id`,
      );
      // The daemon's LISTEN, from the same composition root.
      loop = engines.push.runLoop({ signal: stop.signal, listen: engines.listen, pollIntervalMs: 5_000 });
      await sleep(500);
      progress(`latency: ${samples} single updates, local commit → visible in the simulator`);
      const ms: number[] = [];
      for (let i = 0; i < samples; i++) {
        const row = rows[i % rows.length]!;
        const value = `Latency ${i}`;
        const t0 = performance.now();
        await db.pool.query(`UPDATE intercom.contacts SET name = $2 WHERE id = $1`, [row.id, value]);
        for (;;) {
          const c = await sim.control<{ contact: { name: string | null } }>('GET', `/__sim/contacts/${row.intercom_id}`);
          if (c.contact.name === value) break;
          if (performance.now() - t0 > 60_000) throw new Error(`update ${i} not visible after 60 s`);
          await sleep(2);
        }
        ms.push(performance.now() - t0);
        await sleep(50);
      }
      ms.sort((a, b) => a - b);
      const pct = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!;
      const note = `${samples} samples; min ${Math.round(ms[0]!)} ms, max ${Math.round(ms.at(-1)!)} ms`;
      return [
        { id: 'latency.p50_ms', label: 'latency: local update → Intercom, p50', value: Math.round(pct(50)), unit: 'ms', goal: reportOnly('(goal is on p95)'), note },
        { id: 'latency.p95_ms', label: 'latency: local update → Intercom, p95', value: Math.round(pct(95)), unit: 'ms', goal: atMost(999, '< 1,000 ms'), note },
      ] satisfies Figure[];
    } finally {
      stop.abort();
      await loop?.catch(() => undefined);
      await engines.close();
      await db.drop();
      await sim.close();
    }
  },
};
