import { beforeEach, describe, expect, it } from 'vitest';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { usePullHarness } from './helpers.ts';

const h = usePullHarness();
beforeEach(async () => {
  await h.resetAll();
  await h.control('DELETE', '/faults');
});

describe('companies pull (scroll)', () => {
  it('pulls every company past the list ceiling, then only recent changes; invalid rows are audited', async () => {
    await h.control('PATCH', '/config', { company_list_ceiling: 60 });
    await h.control('POST', '/seed', { contacts: 200, companies: 130 });
    const engine = h.engine();
    const first = await engine.pullCompanies({});
    // Seeded companies without users (the last tenth) are invisible to scroll, as in Intercom.
    const visible = (await h.q(`SELECT count(*)::int AS n FROM intercom.companies`))[0].n;
    expect(first.counts.created).toBe(visible);
    expect(visible).toBeGreaterThan(60);
    const some = (await h.q(`SELECT intercom_id FROM intercom.companies ORDER BY id LIMIT 2`)).map((r) => r.intercom_id);
    await h.control('POST', '/clock', { advance_seconds: 3600 });
    await h.control('PATCH', `/companies/${some[0]}`, { name: 'Renamed Co' });
    await h.control('PATCH', `/companies/${some[1]}`, { size: -5 });
    const second = await engine.pullCompanies({});
    expect(second.counts).toMatchObject({ updated: 1, invalid: 1 });
    expect((await h.q(`SELECT name FROM intercom.companies WHERE intercom_id = $1`, [some[0]]))[0].name).toBe('Renamed Co');
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'invalid'`))[0].n).toBe(1);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox`))[0].n).toBe(0);
    await h.control('PATCH', '/config', { company_list_ceiling: 10000 });
  });

  it('skips when another process holds the scroll lock or another scroll is open; restarts after a 500', async () => {
    await h.control('POST', '/seed', { contacts: 120, companies: 60 });
    const engine = h.engine();
    const lock = await createPullStore(h.db.pool, h.db.schema).tryAdvisoryLock('companies-scroll');
    expect(lock).not.toBeNull();
    expect((await engine.pullCompanies({})).counts).toEqual({ skipped: 1 });
    await lock!.release();

    // Someone else's scroll is open in the workspace.
    const other = await fetch(`${h.sim.url}/companies/scroll`, { headers: { Authorization: `Bearer ${h.sim.token}` } });
    expect(other.status).toBe(200);
    expect((await engine.pullCompanies({})).counts).toEqual({ skipped: 1 });
    await h.control('POST', '/clock', { advance_seconds: 120 }); // the foreign scroll expires

    // A 500 mid-scroll (no gateway retries here) restarts the scroll from the beginning.
    await h.control('POST', '/faults', { method: 'GET', path: '/companies/scroll', kind: 'status', status: 500, count: 1 });
    const r = await h.engine({}, h.newGateway({ maxRetries: 0 })).pullCompanies({});
    expect(r.details).toMatchObject({ restarts: 1 });
    expect(r.counts.created).toBe((await h.q(`SELECT count(*)::int AS n FROM intercom.companies`))[0].n);
    expect(r.counts.created).toBeGreaterThan(50);
  });
});
