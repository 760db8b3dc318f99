import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { parsePrometheusText } from '../http/prom-text.ts';
import { waitFor } from './helpers.ts';
import { getJson, spawnDaemon, type DaemonProcess } from './process-helpers.ts';

/**
 * Halts somebody sees, and scoped permissions, in the daemon as operators run it (docs/guarantees.md, "Availability"):
 * a running `intercom-sync run` against the simulator's realistic profile. The token is revoked and restored, and a
 * permission is withdrawn from one endpoint, while the daemon runs; nothing is restarted.
 */
let tdb: TestDatabase;
let sim: RunningSimulator;
let d: DaemonProcess;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0, profile: 'realistic', latency: null, html403Probability: 0, seedContacts: 5, seedCompanies: 2 });
  d = await spawnDaemon('avail', {
    DATABASE_URL: tdb.url,
    INTERCOM_BASE_URL: sim.url,
    INTERCOM_ACCESS_TOKEN: sim.token,
    INTERCOM_RATE_LIMIT_PER_MINUTE: '6000',
    CONTACTS_PULL_CRON: '*/2 * * * * *',
    COMPANIES_PULL_CRON: '*/2 * * * * *',
    OUTBOX_SWEEP_CRON: '* * * * * *',
    VERIFY_CRON: '0 0 1 1 *',
  });
});

afterAll(async () => {
  if (d?.alive()) d.child.kill('SIGTERM');
  await d?.exited;
  await sim?.close();
  await tdb?.drop();
});

const readyz = async () => (await getJson(`${d.url}/readyz`)) ?? { status: 0, body: {} };
const metric = async (name: string, labels: Record<string, string> = {}) => {
  const { samples } = parsePrometheusText(await (await fetch(`${d.url}/metrics`)).text());
  return samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
};
const sql = async <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
  (await tdb.pool.query<T>(text, values)).rows;
const withOutput = (err: unknown) => {
  throw new Error(`${(err as Error).message}\n--- daemon output ---\n${d.output().slice(-4000)}`);
};

describe('a token refused everywhere', () => {
  it('halts visibly (readyz, halted runs, status, report errors, metric) and recovers by itself', async () => {
    await waitFor('daemon ready', async () => (await readyz()).status === 200, 30_000).catch(withOutput);
    sim.tokens.delete(sim.token);
    const [row] = await sql<{ id: string }>(
      `INSERT INTO intercom.contacts (external_id, role, email, name) VALUES ('halt-1', 'user', 'halt-1@example.com', 'Halt') RETURNING id`,
    );

    const r = await waitFor('readyz to say the token is refused', async () => {
      const x = await readyz();
      return x.status === 503 && JSON.stringify(x.body).includes('access token') ? x : null;
    }).catch(withOutput);
    expect(JSON.stringify(r.body)).toMatch(/Intercom rejected the access token/);
    // Liveness stays 200: the process recovers by itself, a restart would not help.
    expect((await getJson(`${d.url}/healthz`))?.status).toBe(200);

    await waitFor('halted runs in sync_runs', async () =>
      (await sql(`SELECT 1 FROM intercom.sync_runs WHERE status = 'halted' AND kind = 'push'`)).length > 0,
    ).catch(withOutput);
    // Each error names its own request: the one that met the 401, or one not sent because of it; never another's
    // (the companies pull used to report `POST /contacts/search`).
    const [pull] = await waitFor('a halted companies pull', async () => {
      const rows = await sql<{ error: string }>(`SELECT error FROM intercom.sync_runs WHERE status = 'halted' AND kind = 'pull_companies'`);
      return rows.length > 0 ? rows : null;
    }).catch(withOutput);
    expect(pull!.error).toMatch(/^Intercom GET \/companies\/scroll (not sent|failed with 401)/);
    const overview = await sql<{ stream: string; last_run_status: string }>(`SELECT stream, last_run_status FROM intercom.report_overview`);
    expect(overview).toContainEqual({ stream: 'intercom:token', last_run_status: 'halted' });
    // The latest finished push run is halted (the latest of all may still be running).
    const [lastPush] = await sql<{ status: string }>(
      `SELECT status FROM intercom.sync_runs WHERE kind = 'push' AND status <> 'running' ORDER BY id DESC LIMIT 1`,
    );
    expect(lastPush!.status).toBe('halted');
    const errors = await sql<{ kind: string }>(`SELECT kind FROM intercom.report_errors`);
    expect(errors.map((e) => e.kind)).toContain('token_refused');
    expect(errors.map((e) => e.kind)).toContain('failed_run');
    expect((await metric('intercom_sync_intercom_authorization_halted'))).toBe(1);
    // No push run during the halt is called a success: every sweep that started once the halt was recorded.
    await waitFor('two more sweeps', async () =>
      (await sql(`SELECT 1 FROM intercom.sync_runs WHERE kind = 'push' AND status <> 'running' AND started_at > (SELECT min(finished_at) FROM intercom.sync_runs WHERE status = 'halted')`)).length >= 2,
    ).catch(withOutput);
    const since = await sql<{ status: string }>(
      `SELECT status FROM intercom.sync_runs WHERE kind = 'push' AND status <> 'running' AND started_at > (SELECT min(finished_at) FROM intercom.sync_runs WHERE status = 'halted')`,
    );
    expect(since.every((r) => r.status === 'halted'), JSON.stringify(since)).toBe(true);

    // The token works again: the daemon finds out by itself (GET /me on a back-off) and pushes the waiting change.
    sim.tokens.add(sim.token);
    await waitFor('readyz ready again', async () => (await readyz()).status === 200, 60_000).catch(withOutput);
    await waitFor('the waiting change reached Intercom', async () =>
      (await sql(`SELECT 1 FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = $1 AND intercom_id IS NOT NULL`, [row!.id])).length > 0,
    60_000).catch(withOutput);
    await waitFor('the refusal row is cleared', async () =>
      (await sql(`SELECT 1 FROM intercom.intercom_access WHERE endpoint = '*'`)).length === 0,
    ).catch(withOutput);
    expect((await metric('intercom_sync_intercom_authorization_halted'))).toBe(0);
  }, 150_000);
});

