import { benchEngines, drainAll, UNLIMITED_RATE } from '../lib/engines.ts';
import { atMost, fmt, type Figure } from '../lib/figures.ts';
import type { Scenario } from '../lib/context.ts';
import { answered, openSimulator, routeSummary } from '../lib/simulator.ts';

const PAGE = 150;

/**
 * Requests per change: what each kind of change costs in Intercom requests, counted by the simulator (the server
 * side, so retries and lookups the engine makes on the way are all in), next to the least any sync could spend.
 * Limits are off: the budget changes how fast requests go, not how many.
 */
export const requestsScenario: Scenario = {
  name: 'requests',
  async run({ opts, pg, logger, progress }) {
    const n = opts.quick ? 150 : 1_000;
    const sim = await openSimulator({ rateLimitPerMinute: 0, seedContacts: n, seedCompanies: Math.max(1, Math.floor(n / 100)) });
    const db = await pg.fresh('requests');
    const engines = benchEngines({ pool: db.pool, databaseUrl: db.url, simUrl: sim.url, token: sim.token, ratePerMinute: UNLIMITED_RATE, logger });
    const figures: Figure[] = [];
    try {
      progress(`requests: initial sync of ${fmt(n)} contacts`);
      await engines.pull.pullCompanies();
      await engines.pull.pullContacts();
      const { rows: mapped } = await db.pool.query<{ intercom_id: string }>(
        `SELECT intercom_id FROM intercom.contacts WHERE intercom_id IS NOT NULL ORDER BY id`,
      );
      if (mapped.length !== n) throw new Error(`initial sync mapped ${mapped.length} of ${n} contacts`);

      // Remote edits, as Intercom users would make them; then one incremental pull.
      progress(`requests: ${fmt(n)} remote updates, then an incremental pull`);
      for (const [i, { intercom_id }] of mapped.entries()) {
        await sim.control('PATCH', `/__sim/contacts/${intercom_id}`, { name: `Remote edit ${i}` });
      }
      await sim.resetStats();
      const pulled = await engines.pull.pullContacts();
      const pullStats = await sim.stats();
      const pullSpent = answered(pullStats);
      const { rows: seen } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'Remote edit %'`,
      );
      figures.push({
        id: 'requests_per_change.pull',
        label: `requests: ${fmt(n)} remote updates pulled`,
        value: pullSpent,
        unit: 'req',
        goal: atMost(Math.ceil(n / PAGE), `minimum ${fmt(Math.ceil(n / PAGE))}`),
        note: `${fmt(seen[0]?.n ?? 0)} of ${fmt(n)} edits landed locally; ${JSON.stringify(pulled.counts)}; ${routeSummary(pullStats)}`,
      });

      progress(`requests: backfill of a workspace that already matches`);
      await sim.resetStats();
      const backfill = await engines.pull.fullPullContacts({ resume: false });
      const backfillStats = await sim.stats();
      const backfillSpent = answered(backfillStats);
      figures.push({
        id: 'requests_per_change.backfill_matching',
        label: `requests: backfill, ${fmt(n)} contacts already matching`,
        value: backfillSpent,
        unit: 'req',
        goal: atMost(Math.ceil(n / PAGE), `minimum ${fmt(Math.ceil(n / PAGE))}`),
        note: `contacts full pull; ${JSON.stringify(backfill.counts)}; ${routeSummary(backfillStats)}`,
      });
      progress(`requests: ${fmt(n)} local updates, then the push drains the outbox`);
      await db.pool.query(`UPDATE intercom.contacts SET name = 'Local edit ' || id WHERE intercom_id IS NOT NULL`);
      await sim.resetStats();
      const pushed = await drainAll(engines, db.pool);
      const pushStats = await sim.stats();
      const landed = sim.state.contacts.order.filter((r) => r.data.name?.startsWith('Local edit ')).length;
      figures.push({
        id: 'requests_per_change.push',
        label: `requests: ${fmt(n)} local updates pushed`,
        value: answered(pushStats),
        unit: 'req',
        goal: atMost(n, `minimum ${fmt(n)}`),
        note: `${fmt(landed)} of ${fmt(n)} landed in Intercom; ${JSON.stringify(pushed.counts)}; ${routeSummary(pushStats)}`,
      });

      // Writes that change nothing Intercom holds: the same value again, and a change reverted before the push ran.
      progress(`requests: ${fmt(2 * n)} no-op rewrites`);
      await db.pool.query(`UPDATE intercom.contacts SET name = name, custom_attributes = custom_attributes WHERE intercom_id IS NOT NULL`);
      await db.pool.query(`UPDATE intercom.contacts SET phone = '+1 555 0100' WHERE intercom_id IS NOT NULL AND phone IS NULL`);
      await db.pool.query(`UPDATE intercom.contacts SET phone = NULL WHERE phone = '+1 555 0100'`);
      const { rows: queued } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.sync_outbox`);
      await sim.resetStats();
      const noop = await drainAll(engines, db.pool);
      const noopStats = await sim.stats();
      figures.push({
        id: 'requests_per_change.noop',
        label: `requests: ${fmt(2 * n)} no-op rewrites`,
        value: answered(noopStats),
        unit: 'req',
        goal: atMost(0, 'minimum 0'),
        note: `same-value rewrites enqueue nothing; change-and-revert left ${fmt(queued[0]?.n ?? 0)} outbox rows; ${JSON.stringify(noop.counts)}`,
      });
      return figures;
    } finally {
      await engines.close();
      await db.drop();
      await sim.close();
    }
  },
};
