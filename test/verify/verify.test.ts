import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { createVerifyStore } from '../../src/db/queries/verify.ts';
import type { IntercomGateway } from '../../src/intercom/gateway.ts';
import { createPullEngine, type PullEngine } from '../../src/sync/pull/index.ts';
import { COMPANY_SCROLL_LOCK, createVerifyEngine, type SweepReport, type VerifyEngine } from '../../src/sync/verify/index.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { harness, silentLogger, type Harness } from '../intercom/helpers.ts';

type Inspect = { contact: { id: string; email: string | null; role: string } };

/**
 * The drift sweep against the simulator and real Postgres: the workspace is pulled once, then changed behind the
 * incremental pull's back (a silent edit that keeps updated_at, a deletion, an archive, a lead merged away, a
 * deleted company), and verify must find and repair each of them — and resume where its budget stopped it.
 */
describe('verify (drift sweep)', () => {
  let t: TestDatabase;
  let h: Harness;
  let gateway: IntercomGateway;
  let pull: PullEngine;
  let engine: VerifyEngine;
  const signal = new AbortController().signal;
  const ids: Record<string, string> = {};

  const mapping = async (entity: 'contact' | 'company', intercomId: string) =>
    (
      await t.pool.query<{ local_id: number; status: string; merged_into: string | null }>(
        `SELECT local_id, status, merged_into FROM intercom.sync_mappings WHERE entity_type = $1 AND (intercom_id = $2 OR status_reason LIKE '%' || $2 || '%')`,
        [entity, intercomId],
      )
    ).rows[0];

  beforeAll(async () => {
    t = await createTestDatabase();
    h = await harness({ seed: 7, seedContacts: 70, seedCompanies: 6 });
    gateway = h.gateway();
    // A user without email and a lead with one: after the merge the user carries the lead's email, which is how the
    // pull engine's identity resolution recognises the survivor.
    ids.user = ((await h.control('POST', '/__sim/contacts', { role: 'user', external_id: 'ext-survivor', name: 'Survivor' })) as Inspect).contact.id;
    ids.lead = ((await h.control('POST', '/__sim/contacts', { role: 'lead', email: 'merged-lead@example.com', name: 'Lead' })) as Inspect).contact.id;
    pull = createPullEngine({
      gateway,
      store: createPullStore(t.pool, 'intercom'),
      logger: silentLogger,
      config: { lookbackSeconds: 900, conflictPolicy: 'newest_wins', timezone: 'UTC' },
    });
    await pull.fullPullCompanies({ signal });
    await pull.fullPullContacts({ signal, resume: false });
    engine = createVerifyEngine({ gateway, store: createVerifyStore(t.pool, 'intercom'), pull, logger: silentLogger, config: { pageSize: 25 } });
  });

  afterAll(async () => {
    await Promise.all(h.gateways.map((g) => g.close()));
    await h.close();
    await t.drop();
  });

  it('a first sweep over a workspace in sync repairs nothing and completes both passes', async () => {
    const r = await engine.verify({ signal, runId: null, budget: 1000 });
    const contacts = r.details!.contacts as SweepReport;
    const companies = r.details!.companies as SweepReport;
    expect(contacts).toMatchObject({ listed: 72, inSync: 72, drifted: 0, passCompleted: true, repaired: {} });
    expect(companies.passCompleted).toBe(true);
    expect(companies.drifted).toBe(0);
    expect(companies.listed).toBeGreaterThan(0);
    // List pages of 25, one scroll page and the scroll's empty last page; nothing to look up one by one.
    expect(r.requests).toBe(Math.ceil(72 / 25) + 2);
  });

  it('finds and repairs what incremental pulls cannot see', async () => {
    const page = await gateway.listContacts({ perPage: 10 });
    const users = page.data.filter((c) => c.role === 'user' && c.id !== ids.user);
    const [silent, tagged, deleted, archived] = users.map((c) => c.id);
    await h.control('PATCH', `/__sim/contacts/${silent}?silent=true`, { name: 'Renamed Silently' });
    await h.control('POST', `/__sim/contacts/${tagged}/tag`, { name: 'vip' });
    await h.control('DELETE', `/__sim/contacts/${deleted}`);
    await h.control('POST', `/__sim/contacts/${archived}/archive`);
    ids.archived = archived!;
    await h.control('POST', '/__sim/merge', { from: ids.lead, into: ids.user });
    const companies = await gateway.scrollCompanies(null);
    await gateway.scrollCompanies(companies.scrollParam); // closes the scroll (one open per app)
    const [goneCompany, editedCompany] = companies.data.map((c) => c.id);
    await h.control('DELETE', `/__sim/companies/${goneCompany}`);
    await h.control('PATCH', `/__sim/companies/${editedCompany}`, { plan: 'renamed-plan' });
    const before = (await h.stats()).by_route;

    const r = await engine.verify({ signal, runId: null, budget: 1000 });
    const c = r.details!.contacts as SweepReport;
    expect(c.passCompleted).toBe(true);
    // The silent edit, and the survivor of the merge (it gained the lead's email); a tag is not a synced field.
    expect(c.drifted).toBe(2);
    expect(c.archived).toBe(1);
    expect(c.repaired).toEqual({ updated: 2, deleted: 1, merged: 1 });
    const co = r.details!.companies as SweepReport;
    expect(co.passCompleted).toBe(true);
    expect(co.repaired).toMatchObject({ deleted: 1, updated: 1 });

    const local = async (intercomId: string) =>
      (await t.pool.query(`SELECT name, deleted_at, merge_into_id FROM intercom.contacts c JOIN intercom.sync_mappings m ON m.entity_type = 'contact' AND m.local_id = c.id WHERE m.intercom_id = $1 OR m.merged_into = $1 OR m.status_reason LIKE '%' || $1 || '%'`, [intercomId])).rows;
    expect((await local(silent!))[0]).toMatchObject({ name: 'Renamed Silently' });
    expect(await mapping('contact', deleted!)).toMatchObject({ status: 'deleted' });
    expect(await mapping('contact', archived!)).toMatchObject({ status: 'archived' });
    const survivor = await mapping('contact', ids.user!);
    const lead = (await t.pool.query(`SELECT status, merged_into, local_id FROM intercom.sync_mappings WHERE merged_into = $1`, [ids.user])).rows[0];
    expect(lead).toMatchObject({ status: 'merged', merged_into: ids.user });
    const leadRow = (await t.pool.query(`SELECT merge_into_id FROM intercom.contacts WHERE id = $1`, [lead.local_id])).rows[0];
    expect(leadRow.merge_into_id).toBe(survivor!.local_id);
    expect(await mapping('company', goneCompany!)).toMatchObject({ status: 'deleted' });
    const plan = (await t.pool.query(`SELECT plan FROM intercom.companies WHERE intercom_id = $1`, [editedCompany])).rows[0];
    expect(plan).toEqual({ plan: 'renamed-plan' });

    const audit = (await t.pool.query(`SELECT action, intercom_id FROM intercom.audit_log WHERE action IN ('archive', 'merge', 'delete') ORDER BY id`)).rows;
    expect(audit).toEqual(
      expect.arrayContaining([
        { action: 'archive', intercom_id: archived },
        { action: 'merge', intercom_id: ids.lead },
        { action: 'delete', intercom_id: deleted },
        { action: 'delete', intercom_id: goneCompany },
      ]),
    );
    // Verify only reads Intercom.
    const after = (await h.stats()).by_route;
    for (const route of Object.keys(after)) {
      if (/^(POST|PUT|DELETE) /.test(route) && route !== 'POST /contacts/search') expect(after[route]).toEqual(before[route]);
    }

    // Repaired means repaired: the next sweep finds nothing.
    const again = await engine.verify({ signal, runId: null, budget: 1000 });
    expect((again.details!.contacts as SweepReport).drifted).toBe(0);
    expect((again.details!.contacts as SweepReport).repaired).toEqual({});
    expect((again.details!.companies as SweepReport).repaired).toEqual({});
  });

  it('relinks a contact unarchived in Intercom (it is listed again)', async () => {
    await h.control('POST', `/__sim/contacts/${ids.archived}/unarchive`);
    const gets = async () => Object.values((await h.stats()).by_route['GET /contacts/{id}'] ?? {}).reduce((n, v) => n + v, 0);
    const getsBefore = await gets();
    const r = await engine.verify({ signal, runId: null, budget: 1000, entity: 'contacts' });
    expect(r.details!.contacts).toMatchObject({ drifted: 1, missingChecked: 0, passCompleted: true });
    expect(await mapping('contact', ids.archived!)).toMatchObject({ status: 'active' });
    // Drift is applied from the listed payload: the repair reads nothing by id.
    expect(await gets()).toBe(getsBefore);
  });

  it('stops at its budget and resumes where it stopped, listing every contact once per pass', async () => {
    const page = await gateway.listContacts({ perPage: 150 });
    const visible = page.data.length;
    const late = page.data.filter((c) => c.role === 'user').at(-1)!.id;
    await h.control('PATCH', `/__sim/contacts/${late}?silent=true`, { name: 'Late Silent Edit' });

    const runs: SweepReport[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await engine.verify({ signal, runId: null, budget: 2, entity: 'contacts' });
      const c = r.details!.contacts as SweepReport;
      runs.push(c);
      if (c.passCompleted) break;
      expect(c.stoppedBy).toBe('budget');
    }
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.at(-1)!.passCompleted).toBe(true);
    expect(runs.reduce((n, c) => n + c.listed, 0)).toBe(visible);
    expect(runs.reduce((n, c) => n + (c.repaired.updated ?? 0), 0)).toBe(1);
    const name = (await t.pool.query(`SELECT name FROM intercom.contacts WHERE intercom_id = $1`, [late])).rows[0];
    expect(name).toEqual({ name: 'Late Silent Edit' });
    const state = (await t.pool.query(`SELECT cursor, watermark, details FROM intercom.sync_state WHERE stream = 'verify:contacts'`)).rows[0];
    expect(state.cursor).toBeNull();
    expect(state.watermark).toBeInstanceOf(Date);
    expect(state.details.lastPass.listed).toBe(visible);
  });

  it('starts the pass over when Intercom refuses a saved cursor', async () => {
    await t.pool.query(
      `UPDATE intercom.sync_state SET cursor = 'not-a-cursor', details = jsonb_build_object('passStartedAt', now()::text, 'phase', 'list')
        WHERE stream = 'verify:contacts'`,
    );
    const r = await engine.verify({ signal, runId: null, budget: 1000, entity: 'contacts' });
    const c = r.details!.contacts as SweepReport;
    expect(c.passCompleted).toBe(true);
    expect(c.listed).toBe((await gateway.listContacts({ perPage: 150 })).data.length);
  });

  it('does not open a company scroll while another holder (the pull engine) has one', async () => {
    const lock = await createPullStore(t.pool, 'intercom').tryAdvisoryLock(COMPANY_SCROLL_LOCK);
    expect(lock).not.toBeNull();
    try {
      const r = await engine.verify({ signal, runId: null, budget: 1000, entity: 'companies' });
      expect(r.details!.companies).toMatchObject({ stoppedBy: 'scroll_busy', listed: 0 });
    } finally {
      await lock!.release();
    }
    const r = await engine.verify({ signal, runId: null, budget: 1000, entity: 'companies' });
    expect(r.details!.companies).toMatchObject({ passCompleted: true });
  });

  it('a broken company scroll leaves the companies for the next run instead of failing the run', async () => {
    const noRetries = createVerifyEngine({
      gateway: h.gateway({ maxRetries: 0 }),
      store: createVerifyStore(t.pool, 'intercom'),
      pull,
      logger: silentLogger,
    });
    await h.control('POST', '/__sim/faults', { method: 'GET', path: '/companies/scroll', kind: 'status', status: 500, count: 1 });
    const broken = await noRetries.verify({ signal, runId: null, budget: 1000, entity: 'companies' });
    expect(broken.details!.companies).toMatchObject({ stoppedBy: 'scroll_failed', passCompleted: false });
    const next = await noRetries.verify({ signal, runId: null, budget: 1000, entity: 'companies' });
    expect(next.details!.companies).toMatchObject({ passCompleted: true });
  });

  it('runs one sweep at a time: a second one (say, the CLI while the daemon sweeps) skips', async () => {
    const lock = await createPullStore(t.pool, 'intercom').tryAdvisoryLock('verify');
    try {
      const r = await engine.verify({ signal, runId: null, budget: 1000 });
      expect(r).toMatchObject({ counts: { skipped: 1 }, requests: 0 });
    } finally {
      await lock!.release();
    }
  });
});

describe('isArchived', () => {
  const passStart = new Date('2031-01-01T12:00:00Z');
  const unix = (iso: string) => Date.parse(iso) / 1000;
  it('trusts the payload when it says, else treats an unlisted contact as archived unless it is too young to be indexed', async () => {
    const { isArchived } = await import('../../src/sync/verify/index.ts');
    expect(isArchived({ archived: false, createdAt: unix('2020-01-01T00:00:00Z') }, passStart)).toBe(false);
    expect(isArchived({ archived: true, createdAt: unix('2031-01-01T11:59:00Z') }, passStart)).toBe(true);
    expect(isArchived({ createdAt: unix('2031-01-01T11:00:00Z') }, passStart)).toBe(true);
    expect(isArchived({ createdAt: unix('2031-01-01T11:55:00Z') }, passStart)).toBe(false);
  });
});
