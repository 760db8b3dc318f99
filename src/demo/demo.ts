/**
 * `intercom-sync demo`: the whole product in one command, with nothing to set up. It starts an embedded Postgres
 * (always: DATABASE_URL is ignored, so the demo's edits never reach real tables) and the bundled Intercom simulator, backfills, makes edits on both sides — including a
 * conflict and a lead → user merge in each direction — runs sync cycles, prints the reports and shuts down.
 */
/* eslint-disable no-restricted-syntax -- The demo plays the user's own application: it writes the user's tables (the
   edits the daemon then syncs) and reads them back to show the result, as that application would with its own SQL.
   The daemon's SQL stays in src/db/; these statements are the user's side of the story, not the sync's. */
import type { Config } from '../config/index.ts';
import { openDatabase } from '../db/open.ts';
import { reportQueries, type ReportName } from '../db/queries/reports.ts';
import { runMigrations } from '../db/migrate.ts';
import { buildEngines } from '../engines.ts';
import type { Logger } from '../logger.ts';
import { formatReport } from '../reports/index.ts';
import { startSimulator } from '../simulator/server.ts';
import { runBackfill } from '../sync/backfill/index.ts';
import type { RunSummary } from '../sync/outcome.ts';
import { simControl } from './sim-control.ts';

export interface DemoOptions {
  contacts: number;
  companies: number;
  out: (text: string) => void;
}

