import { statusQueries } from '../../src/db/queries/status.ts';
import { renderStatusPage } from '../../src/reports/html.ts';
import { atMost, fmt, reportOnly, type Figure } from '../lib/figures.ts';
import type { Scenario } from '../lib/context.ts';

const MB = 1024 * 1024;

/**
 * The status page over megabyte strings: what an attack (or a bug) leaves in the error columns and the audit log,
 * written here as rows from before the bound on stored errors (src/db/queries/stored-text.ts), so the page's own
 * bound (src/reports/html.ts) is what is measured. Each dead letter's error is a megabyte run without an '@' (the
 * worst case of the former email pattern: 18 s for 200,000 characters) followed by a megabyte of words; conflicts
 * name a field of 200,000 characters; failed runs carry a megabyte error. The page is rendered without personal data
 * (LOG_PII=false), the path that masks emails. Render time is the HTML alone; load + render adds the snapshot read.
 */
export const statusPageScenario: Scenario = {
  name: 'status-page',
  async run({ opts, pg, progress }) {
    const deadLetters = opts.quick ? 5 : 50;
    const rounds = opts.quick ? 3 : 10;
    const db = await pg.fresh('status_page');
    try {
      progress(`status-page: ${deadLetters} dead letters, 3 failed runs and 20 conflicts, each with megabyte text`);
      const run = `${'x'.repeat(MB)} ${'attribute name too long '.repeat(Math.ceil(MB / 24))}`;
      await db.pool.query(
        `INSERT INTO intercom.contacts (external_id, email, name)
         SELECT 'bench-' || i, 'bench-' || i || '@example.com', 'Bench ' || i FROM generate_series(1, $1::int) AS i`,
        [deadLetters],
      );
      await db.pool.query(`UPDATE intercom.sync_outbox SET status = 'dead', attempts = 10, last_error = $1`, [run]);
      for (let i = 0; i < 3; i++) {
        await db.pool.query(`INSERT INTO intercom.sync_runs (kind, status, finished_at, error) VALUES ('pull_contacts', 'failed', now(), $1)`, [run]);
      }
      const field = 'f'.repeat(200_000);
      await db.pool.query(
        `INSERT INTO intercom.audit_log (direction, entity_type, local_id, external_key, action, changes, details)
         SELECT 'pull', 'contact', i, 'bench-' || i, 'conflict', jsonb_build_object($1::text, jsonb_build_object('before', 1, 'after', 2)),
                '{"policy":"newest_wins","winner":"remote"}'
           FROM generate_series(1, 20) AS i`,
        [field],
      );
      const status = statusQueries('intercom');
      const html = { pii: false, budgetPerMinute: 500, schema: 'intercom', refreshSeconds: 30 } as const;
      const renderMs: number[] = [];
      const totalMs: number[] = [];
      let size = 0;
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now();
        const snapshot = await status.snapshot(db.pool, 24);
        const t1 = performance.now();
        size = renderStatusPage(snapshot, html).length;
        const t2 = performance.now();
        renderMs.push(t2 - t1);
        totalMs.push(t2 - t0);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const note = `${rounds} renders; ${fmt(deadLetters)} dead letters of ${fmt((2 * MB) / 1e6, 1)} MB, 3 failed runs, 20 conflicts; page ${fmt(size / 1024)} KB`;
      return [
        { id: 'status_page.render_ms', label: 'status page: render with megabyte errors, median', value: Math.round(median(renderMs) * 10) / 10, unit: 'ms', goal: atMost(100, '< 100 ms'), note },
        { id: 'status_page.load_render_ms', label: 'status page: read + render with megabyte errors, median', value: Math.round(median(totalMs)), unit: 'ms', goal: reportOnly('reported (the read carries the old rows)'), note },
      ] satisfies Figure[];
    } finally {
      await db.drop();
    }
  },
};
