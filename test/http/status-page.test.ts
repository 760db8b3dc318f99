import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQueries } from '../../src/db/queries/status.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import type { HttpServer } from '../../src/http/server.ts';
import type { StatusPageOptions } from '../../src/http/status-page.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silentLogger } from '../daemon/helpers.ts';
import { startMinimalServer } from './minimal-server.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;

// Names and emails come from users: each of these must come out as text, never as markup.
const HOSTILE_NAME = `</textarea><script>alert("name")</script>`;
const HOSTILE_EMAIL = `"><img/src=x/onerror=alert(1)>@evil.example`;
const HOSTILE_REASON = `</td></tr><script>alert('reason')</script> for ann.person@example.com`;
const TOKEN = 'status-token-0123456789abcdef';

let tdb: TestDatabase;
const servers: HttpServer[] = [];
let contactId: number;

async function serve(statusPage: Partial<StatusPageOptions> | null): Promise<string> {
  const { server, url } = await startMinimalServer(
    createMetrics({}, silentLogger),
    statusPage === null
      ? null
      : {
          token: undefined,
          pii: false,
          budgetPerMinute: 500,
          schema: 'intercom',
          load: (hours) => statusQueries('intercom').snapshot(tdb.pool, hours),
          ...statusPage,
        },
  );
  servers.push(server);
  return url;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  const q = (text: string, values: unknown[] = []) => tdb.pool.query(text, values);
  // A contact whose change is stuck: the trigger enqueues it; it is then marked dead with a hostile reason.
  contactId = (
    await q(`INSERT INTO intercom.contacts (external_id, email, name) VALUES ($1, $2, $3) RETURNING id`, [HOSTILE_EMAIL, HOSTILE_EMAIL, HOSTILE_NAME])
  ).rows[0].id as number;
  await q(`UPDATE intercom.sync_outbox SET status = 'dead', attempts = 10, last_error = $1 WHERE local_id = $2`, [HOSTILE_REASON, contactId]);
  await q(`INSERT INTO intercom.contacts (email, name) VALUES ('waiting@example.com', 'Waiting')`);
  await q(
    `INSERT INTO intercom.audit_log (direction, entity_type, local_id, external_key, action, changes, details)
     VALUES ('pull', 'contact', $1, $2, 'conflict', $3, '{"policy":"newest_wins","winner":"remote"}')`,
    [contactId, HOSTILE_EMAIL, JSON.stringify({ name: { before: HOSTILE_NAME, after: 'x' }, '<b>field</b>': { before: 1, after: 2 } })],
  );
  await q(
    `INSERT INTO intercom.sync_mappings (entity_type, local_id, intercom_id, external_key, status, merged_into, status_reason)
     VALUES ('contact', 999, 'lead-1', $1, 'merged', 'user-1', $2)`,
    [HOSTILE_EMAIL, HOSTILE_REASON],
  );
  await q(`INSERT INTO intercom.sync_runs (kind, status, finished_at, error) VALUES ('pull_contacts', 'failed', now(), $1)`, [HOSTILE_REASON]);
  const status = statusQueries('intercom');
  const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  await status.addRequests(tdb.pool, [
    { minute: new Date(minute.getTime() - 120_000), requests: 420, rateLimited: 3 },
    { minute, requests: 37, rateLimited: 0 },
  ]);
  await status.sampleOutbox(tdb.pool);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tdb.drop();
});