export async function runDemo(baseConfig: Readonly<Config>, logger: Logger, opts: DemoOptions): Promise<void> {
  const say = (line = '') => opts.out(`${line}\n`);
  const started = Date.now();
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const sim = await startSimulator({ port: 0, seedContacts: opts.contacts, seedCompanies: opts.companies, seed: 42 });
    cleanup.unshift(() => sim.close());
    say(`Intercom simulator on ${sim.url}, seeded with ${opts.contacts} contacts and ${opts.companies} companies`);
    const config: Readonly<Config> = {
      ...baseConfig,
      intercom: { ...baseConfig.intercom, accessToken: sim.token, baseUrl: sim.url },
      // The demo never touches a real database or budget: its edits would land in your tables.
      databaseUrl: undefined,
      redisUrl: undefined,
    };

    const { embedded, url: databaseUrl, ...database } = await openDatabase(config, logger);
    cleanup.unshift(async () => {
      await database.pool.end();
      await embedded?.stop();
    });
    say(`Embedded Postgres on port ${embedded?.port ?? '?'}`);
    await runMigrations(database.pool, config.schema, logger);
    const pool = database.pool;
    const s = `"${config.schema}"`;

    // Recorded in sync_runs and api_usage like the daemon's runs, so the reports below tell the truth about them.
    const engines = buildEngines({ config, logger, pool, databaseUrl, replicaId: 'demo' });
    cleanup.unshift(() => engines.close());
    const signal = new AbortController().signal;
    const tracker = engines.runs;
    const step = async (label: string, kind: Parameters<typeof tracker.track>[0], work: (runId: number) => Promise<RunSummary>) => {
      const run = await tracker.track(kind, signal, ({ runId }) => work(runId));
      say(`   ${label.padEnd(15)} ${describeCounts(run.summary.counts)} (${run.summary.requests} requests)`);
    };

    say('\n1. Backfill: pull everything, then push local rows Intercom does not have');
    await pool.query(
      `INSERT INTO ${s}.contacts (external_id, email, name, custom_attributes)
       VALUES ('local-1', 'ada@example.com', 'Ada Lovelace', '{"plan_name": "pro"}'),
              ('local-2', 'alan@example.com', 'Alan Turing', '{}')
       ON CONFLICT DO NOTHING`,
    );
    const backfill = await runBackfill(
      {
        pull: engines.pull,
        push: engines.push,
        store: engines.backfillStore,
        logger,
        ratePerMinute: config.intercom.ratePerMinute,
      },
      { entity: 'all', direction: 'both', dryRun: false, resume: false, signal },
    );
    for (const p of backfill.phases) say(`   ${p.phase.padEnd(15)} ${describeCounts(p.counts)} (${p.requests} requests)`);

    say('\n2. Edits on both sides');
    const sample = await pool.query<{ id: number; intercom_id: string; name: string; role: string; email: string }>(
      `SELECT id, intercom_id, name, role, email FROM ${s}.contacts WHERE intercom_id IS NOT NULL AND deleted_at IS NULL ORDER BY id LIMIT 40`,
    );
    const users = sample.rows.filter((r) => r.role === 'user');
    const leads = sample.rows.filter((r) => r.role === 'lead');
    const [localEdit, remoteEdit, conflicted, mergeTarget] = users;
    if (!localEdit || !remoteEdit || !conflicted || !mergeTarget || leads.length < 2) {
      throw new Error('the seeded workspace is too small for the demo; use --contacts 50 or more');
    }
    const [localLead, remoteLead] = leads as [(typeof leads)[0], (typeof leads)[0]];
    const sim$ = simControl(sim.url);

    await pool.query(`UPDATE ${s}.contacts SET name = 'Grace Hopper (edited locally)' WHERE id = $1`, [localEdit.id]);
    say(`   local   : renamed contact ${localEdit.id} → "Grace Hopper (edited locally)"`);
    await sim$.editContact(remoteEdit.intercom_id, { name: 'Edsger Dijkstra (edited in Intercom)' });
    say(`   Intercom: renamed contact ${remoteEdit.intercom_id} → "Edsger Dijkstra (edited in Intercom)"`);
    await pool.query(`UPDATE ${s}.contacts SET name = 'Conflict: local name', phone = '+15550100' WHERE id = $1`, [conflicted.id]);
    await new Promise((r) => setTimeout(r, 1100)); // the Intercom edit is the newer one, to a second
    await sim$.editContact(conflicted.intercom_id, { name: 'Conflict: Intercom name' });
    say(`   both    : contact ${conflicted.id} renamed on both sides (and its phone set locally) → ${config.sync.conflictPolicy} decides`);
    await pool.query(`UPDATE ${s}.contacts SET merge_into_id = $2 WHERE id = $1`, [localLead.id, mergeTarget.id]);
    say(`   local   : asked to merge lead ${localLead.id} into user ${mergeTarget.id} (contacts.merge_into_id)`);
    // The common real case: a visitor (lead) signs up, the app creates the user with the same email, and Intercom
    // merges the lead into it. The lead's id then answers 404 and vanishes from list and search.
    const signup = await sim$.createContact({ role: 'user', external_id: 'signup-1', email: remoteLead.email, name: 'New Sign-up' });
    await sim$.merge(remoteLead.intercom_id, signup.contact.id);
    say(`   Intercom: lead ${remoteLead.intercom_id} signed up as user signup-1 and was merged into it`);
    await pool.query(`INSERT INTO ${s}.contacts (external_id, email, name) VALUES ('local-3', 'linus@example.com', 'Linus Torvalds')`);
    say(`   local   : inserted a new user local-3`);

    say('\n3. Sync cycles: pull what changed, push the outbox, sweep for drift');
    // Pull before push: the three-way merge can only weigh a remote edit it has seen. (The daemon pushes within a
    // second, so the window in which a remote edit to the same field could be overwritten unseen is that short.)
    await step('pull contacts', 'pull_contacts', (runId) => engines.pull.pullContacts({ signal, runId }));
    await step('push', 'push', (runId) => engines.push.drainOnce({ signal, runId }));
    await step('pull contacts', 'pull_contacts', (runId) => engines.pull.pullContacts({ signal, runId }));
    await step('push', 'push', (runId) => engines.push.drainOnce({ signal, runId }));
    await step('verify sweep', 'verify', (runId) => engines.verify.verify({ signal, runId, budget: 500, entity: 'contacts' }));
    await engines.usage?.flush();

    say('\n4. Where things ended up');
    const names = await pool.query<{ id: number; name: string; phone: string | null }>(
      `SELECT id, name, phone FROM ${s}.contacts WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[localEdit.id, remoteEdit.id, conflicted.id]],
    );
    for (const r of names.rows) {
      const remote = sim.state.contacts.byId.get(
        sample.rows.find((x) => x.id === r.id)!.intercom_id,
      )?.data;
      say(`   contact ${r.id}: local "${r.name}"${r.phone ? ` ${r.phone}` : ''} | Intercom "${remote?.name ?? '?'}"${remote?.phone ? ` ${remote.phone}` : ''}`);
    }
    const merged = await pool.query<{ local_id: number; status: string; merged_into: string | null }>(
      `SELECT local_id, status, merged_into FROM ${s}.sync_mappings WHERE entity_type = 'contact' AND local_id = ANY($1::bigint[]) ORDER BY local_id`,
      [[localLead.id, remoteLead.id]],
    );
    for (const m of merged.rows) say(`   lead ${m.local_id}: mapping ${m.status}${m.merged_into ? ` into ${m.merged_into}` : ''}`);

    const reports = reportQueries(config.schema);
    for (const name of ['overview', 'daily_activity', 'conflicts', 'merges', 'api_usage'] as ReportName[]) {
      say(`\n── report ${name} ──`);
      opts.out(formatReport(await reports.run(pool, name, { limit: 12 }), 'table', { maxCellWidth: 40 }));
    }

    const stats = await sim$.stats();
    const counts = await pool.query<{ contacts: number; linked_contacts: number; linked_companies: number }>(
      `SELECT (SELECT count(*) FROM ${s}.contacts)::int AS contacts,
              (SELECT count(*) FROM ${s}.sync_mappings WHERE status = 'active' AND entity_type = 'contact')::int AS linked_contacts,
              (SELECT count(*) FROM ${s}.sync_mappings WHERE status = 'active' AND entity_type = 'company')::int AS linked_companies`,
    );
    say(
      `\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s: ${counts.rows[0]!.contacts} local contacts ` +
        `(${counts.rows[0]!.linked_contacts} linked to Intercom, the rest merged away), ${counts.rows[0]!.linked_companies} companies linked; ` +
        `${stats.total} Intercom requests, ${stats.rate_limited} rate-limited.`,
    );
    say('Run it for real: DATABASE_URL=postgres://… INTERCOM_ACCESS_TOKEN=… npx intercom-sync run');
  } finally {
    for (const step of cleanup) await step().catch((err: unknown) => logger.warn({ err }, 'demo cleanup step failed'));
  }
}

function describeCounts(counts: Record<string, number | undefined>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing to do';
}
