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

      // Changed contacts: every contact edited in Intercom, then the same full pull again. Each is now linked and
      // different, so each goes through the three-way merge (the batched path for linked contacts).
      progress(`throughput: editing ${fmt(n)} contacts in the simulator, then pulling them again`);
      const ids = rows.map((row) => String(row.intercom_id));
      for (let i = 0; i < ids.length; i += 20) {
        await Promise.all(ids.slice(i, i + 20).map((id, k) => sim.control('PATCH', `/__sim/contacts/${id}`, { name: `Changed ${i + k}` })));
      }
      const changed = await runFullPullChild(db.url, sim.url, sim.token);
      const changedRate = (changed.counts.updated ?? 0) / changed.seconds;
      return [
        {
          id: 'throughput.pull_contacts_per_second',
          label: 'local: new contacts applied/s (full pull)',
          value: Math.round(pullRate),
          unit: '/s',
          goal: atLeast(25_000),
          note: `${fmt(r.done)} contacts in ${r.seconds.toFixed(1)} s, ${fmt(r.requests)} requests; ${JSON.stringify(r.counts)}`,
        },
        {
          id: 'throughput.changed_contacts_per_second',
          label: 'local: changed contacts applied/s (full pull)',
          value: Math.round(changedRate),
          unit: '/s',
          goal: atLeast(25_000),
          note: `${fmt(changed.counts.updated ?? 0)} updated in ${changed.seconds.toFixed(1)} s; ${JSON.stringify(changed.counts)}`,
        },
        {
          id: 'throughput.changed_vs_copy',
          label: 'local: changed rate ÷ COPY rate',
          value: Math.round((changedRate / copyRate) * 1000) / 1000,
          unit: '×',
          goal: atLeast(0.45, '≥ 0.45'),
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
          label: 'local: new rate ÷ COPY rate',
          value: Math.round((pullRate / copyRate) * 1000) / 1000,
          unit: '×',
          goal: atLeast(0.45, '≥ 0.45'),
          note: `COPY is ${(copyRate / pullRate).toFixed(1)}× faster`,
        },
      ] satisfies Figure[];
    } finally {
      await db.drop();
      await sim.close();
    }
  },
};
