import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiUsageRecorder } from '../../src/db/queries/api-usage.ts';
import { reportQueries, type ReportName } from '../../src/db/queries/reports.ts';
import { formatReport, parseReportName } from '../../src/reports/index.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;

/**
 * One prepared scenario, written straight into the tables (data rows in sync-apply mode so the triggers stay out of
 * it), and the rows each report view must return for it.
 */
describe('report views', () => {
  let t: TestDatabase;
  const ids: Record<string, number> = {};
  const report = (name: ReportName) => reportQueries('intercom').run(t.pool, name);

  beforeAll(async () => {
    t = await createTestDatabase();
    const c = await t.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT set_config('intercom_sync.applying', 'on', true)`);
      const contact = async (key: string, cols: Record<string, unknown>) => {
        const names = Object.keys(cols);
        const r = await c.query<{ id: number }>(
          `INSERT INTO intercom.contacts (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
          Object.values(cols),
        );
        ids[key] = r.rows[0]!.id;
      };
      await contact('linked', { external_id: 'ext-1', email: 'a@x.com', intercom_id: 'ic-1' });
      await contact('dupLead', { role: 'lead', email: 'A@X.com' });
      await contact('mergedAway', { role: 'lead', email: 'b@x.com' });
      await contact('deletedDup', { external_id: 'ext-4', email: 'a@x.com', deleted_at: new Date() });
      await contact('wantsMerge', { role: 'lead', email: 'c@x.com', intercom_id: 'ic-5' });
      await contact('ambiguous', { external_id: 'ext-6', email: 'd@x.com' });
      await c.query(`UPDATE intercom.contacts SET merge_into_id = $1 WHERE id = $2`, [ids.linked, ids.wantsMerge]);
      const co = await c.query<{ id: number }>(
        `INSERT INTO intercom.companies (company_id, name, intercom_id) VALUES ('co-1', 'Linked', 'icc-1'), ('co-2', 'Stuck', NULL) RETURNING id`,
      );
      ids.co1 = co.rows[0]!.id;
      ids.co2 = co.rows[1]!.id;

      await c.query(
        `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into) VALUES
           ('contact', $1, 'ic-1', 'ext-1', 'active', NULL, NULL),
           ('contact', $2, NULL, 'b@x.com', 'merged', 'merged in Intercom', 'ic-1'),
           ('contact', $3, 'ic-5', 'c@x.com', 'active', NULL, NULL),
           ('contact', $4, NULL, 'ext-6', 'ambiguous', 'two Intercom contacts share this email', NULL),
           ('company', $5, 'icc-1', 'co-1', 'active', NULL, NULL)`,
        [ids.linked, ids.mergedAway, ids.wantsMerge, ids.ambiguous, ids.co1],
      );
      await c.query(
        `INSERT INTO intercom.sync_outbox (entity_type, local_id, related_id, op, status, attempts, last_error, last_error_details, created_at) VALUES
           ('contact', $1, 0, 'upsert', 'pending', 0, NULL, NULL, now() - interval '300 seconds'),
           ('company', $2, 0, 'upsert', 'dead', 10, 'HTTP 400 parameter_invalid: Custom attribute ''x'' does not exist', '{"status": 400}', now() - interval '1 hour'),
           ('contact_company', $3, $4, 'attach', 'pending', 2, 'timeout after 30 s', NULL, now() - interval '60 seconds')`,
        [ids.dupLead, ids.co2, ids.linked, ids.co1],
      );
      await c.query(
        `INSERT INTO intercom.sync_runs (kind, status, started_at, finished_at, counts, requests, error) VALUES
           ('pull_contacts', 'succeeded', now() - interval '2 hours', now() - interval '2 hours' + interval '5 seconds', '{"updated": 3}', 2, NULL),
           ('pull_contacts', 'failed', now() - interval '1 hour', now() - interval '1 hour' + interval '1 second', '{}', 1, 'Intercom 503 after 5 retries'),
           ('push', 'succeeded', now() - interval '10 minutes', now() - interval '10 minutes', '{"created": 1}', 1, NULL),
           ('verify', 'aborted', now() - interval '3 hours', now() - interval '3 hours', '{}', 0, 'process ended before the run finished')`,
      );
      await c.query(
        `INSERT INTO intercom.sync_state (stream, watermark, cursor) VALUES
           ('contacts', now() - interval '120 seconds', NULL), ('backfill:contacts', NULL, 'cursor-abc')`,
      );
      await c.query(
        `INSERT INTO intercom.audit_log (at, direction, entity_type, local_id, intercom_id, external_key, action, changes, request_id, details) VALUES
           ('2031-03-04T10:00:00Z', 'pull', 'contact', $1, 'ic-1', 'ext-1', 'update', '{"name": {"before": "A", "after": "B"}}', NULL, NULL),
           ('2031-03-04T23:59:59Z', 'pull', 'contact', $1, 'ic-1', 'ext-1', 'update', '{}', NULL, NULL),
           ('2031-03-05T00:00:00Z', 'push', 'contact', $1, 'ic-1', 'ext-1', 'update', '{}', 'req-9', NULL),
           ('2031-03-05T08:00:00Z', 'pull', 'contact', $1, 'ic-1', 'ext-1', 'conflict',
              '{"phone": {"before": "1", "after": "2"}, "name": {"before": "B", "after": "C"}}', NULL, '{"policy": "newest_wins", "winner": "remote"}'),
           ('2031-03-05T09:00:00Z', 'pull', 'contact', $2, 'ic-2', 'b@x.com', 'merge', '{}', 'req-merge', '{"into": "ic-1"}'),
           ('2031-03-05T09:30:00Z', 'pull', 'company', NULL, 'icc-9', 'co-9', 'invalid', '{}', NULL, '{"reason": "monthly_spend out of range"}')`,
        [ids.linked, ids.mergedAway],
      );
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  });

  afterAll(async () => {
    await t.drop();
  });

  it('overview: one row per stream with last success, lag, watermark, outbox depth and dead letters', async () => {
    const { rows } = await report('overview');
    const by = Object.fromEntries(rows.map((r) => [r.stream as string, r]));
    expect(rows.map((r) => r.stream)).toEqual([
      'pull:contacts',
      'pull:companies',
      'push:contacts',
      'push:companies',
      'push:associations',
      'backfill:contacts',
      'backfill:companies',
      'verify:contacts',
      'verify:companies',
      'webhook',
    ]);
    const pull = by['pull:contacts']!;
    expect(pull.last_run_status).toBe('failed');
    expect(pull.last_error).toBe('Intercom 503 after 5 retries');
    expect(pull.last_success_at).toBeInstanceOf(Date);
    expect((pull.last_run_at as Date).getTime()).toBeGreaterThan((pull.last_success_at as Date).getTime());
    expect(pull.watermark).toBeInstanceOf(Date);
    // Lag is time since the last successful pull started (2 hours ago), not the watermark's age.
    expect(pull.lag_seconds).toBeGreaterThanOrEqual(7200);
    expect(pull.lag_seconds).toBeLessThan(7200 + 600);
    expect(pull.outbox_depth).toBeNull();
    expect(by['pull:companies']).toMatchObject({ last_run_status: null, last_success_at: null, lag_seconds: null });
    expect(by['push:contacts']).toMatchObject({ last_run_status: 'succeeded', outbox_depth: 1, dead_letters: 0 });
    expect(by['push:contacts']!.lag_seconds).toBeGreaterThanOrEqual(300);
    expect(by['push:companies']).toMatchObject({ outbox_depth: 0, dead_letters: 1, lag_seconds: null });
    expect(by['push:associations']).toMatchObject({ outbox_depth: 1, dead_letters: 0 });
    expect(by['backfill:contacts']).toMatchObject({ in_progress: true, last_run_status: null });
    expect(by['verify:contacts']).toMatchObject({ last_run_status: 'aborted', last_success_at: null, in_progress: false });
  });

  it('daily_activity: audit rows counted per UTC day, direction, entity and action', async () => {
    const { rows } = await report('daily_activity');
    expect(rows).toEqual([
      { day: '2031-03-05', direction: 'pull', entity_type: 'company', action: 'invalid', count: 1 },
      { day: '2031-03-05', direction: 'pull', entity_type: 'contact', action: 'conflict', count: 1 },
      { day: '2031-03-05', direction: 'pull', entity_type: 'contact', action: 'merge', count: 1 },
      { day: '2031-03-05', direction: 'push', entity_type: 'contact', action: 'update', count: 1 },
      { day: '2031-03-04', direction: 'pull', entity_type: 'contact', action: 'update', count: 2 },
    ]);
  });

  it('conflicts: the fields both sides changed and the resolution details', async () => {
    const { rows } = await report('conflicts');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      direction: 'pull',
      entity_type: 'contact',
      local_id: ids.linked,
      intercom_id: 'ic-1',
      fields: ['name', 'phone'],
      policy: 'newest_wins',
      winner: 'remote',
      details: { policy: 'newest_wins', winner: 'remote' },
      mapping_status: 'active',
    });
  });

  it('merges: merged contacts with their survivor, and merges requested but not done', async () => {
    const { rows } = await report('merges');
    const merged = rows.find((r) => r.state === 'merged');
    const requested = rows.find((r) => r.state === 'requested');
    expect(rows).toHaveLength(2);
    expect(merged).toMatchObject({
      entity_type: 'contact',
      local_id: ids.mergedAway,
      from_intercom_id: 'ic-2',
      into_intercom_id: 'ic-1',
      into_local_id: ids.linked,
      direction: 'pull',
      reason: 'merged in Intercom',
      request_id: 'req-merge',
    });
    expect((merged!.at as Date).toISOString()).toBe('2031-03-05T09:00:00.000Z');
    expect(requested).toMatchObject({
      local_id: ids.wantsMerge,
      from_intercom_id: 'ic-5',
      into_intercom_id: 'ic-1',
      into_local_id: ids.linked,
    });
  });

  it('errors: dead letters, retrying entries, failed runs, stuck mappings and invalid records with reasons', async () => {
    const { rows } = await report('errors');
    const summary = rows.map((r) => [r.kind, r.entity_type, r.reason]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(summary).toEqual([
      ['dead_letter', 'company', `HTTP 400 parameter_invalid: Custom attribute 'x' does not exist`],
      ['failed_run', null, 'Intercom 503 after 5 retries'],
      ['failed_run', null, 'process ended before the run finished'],
      ['invalid', 'company', 'monthly_spend out of range'],
      ['mapping_ambiguous', 'contact', 'two Intercom contacts share this email'],
      ['retrying', 'contact_company', 'timeout after 30 s'],
    ]);
    const dead = rows.find((r) => r.kind === 'dead_letter')!;
    expect(dead).toMatchObject({ local_id: ids.co2, attempts: 10, operation: 'upsert', details: { status: 400 } });
    const retrying = rows.find((r) => r.kind === 'retrying')!;
    expect(retrying).toMatchObject({ local_id: ids.linked, related_id: ids.co1, intercom_id: null, attempts: 2 });
  });

  it('api_usage: the recorder buffers requests and the view splits them by hour, endpoint and answer class', async () => {
    const recorder = createApiUsageRecorder(t.pool, 'intercom', { flushIntervalMs: 60_000 });
    const h10 = new Date('2031-03-05T10:15:00Z');
    const h11 = new Date('2031-03-05T11:59:59Z');
    const rec = (endpoint: string, status: number | null, durationMs: number, priority: string, at: Date) =>
      recorder.record({ method: endpoint.split(' ')[0]!, endpoint, status, durationMs, requestId: null, priority, at });
    rec('POST /contacts/search', 200, 100, 'pull', h10);
    rec('POST /contacts/search', 200, 300, 'pull', h10);
    rec('POST /contacts/search', 429, 20, 'pull', h10);
    rec('PUT /contacts/{id}', 200, 50, 'push', h10);
    await recorder.flush();
    // A second flush adds to the stored counts rather than replacing them.
    rec('POST /contacts/search', 200, 200, 'backfill', h10);
    rec('POST /contacts/search', null, 30_000, 'pull', h10);
    rec('PUT /contacts/{id}', 503, 70, 'push', h11);
    rec('PUT /contacts/{id}', 404, 30, 'push', h11);
    await recorder.close();
    recorder.record({ method: 'GET', endpoint: 'GET /me', status: 200, durationMs: 1, requestId: null, priority: 'pull', at: h10 });
    await recorder.flush();

    const { rows } = await report('api_usage');
    expect(rows).toEqual([
      {
        hour: new Date('2031-03-05T11:00:00Z'),
        endpoint: 'PUT /contacts/{id}',
        requests: 2,
        ok: 0,
        rate_limited: 0,
        client_errors: 1,
        server_errors: 1,
        no_answer: 0,
        avg_ms: 50,
        by_priority: { push: 2 },
      },
      {
        hour: new Date('2031-03-05T10:00:00Z'),
        endpoint: 'POST /contacts/search',
        requests: 5,
        ok: 3,
        rate_limited: 1,
        client_errors: 0,
        server_errors: 0,
        no_answer: 1,
        avg_ms: 6124,
        by_priority: { backfill: 1, pull: 4 },
      },
      {
        hour: new Date('2031-03-05T10:00:00Z'),
        endpoint: 'PUT /contacts/{id}',
        requests: 1,
        ok: 1,
        rate_limited: 0,
        client_errors: 0,
        server_errors: 0,
        no_answer: 0,
        avg_ms: 50,
        by_priority: { push: 1 },
      },
    ]);
  });

  it('duplicates: emails shared by several live contacts, case-insensitively', async () => {
    const { rows } = await report('duplicates');
    expect(rows).toEqual([
      {
        email: 'a@x.com',
        contacts: 2,
        local_ids: [ids.linked, ids.dupLead],
        intercom_ids: ['ic-1', null],
        external_ids: ['ext-1', null],
        roles: ['user', 'lead'],
      },
    ]);
  });

  it('unlinked: live rows with no Intercom record, with their outbox state', async () => {
    const { rows } = await report('unlinked');
    expect(rows.map((r) => [r.entity_type, r.local_id, r.key, r.mapping_status, r.outbox_status, r.last_error])).toEqual([
      ['company', ids.co2, 'co-2', null, 'dead', `HTTP 400 parameter_invalid: Custom attribute 'x' does not exist`],
      ['contact', ids.dupLead, 'A@X.com', null, 'pending', null],
      ['contact', ids.ambiguous, 'ext-6', 'ambiguous', null, null],
    ]);
  });

  it('CLI: report prints csv, status prints the overview table', async () => {
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: t.url, LOG_LEVEL: 'silent' };
    const csv = await run(process.execPath, [BIN, 'report', 'duplicates', '--format', 'csv'], { env });
    expect(csv.stdout).toBe(
      `email,contacts,local_ids,intercom_ids,external_ids,roles\r\n` +
        `a@x.com,2,"[${ids.linked},${ids.dupLead}]","[""ic-1"",null]","[""ext-1"",null]","[""user"",""lead""]"\r\n`,
    );
    const status = await run(process.execPath, [BIN, 'status'], { env });
    const lines = status.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^stream\s+run_kind\s+last_run_at/);
    expect(lines[1]).toMatch(/^-+\s+-+/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).toContain('push:companies');
  });
});