describe('status page content', () => {
  let html: string;
  let res: Response;
  beforeAll(async () => {
    res = await fetch(await serve({}));
    html = await res.text();
  });

  it('is a self-refreshing, self-contained HTML page', () => {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).toMatch(/<meta http-equiv="refresh" content="30">/);
    // No external asset and no script at all: works offline and under the CSP.
    expect(html).not.toMatch(/<script|<link |src="http|href="http/i);
  });

  it('shows streams with health and lag, outbox, dead letters with reason and requeue command, conflicts, merges', () => {
    for (const stream of ['pull:contacts', 'pull:companies', 'push:contacts', 'push:companies', 'push:associations']) {
      expect(html).toContain(`<code>${stream}</code>`);
    }
    expect(html).toContain('<span class="badge failing">failing</span>');
    expect(html).toContain(`<code>intercom-sync requeue --entity contact --id ${contactId}</code>`);
    expect(html).toMatch(/Dead letters \(1\)/);
    expect(html).toMatch(/Conflicts in the last 24 hours \(1\)/);
    expect(html).toMatch(/Merges in the last 24 hours \(1\)/);
    expect(html).toContain(' → <code>user-1</code>');
    // The requests chart carries the budget line and the day's figures: 457 requests, 3 of them 429s.
    expect(html).toContain('budget 500/min');
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain('<div class="card-value">457</div>');
    expect(html).toContain('peak 420/min of 500/min budget');
  });

  it('escapes every user-supplied value', () => {
    expect(html).toContain('&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;field&lt;/b&gt;');
    expect(html).not.toContain('</textarea>');
    expect(html).not.toContain('onerror=alert(1)>');
  });

  it('hides personal data unless LOG_PII=true', async () => {
    expect(html).not.toContain('ann.person@example.com');
    expect(html).toContain('[email hidden]');
    expect(html).not.toContain('evil.example');
    const shown = await (await fetch(await serve({ pii: true }))).text();
    expect(shown).toContain('ann.person@example.com');
    expect(shown).toContain('&quot;&gt;&lt;img/src=x/onerror=alert(1)&gt;@evil.example');
    expect(shown).not.toMatch(/<script|<img/i);
  });
});

describe('status page access', () => {
  it('with STATUS_PAGE_TOKEN answers only to the bearer header or ?token=', async () => {
    const base = await serve({ token: TOKEN });
    const none = await fetch(base);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(await none.text()).not.toContain('pull:contacts');
    expect((await fetch(base, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await fetch(`${base}/?token=${TOKEN.slice(0, -1)}`)).status).toBe(401);
    expect((await fetch(base, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const viaQuery = await fetch(`${base}/?token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('is read-only: other methods are refused and viewing it writes nothing', async () => {
    const base = await serve({});
    const counts = () =>
      tdb.pool
        .query(
          `SELECT (SELECT count(*) FROM intercom.sync_outbox) o, (SELECT count(*) FROM intercom.audit_log) a,
                  (SELECT count(*) FROM intercom.sync_runs) r, (SELECT sum(requests) FROM intercom.status_samples) s`,
        )
        .then((r) => r.rows[0]);
    const before = await counts();
    for (const method of ['POST', 'PUT', 'DELETE']) expect((await fetch(base, { method })).status).toBe(405);
    expect((await fetch(base)).status).toBe(200);
    expect(await counts()).toEqual(before);
  });

  it('is gone with STATUS_PAGE=off', async () => {
    const base = await serve(null);
    expect((await fetch(base)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('intercom-sync report --format html', () => {
  const env = () => ({ PATH: process.env.PATH ?? '', DATABASE_URL: tdb.url, LOG_LEVEL: 'silent' });

  it('writes the whole status page for overview, to a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'status-html-'));
    try {
      const file = join(dir, 'status.html');
      await run(process.execPath, [BIN, 'report', 'overview', '--format', 'html', '--output', file], { env: env() });
      const html = await readFile(file, 'utf8');
      expect(html).toContain(`<code>intercom-sync requeue --entity contact --id ${contactId}</code>`);
      expect(html).toContain('budget 500/min');
      // A saved file does not reload itself.
      expect(html).not.toContain('http-equiv="refresh"');
      expect(html).not.toContain('ann.person@example.com');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes any other report as an escaped table on stdout', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'report', 'errors', '--format', 'html'], { env: { ...env(), LOG_PII: 'true' } });
    expect(stdout).toMatch(/^<!doctype html>/);
    expect(stdout).toContain('&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;');
    expect(stdout).toContain('ann.person@example.com');
    expect(stdout).not.toMatch(/<script/i);
  });
});
