import { processHost } from '../../src/daemon/host.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillStore } from '../../src/db/queries/backfill.ts';
import { createPushStore } from '../../src/db/queries/outbox.ts';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { runBackfill, type BackfillDeps, type BackfillProgress } from '../../src/sync/backfill/index.ts';
import { createPullEngine } from '../../src/sync/pull/index.ts';
import { createPushEngine } from '../../src/sync/push/index.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { harness, silentLogger, type Harness, type SimStats } from '../intercom/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TABLES = ['contacts', 'companies', 'contact_companies', 'sync_mappings', 'sync_outbox', 'sync_state', 'sync_runs', 'audit_log', 'api_usage'];
const WRITE_ROUTE = /^(PUT|DELETE) |^POST \/(contacts|companies)(\/|$)(?!search|list)/;

async function rowCounts(t: TestDatabase): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) out[table] = (await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.${table}`)).rows[0]!.n;
  return out;
}

function writeRequests(stats: SimStats): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(stats.by_route).filter(([route]) => WRITE_ROUTE.test(route)));
}

function deps(t: TestDatabase, h: Harness): BackfillDeps {
  const gateway = h.gateway();
  const pushStore = createPushStore(t.pool, 'intercom');
  return {
    pull: createPullEngine({
      gateway,
      store: createPullStore(t.pool, 'intercom'),
      logger: silentLogger,
      config: { lookbackSeconds: 900, conflictPolicy: 'newest_wins', timezone: 'UTC' },
    }),
    push: createPushEngine({
      host: processHost(),
      gateway,
      store: pushStore,
      logger: silentLogger,
      config: { batchSize: 50, concurrency: 4, maxAttempts: 5, deleteMode: 'archive', autoCreateAttributes: false },
    }),
    store: createBackfillStore(t.pool, 'intercom', pushStore),
    logger: silentLogger,
    ratePerMinute: 500,
  };
}

/** Local-only rows, written as an application would (so the triggers see them). */
async function insertLocalOnly(t: TestDatabase, n: number): Promise<void> {
  await t.pool.query(
    `INSERT INTO intercom.contacts (external_id, email, name)
     SELECT 'local-' || i, 'local' || i || '@example.org', 'Local ' || i FROM generate_series(1, $1) AS i`,
    [n],
  );
}

describe('backfill', () => {
  let t: TestDatabase;
  let h: Harness;
  let d: BackfillDeps;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    t = await createTestDatabase();
    h = await harness({ seed: 3, seedContacts: 300, seedCompanies: 8 });
    d = deps(t, h);
    await insertLocalOnly(t, 5);
  });

  afterAll(async () => {
    await Promise.all(h.gateways.map((g) => g.close()));
    await h.close();
    await t.drop();
  });

  it('dry run: prints counts and cost, writes nothing locally and nothing to Intercom', async () => {
    const before = await rowCounts(t);
    const statsBefore = await h.stats();
    const r = await runBackfill(d, { entity: 'all', direction: 'both', dryRun: true, resume: false, signal });
    expect(await rowCounts(t)).toEqual(before);
    const statsAfter = await h.stats();
    expect(writeRequests(statsAfter)).toEqual(writeRequests(statsBefore));
    expect(r.runId).toBeNull();
    const contacts = r.phases.find((p) => p.phase === 'pull:contacts')!;
    expect(contacts.counts.created).toBe(300);
    expect(r.pushPlan).toMatchObject({ create: 5 });
    expect(r.requests).toBe(contacts.requests + r.phases.find((p) => p.phase === 'pull:companies')!.requests + r.pushPlan!.requests);
    expect(r.estimatedSeconds).toBe(Math.ceil((r.requests / 500) * 60));
  });

  it('pulls everything, then pushes only local-only rows; a second run over a matching workspace costs about N/150', async () => {
    const progress: BackfillProgress[] = [];
    const r = await runBackfill(d, { entity: 'all', direction: 'both', dryRun: false, resume: false, signal, onProgress: (p) => progress.push(p) });
    expect(r.runId).not.toBeNull();
    expect(r.phases.find((p) => p.phase === 'pull:contacts')!.counts.created).toBe(300);
    expect(r.phases.find((p) => p.phase === 'push')!.counts.created).toBe(5);
    expect(progress.filter((p) => p.phase === 'pull:contacts').at(-1)).toMatchObject({ done: 300, total: 300 });
    const mapped = await t.pool.query(`SELECT count(*)::int AS n, count(DISTINCT intercom_id)::int AS d FROM intercom.sync_mappings WHERE entity_type = 'contact' AND status = 'active'`);
    expect(mapped.rows[0]).toEqual({ n: 305, d: 305 });
    const run = await t.pool.query(`SELECT status, kind FROM intercom.sync_runs WHERE id = $1`, [r.runId]);
    expect(run.rows[0]).toEqual({ status: 'succeeded', kind: 'backfill' });

    const statsBefore = await h.stats();
    const again = await runBackfill(d, { entity: 'all', direction: 'both', dryRun: false, resume: false, signal });
    const contactPages = Math.ceil(305 / 150);
    // The pages, plus the newest updated_at noted for the incremental watermark (the time zone is configured here).
    expect(again.phases.find((p) => p.phase === 'pull:contacts')!.requests).toBe(contactPages + 1);
    expect(again.phases.find((p) => p.phase === 'push')!.requests).toBe(0);
    expect(again.requests).toBeLessThanOrEqual(contactPages + 4);
    expect(writeRequests(await h.stats())).toEqual(writeRequests(statsBefore));
  });
});

describe('backfill CLI: killed mid-way, resumed with --resume', () => {
  let t: TestDatabase;
  let h: Harness;
  const N = 750;

  beforeAll(async () => {
    t = await createTestDatabase();
    h = await harness({ seed: 11, seedContacts: N, seedCompanies: 10 });
  });

  afterAll(async () => {
    await h.close();
    await t.drop();
  });

  function backfill(args: string[], onLine?: (line: Record<string, unknown>) => boolean) {
    return cli(['backfill', ...args], onLine);
  }

  function cli(args: string[], onLine?: (line: Record<string, unknown>) => boolean) {
    const child = spawn(process.execPath, ['bin/intercom-sync.js', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        DATABASE_URL: t.url,
        INTERCOM_BASE_URL: h.sim.url,
        INTERCOM_ACCESS_TOKEN: h.sim.token,
        INTERCOM_RATE_LIMIT_PER_MINUTE: '100000',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      let i: number;
      while ((i = out.indexOf('\n')) >= 0) {
        const line = JSON.parse(out.slice(0, i)) as Record<string, unknown>;
        out = out.slice(i + 1);
        lines.push(line);
        if (onLine?.(line)) child.kill('SIGKILL');
      }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    return { exited, lines, stderr: () => err, kill: () => child.kill('SIGKILL') };
  }

  it('loses nothing and duplicates nothing', async () => {
    // Slow search pages so the kill lands with pages still to come, however fast the machine.
    await h.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts/search', kind: 'latency', latency_ms: 400 });
    const first = backfill(['--direction', 'pull'], (l) => l.event === 'progress' && l.phase === 'pull:contacts' && (l.done as number) >= 300);
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    const committed = (await t.pool.query(`SELECT count(*)::int AS n FROM intercom.contacts`)).rows[0].n as number;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(N);
    // The partitions' cursors were committed with their pages.
    const parts = (await t.pool.query(`SELECT cursor, details FROM intercom.sync_state WHERE stream LIKE 'backfill:contacts:p:%'`)).rows;
    expect(parts.some((p) => p.cursor !== null)).toBe(true);

    await h.control('DELETE', '/__sim/faults');
    const second = backfill(['--direction', 'pull', '--resume']);
    const exit = await second.exited;
    expect(exit, second.stderr()).toMatchObject({ code: 0 });
    const firstContactsProgress = second.lines.find((l) => l.event === 'progress' && l.phase === 'pull:contacts')!;
    // It went on from the committed cursor instead of listing from the start.
    expect(firstContactsProgress.done as number).toBeGreaterThan(150);
    const done = second.lines.find((l) => l.event === 'done')!;
    expect(done).toMatchObject({ dryRun: false });

    const counts = (
      await t.pool.query(
        `SELECT (SELECT count(*)::int FROM intercom.contacts) AS contacts,
                (SELECT count(DISTINCT intercom_id)::int FROM intercom.contacts) AS distinct_ids,
                (SELECT count(*)::int FROM intercom.sync_mappings WHERE entity_type = 'contact' AND status = 'active') AS mapped`,
      )
    ).rows[0];
    expect(counts).toEqual({ contacts: N, distinct_ids: N, mapped: N });
    const runs = (await t.pool.query(`SELECT status FROM intercom.sync_runs WHERE kind = 'backfill' ORDER BY id`)).rows.map((r) => r.status);
    expect(runs).toEqual(['aborted', 'succeeded']);
  });

  it('dry run through the CLI: JSON summary, no local row (API usage included) and no Intercom write changes', async () => {
    await t.pool.query(`INSERT INTO intercom.contacts (external_id, email) VALUES ('cli-local-1', 'cli-local-1@example.org')`);
    const before = await rowCounts(t);
    const writesBefore = writeRequests(await h.stats());
    const r = cli(['backfill', '--dry-run']);
    expect((await r.exited).code, r.stderr()).toBe(0);
    const done = r.lines.find((l) => l.event === 'done')!;
    expect(done).toMatchObject({ dryRun: true, runId: null, pushPlan: { create: 1 } });
    expect(done.requests).toBeGreaterThanOrEqual(Math.ceil(N / 150) + 1);
    expect(await rowCounts(t)).toEqual(before);
    expect(writeRequests(await h.stats())).toEqual(writesBefore);
  });

  it('verify through the CLI records its run and reports what it repaired', async () => {
    const someone = (await t.pool.query<{ intercom_id: string }>(`SELECT intercom_id FROM intercom.contacts WHERE intercom_id IS NOT NULL ORDER BY id LIMIT 1`)).rows[0]!.intercom_id;
    await h.control('PATCH', `/__sim/contacts/${someone}?silent=true`, { name: 'Changed Without A Trace' });
    const r = cli(['verify', '--json', '--budget', '1000', '--entity', 'contacts']);
    expect((await r.exited).code, r.stderr()).toBe(0);
    const out = r.lines[0]!;
    expect(out).toMatchObject({ counts: { updated: 1 }, details: { contacts: { drifted: 1, passCompleted: true } } });
    const run = (await t.pool.query(`SELECT kind, status, counts FROM intercom.sync_runs WHERE id = $1`, [out.runId])).rows[0];
    expect(run).toMatchObject({ kind: 'verify', status: 'succeeded', counts: { updated: 1 } });
    const name = (await t.pool.query(`SELECT name FROM intercom.contacts WHERE intercom_id = $1`, [someone])).rows[0];
    expect(name).toEqual({ name: 'Changed Without A Trace' });
    const audited = (await t.pool.query(`SELECT action, intercom_id FROM intercom.audit_log WHERE run_id = $1`, [out.runId])).rows;
    expect(audited).toEqual([{ action: 'update', intercom_id: someone }]);
  });

  it('a push killed mid-way and resumed creates every local-only row in Intercom exactly once', async () => {
    await t.pool.query(
      `INSERT INTO intercom.contacts (external_id, email, name)
       SELECT 'pushed-' || i, 'pushed' || i || '@example.org', 'Pushed ' || i FROM generate_series(1, 150) AS i`,
    );
    await h.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts', kind: 'latency', latency_ms: 200 });
    const first = backfill(['--direction', 'push'], (l) => l.event === 'progress' && l.phase === 'push' && (l.done as number) >= 50);
    const exit = await first.exited;
    expect(exit, first.stderr()).toMatchObject({ signal: 'SIGKILL' });

    await h.control('DELETE', '/__sim/faults');
    const second = backfill(['--direction', 'push', '--resume']);
    expect((await second.exited).code, second.stderr()).toBe(0);

    const g = h.gateway();
    const remote: { externalId: string | null }[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await g.listContacts({ perPage: 150, startingAfter: cursor });
      remote.push(...page.data);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const pushed = remote.filter((c) => c.externalId?.startsWith('pushed-') || c.externalId === 'cli-local-1');
    expect(pushed).toHaveLength(151);
    expect(new Set(pushed.map((c) => c.externalId)).size).toBe(151);
    const local = (
      await t.pool.query(`SELECT count(*)::int AS n FROM intercom.sync_mappings WHERE entity_type = 'contact' AND status = 'active'`)
    ).rows[0].n;
    expect(local).toBe(N + 151);
    const pending = (await t.pool.query(`SELECT count(*)::int AS n FROM intercom.sync_outbox`)).rows[0].n;
    expect(pending).toBe(0);
  });

  it('a full backfill killed during its push phase resumes the push without pulling the workspace again', async () => {
    await t.pool.query(
      `INSERT INTO intercom.contacts (external_id, email, name)
       SELECT 'resumed-' || i, 'resumed' || i || '@example.org', 'Resumed ' || i FROM generate_series(1, 150) AS i`,
    );
    await h.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts', kind: 'latency', latency_ms: 200 });
    const creates = async () => (await h.stats()).by_route['POST /contacts']?.['200'] ?? 0;
    const createsBefore = await creates();
    const first = backfill([]);
    // Progress is reported per drain round, so the kill is timed on what Intercom has received: 40 of 150 creates.
    for (let i = 0; i < 600 && (await creates()) - createsBefore < 40; i++) await new Promise((r) => setTimeout(r, 50));
    first.kill();
    expect(await first.exited, first.stderr()).toMatchObject({ signal: 'SIGKILL' });
    await h.control('DELETE', '/__sim/faults');
    const remaining = (await t.pool.query(`SELECT count(*)::int AS n FROM intercom.sync_outbox WHERE status = 'pending'`)).rows[0].n as number;
    expect(remaining).toBeGreaterThan(0);

    const before = await h.stats();
    const second = backfill(['--resume']);
    expect((await second.exited).code, second.stderr()).toBe(0);
    const after = await h.stats();
    const delta = (route: string) =>
      Object.values(after.by_route[route] ?? {}).reduce((a, b) => a + b, 0) - Object.values(before.by_route[route] ?? {}).reduce((a, b) => a + b, 0);
    const done = second.lines.find((l) => l.event === 'done')!;
    const phases = (done.phases as { phase: string; requests: number }[]).map((p) => p.phase);
    console.log(`backfill --resume after a kill in the push phase: ${remaining} entries left, ${after.total - before.total} requests, phases ${phases.join(', ')}`);
    // No listing, no scroll: only the pushes that were left (a search and a create at most for each new contact).
    expect(delta('GET /contacts')).toBe(0);
    expect(delta('GET /companies/scroll')).toBe(0);
    expect(phases).toEqual(['push']);
    expect(after.total - before.total).toBeLessThanOrEqual(remaining * 2 + 2);
    const pushedLocal = (await t.pool.query(`SELECT count(*)::int AS n FROM intercom.contacts WHERE external_id LIKE 'resumed-%' AND intercom_id IS NOT NULL`)).rows[0].n;
    expect(pushedLocal).toBe(150);
    const runs = (await t.pool.query(`SELECT status FROM intercom.sync_runs WHERE kind = 'backfill' ORDER BY id DESC LIMIT 2`)).rows.map((r) => r.status);
    expect(runs).toEqual(['succeeded', 'aborted']);
  });
});