describe('report formatting', () => {
  const data = {
    columns: ['day', 'n', 'at', 'ids', 'note'],
    rows: [
      { day: '2031-03-05', n: 12, at: new Date('2031-03-05T10:00:00Z'), ids: [1, 2], note: 'a, "quoted"\nline' },
      { day: '2031-03-04', n: 3, at: null, ids: [], note: null },
    ],
  };

  it('json: one array of objects in column order, timestamps in ISO', () => {
    expect(JSON.parse(formatReport(data, 'json'))).toEqual([
      { day: '2031-03-05', n: 12, at: '2031-03-05T10:00:00.000Z', ids: [1, 2], note: 'a, "quoted"\nline' },
      { day: '2031-03-04', n: 3, at: null, ids: [], note: null },
    ]);
  });

  it('csv: RFC 4180 quoting, empty for null, JSON for arrays', () => {
    expect(formatReport(data, 'csv')).toBe(
      'day,n,at,ids,note\r\n2031-03-05,12,2031-03-05T10:00:00.000Z,"[1,2]","a, ""quoted""\nline"\r\n2031-03-04,3,,[],\r\n',
    );
  });

  it('table: aligned columns, numbers right-aligned, long cells cut, "(no rows)" when empty', () => {
    const out = formatReport({ columns: ['name', 'n'], rows: [{ name: 'x'.repeat(10), n: 5 }, { name: 'y', n: 120 }] }, 'table', { maxCellWidth: 6 });
    expect(out).toBe('name      n\n------  ---\nxxxxx…    5\ny       120\n');
    expect(formatReport({ columns: ['a', 'b'], rows: [] }, 'table')).toBe('a  b\n(no rows)\n');
  });

  it('report names accept dashes; unknown names are refused', () => {
    expect(parseReportName('daily-activity')).toBe('daily_activity');
    expect(parseReportName('API_USAGE')).toBe('api_usage');
    expect(parseReportName('nope')).toBeNull();
  });
});
