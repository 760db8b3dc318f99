import { beforeEach, describe, expect, it } from 'vitest';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { applyContactPage } from '../../src/sync/pull/contact-page.ts';
import { usePullHarness, silent } from './helpers.ts';

const h = usePullHarness();
beforeEach(async () => {
  await h.resetAll();
});

const mk = async (body: Record<string, unknown>) => (await h.control('POST', '/contacts', body)).contact.id as string;
const auditCount = async () => (await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log`))[0].n as number;

describe('apply', () => {
  it('applying the same page twice changes nothing and writes no second audit row; no outbox echo', async () => {
    await mk({ role: 'user', external_id: 'a-1', email: 'a1@example.com', name: 'A' });
    await mk({ role: 'lead', email: 'l1@example.com', name: 'L' });
    const page = await h.gateway.listContacts({ perPage: 150 });
    const deps = {
      gateway: h.gateway,
      store: createPullStore(h.db.pool, h.db.schema),
      logger: silent,
      ctx: { runId: null, policy: 'newest_wins' as const, logger: silent },
      inFlight: () => 1,
      timezone: async () => 'UTC',
    };
    expect(await applyContactPage(deps, page.data)).toEqual({ created: 2 });
    const audits = await auditCount();
    const before = await h.q(`SELECT * FROM intercom.contacts ORDER BY id`);
    expect(await applyContactPage(deps, page.data)).toEqual({ unchanged: 2 });
    expect(await auditCount()).toBe(audits);
    expect(await h.q(`SELECT * FROM intercom.contacts ORDER BY id`)).toEqual(before);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox`))[0].n).toBe(0);
  });

  it('audit rows hold only the changed fields', async () => {
    const id = await mk({ role: 'user', external_id: 'a-2', email: 'a2@example.com', name: 'Before' });
    const engine = h.engine();
    await engine.fullPullContacts({});
    await h.control('PATCH', `/contacts/${id}`, { name: 'After' });
    expect((await engine.pullContactsByIds([id])).counts).toEqual({ updated: 1 });
    const [row] = await h.q(`SELECT action, changes FROM intercom.audit_log WHERE intercom_id = $1 AND action = 'update'`, [id]);
    expect(row).toEqual({ action: 'update', changes: { name: { before: 'Before', after: 'After' } } });
  });

  for (const policy of ['newest_wins', 'local_wins', 'remote_wins'] as const) {
    it(`pending local change: one-sided fields merge, both-sided follow ${policy}, each conflict audited`, async () => {
      const id = await mk({ role: 'user', external_id: 'c-1', email: 'c1@example.com', name: 'Base', phone: '+100' });
      const engine = h.engine({ conflictPolicy: policy });
      await engine.fullPullContacts({});
      // Local edits name (also edited remotely) and phone (local only); Intercom edits name and email.
      await h.db.pool.query(`UPDATE intercom.contacts SET name = 'Local', phone = '+200' WHERE external_id = 'c-1'`);
      // For newest_wins the remote edit is made 60 s after the local one (simulator clock).
      await h.control('POST', '/clock', { advance_seconds: 60 });
      await h.control('PATCH', `/contacts/${id}`, { name: 'Remote', email: 'c1-new@example.com' });
      const r = await engine.pullContactsByIds([id]);
      expect(r.counts).toEqual({ conflict: 1 });
      const [row] = await h.q(`SELECT name, phone, email FROM intercom.contacts WHERE external_id = 'c-1'`);
      expect(row).toEqual({ name: policy === 'local_wins' ? 'Local' : 'Remote', phone: '+200', email: 'c1-new@example.com' });
      const conflicts = await h.q(`SELECT changes, details FROM intercom.audit_log WHERE action = 'conflict'`);
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0].details).toMatchObject({ policy, winner: policy === 'local_wins' ? 'local' : 'remote', local: 'Local', remote: 'Remote', base: 'Base' });
      // The outbox entry stays for the push, and base is now the remote state.
      expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox WHERE status = 'pending'`))[0].n).toBe(1);
      const [m] = await h.q(`SELECT base_snapshot FROM intercom.sync_mappings WHERE intercom_id = $1`, [id]);
      expect(m.base_snapshot).toMatchObject({ name: 'Remote', phone: '+100' });
    });
  }

  it('newest_wins keeps a local edit made after the remote one', async () => {
    // Intercom-side time runs ten minutes behind ours for this test, so the local edit is the newer one.
    await h.control('POST', '/clock', { set: Math.floor(Date.now() / 1000) - 600 });
    const id = await mk({ role: 'user', external_id: 'c-2', email: 'c2@example.com', name: 'Base' });
    const engine = h.engine({ conflictPolicy: 'newest_wins' });
    await engine.fullPullContacts({});
    await h.control('PATCH', `/contacts/${id}`, { name: 'Remote' });
    await h.db.pool.query(`UPDATE intercom.contacts SET name = 'Local' WHERE external_id = 'c-2'`);
    await engine.pullContactsByIds([id]);
    expect((await h.q(`SELECT name FROM intercom.contacts WHERE external_id = 'c-2'`))[0].name).toBe('Local');
    await h.control('POST', '/clock', { set: Math.floor(Date.now() / 1000) });
  });

  it('a row Postgres rejects is audited invalid once and does not stop the page', async () => {
    await mk({ role: 'user', external_id: 'ok-1', email: 'ok1@example.com', name: 'Fine' });
    const bad = await mk({ role: 'user', external_id: 'bad-1', email: 'bad1@example.com', name: 'nul\u0000byte' });
    await mk({ role: 'user', external_id: 'ok-2', email: 'ok2@example.com', name: 'Fine too' });
    const engine = h.engine();
    const r = await engine.fullPullContacts({});
    expect(r.counts).toEqual({ created: 2, invalid: 1 });
    await engine.fullPullContacts({});
    const inv = await h.q(`SELECT intercom_id, details FROM intercom.audit_log WHERE action = 'invalid'`);
    expect(inv).toHaveLength(1);
    expect(inv[0].intercom_id).toBe(bad);
  });

  it('links an unmapped local lead by email, refuses to guess between two', async () => {
    await h.db.pool.query(`INSERT INTO intercom.contacts (role, email, name) VALUES ('lead', 'one@example.com', 'Local one')`);
    await h.db.pool.query(`INSERT INTO intercom.contacts (role, email, name) VALUES ('lead', 'two@example.com', 'x'), ('lead', 'TWO@example.com', 'y')`);
    await h.db.pool.query(`DELETE FROM intercom.sync_outbox`);
    const one = await mk({ role: 'lead', email: 'one@example.com', name: 'Remote one' });
    await mk({ role: 'lead', email: 'two@example.com', name: 'Remote two' });
    const r = await h.engine().fullPullContacts({});
    expect(r.counts).toEqual({ linked: 1, conflict: 1 });
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts`))[0].n).toBe(3);
    expect((await h.q(`SELECT name, intercom_id FROM intercom.contacts WHERE email = 'one@example.com'`))[0]).toEqual({ name: 'Remote one', intercom_id: one });
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_mappings WHERE status = 'ambiguous'`))[0].n).toBe(2);
  });

  it('stores associations from the payload and fetches companies it has never seen; dry run writes nothing', async () => {
    const c = await mk({ role: 'user', external_id: 'as-1', email: 'as1@example.com' });
    for (let i = 0; i < 12; i++) {
      const co = (await h.control('POST', '/companies', { company_id: `co-${i}`, name: `Co ${i}` })).company.id;
      await h.control('POST', '/attach', { contact_id: c, company_id: co });
    }
    const engine = h.engine();
    const dry = await engine.fullPullContacts({ dryRun: true });
    expect(dry.counts).toEqual({ created: 1 });
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts`))[0].n).toBe(0);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_state`))[0].n).toBe(0);
    await engine.fullPullContacts({});
    // More than 10 companies: the payload says has_more, so the full list was fetched.
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contact_companies`))[0].n).toBe(12);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox`))[0].n).toBe(0);
  });
});
