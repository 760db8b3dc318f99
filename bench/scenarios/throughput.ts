import { copyIn, copyLine } from '../lib/copy.ts';
import { runFullPullChild } from '../lib/children.ts';
import { atLeast, fmt, reportOnly, type Figure } from '../lib/figures.ts';
import type { Scenario } from '../lib/context.ts';
import { spawnSimulator } from '../lib/simulator.ts';

const COLUMNS = [
  'external_id', 'role', 'email', 'phone', 'name', 'owner_id', 'unsubscribed_from_emails', 'custom_attributes',
  'signed_up_at', 'last_seen_at', 'intercom_id', 'remote_created_at', 'remote_updated_at',
] as const;

/**
 * Local throughput: a full contacts pull (list pages → reconcile → apply → mappings → audit) with the simulator's
 * limits off, in a process of its own against a simulator in another, so the figure is the pipeline's own cost.
 * The baseline is the floor for getting the same rows into the same Postgres: one COPY into a table shaped like
 * contacts (same indexes and constraints, no triggers), timed in the same run.
 */
export const throughputScenario: Scenario = {
  name: 'throughput',
  async run({ opts, pg, progress }) {
    const n = opts.quick ? 500 : 20_000;
    const sim = await spawnSimulator({ seedContacts: n, seedCompanies: Math.max(1, Math.floor(n / 100)) });
    const db = await pg.fresh('throughput');
    try {
      progress(`throughput: full pull of ${fmt(n)} contacts, simulator limits off`);
      const r = await runFullPullChild(db.url, sim.url, sim.token);
      const pullRate = r.done / r.seconds;

      const { rows } = await db.pool.query<Record<string, unknown>>(
        `SELECT ${COLUMNS.join(', ')} FROM intercom.contacts ORDER BY id`,
      );
      const lines = rows.map((row) => copyLine(COLUMNS.map((c) => row[c])));
      const client = await db.pool.connect();
      let copySeconds: number;
      try {
        await client.query('CREATE TABLE intercom.contacts_copy (LIKE intercom.contacts INCLUDING ALL)');
        const t0 = performance.now();
        const copied = await copyIn(client, `COPY intercom.contacts_copy (${COLUMNS.join(', ')}) FROM STDIN`, lines);
        copySeconds = (performance.now() - t0) / 1000;
        if (copied !== rows.length) throw new Error(`COPY stored ${copied} of ${rows.length} rows`);
      } finally {
        client.release();
      }
      const copyRate = rows.length / copySeconds;
      return [
        {
          id: 'throughput.pull_contacts_per_second',
          label: 'local: contacts applied/s (full pull)',
          value: Math.round(pullRate),
          unit: '/s',
          goal: atLeast(5_000),
          note: `${fmt(r.done)} contacts in ${r.seconds.toFixed(1)} s, ${fmt(r.requests)} requests; ${JSON.stringify(r.counts)}`,
        },
        {
          id: 'throughput.copy_rows_per_second',
          label: 'local: plain COPY of the same rows',
          value: Math.round(copyRate),
          unit: '/s',
          goal: reportOnly('baseline'),
          note: `${fmt(rows.length)} rows in ${copySeconds.toFixed(2)} s`,
        },
        {
          id: 'throughput.pull_vs_copy',
          label: 'local: pull rate ÷ COPY rate',
          value: Math.round((pullRate / copyRate) * 1000) / 1000,
          unit: '×',
          goal: reportOnly('reported'),
          note: `COPY is ${(copyRate / pullRate).toFixed(1)}× faster`,
        },
      ] satisfies Figure[];
    } finally {
      await db.drop();
      await sim.close();
    }
  },
};