describe('a permission withdrawn from one endpoint', () => {
  it('disables only what needs it, names endpoint and permission, and the rest keeps syncing', async () => {
    sim.state.applySettings({ scopeDenied: [{ method: 'PUT', path: '/contacts/{id}', status: 403 }] });
    await sql(`UPDATE intercom.contacts SET name = 'Denied edit' WHERE external_id = 'halt-1'`);
    await sql(`INSERT INTO intercom.companies (company_id, name) VALUES ('scoped-co', 'Still syncs')`);

    await waitFor('the refusal recorded', async () =>
      (await sql(`SELECT 1 FROM intercom.intercom_access WHERE endpoint = 'PUT /contacts/{id}'`)).length > 0,
    ).catch(withOutput);
    // Companies still push.
    await waitFor('the company reached Intercom', async () =>
      (await sql(`SELECT 1 FROM intercom.sync_mappings WHERE entity_type = 'company' AND intercom_id IS NOT NULL AND local_id = (SELECT id FROM intercom.companies WHERE company_id = 'scoped-co')`)).length > 0,
    ).catch(withOutput);

    const r = await readyz();
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.body)).toContain('PUT /contacts/{id} (needs \\"Write users and companies\\")');
    const errors = await sql<{ kind: string; operation: string; details: { permission: string } }>(
      `SELECT kind, operation, details FROM intercom.report_errors WHERE kind = 'permission_denied'`,
    );
    expect(errors).toEqual([expect.objectContaining({ operation: 'PUT /contacts/{id}', details: expect.objectContaining({ permission: 'Write users and companies' }) })]);
    const overview = await sql<{ stream: string; last_run_status: string }>(`SELECT stream, last_run_status FROM intercom.report_overview`);
    expect(overview).toContainEqual({ stream: 'intercom:PUT /contacts/{id}', last_run_status: 'denied' });
    expect((await metric('intercom_sync_intercom_endpoint_denied', { endpoint: 'PUT /contacts/{id}', permission: 'Write users and companies' }))).toBe(1);
    // The edit waits: pending, no attempt counted, never dead.
    const [entry] = await sql<{ status: string; attempts: number }>(
      `SELECT o.status, o.attempts FROM intercom.sync_outbox o JOIN intercom.contacts c ON c.id = o.local_id WHERE o.entity_type = 'contact' AND c.external_id = 'halt-1'`,
    );
    expect(entry).toEqual({ status: 'pending', attempts: 0 });
  }, 90_000);
});
