import { beforeEach, describe, expect, it } from 'vitest';
import type { PullGatewayPort } from '../../src/sync/pull/ports.ts';
import { driftOf } from '../../src/simulator/realism.ts';
import { usePullHarness } from './helpers.ts';

// Pulls against Intercom as harsh as the realistic profile makes it (docs/simulator.md): embedded lists whose
// has_more lies, cursors and scrolls that expire, records whose schema drifted. Each behaviour is switched on alone.
const SEED = 7;
const h = usePullHarness({ profile: 'realistic', latency: null, html403Probability: 0, scrollParam404Probability: 0, schemaDriftRate: 0, cursorIdleSeconds: 0, seed: SEED });
beforeEach(async () => {
  await h.resetAll();
  await h.control('DELETE', '/faults');
  h.sim.state.applySettings({ scrollParam404Probability: 0, schemaDriftRate: 0, cursorIdleSeconds: 0, embeddedLists: 'honest' });
});

/** The pull's gateway, with a hook after each call: the test moves the simulator's clock between two pages. */
function withHook(after: (method: string, n: number) => Promise<void>): PullGatewayPort {
  const g = h.gateway;
  const counts = new Map<string, number>();
  const hook = async <T,>(method: string, p: Promise<T>) => {
    const v = await p;
    const n = (counts.get(method) ?? 0) + 1;
    counts.set(method, n);
    await after(method, n);
    return v;
  };
  return {
    me: () => g.me(),
    searchContacts: (q, p) => hook('searchContacts', g.searchContacts(q, p)),
    listContacts: (q, p) => hook('listContacts', g.listContacts(q, p)),
    getContact: (id, p) => g.getContact(id, p),
    findContactByExternalId: (id, p) => g.findContactByExternalId(id, p),
    listContactCompanies: (id, p) => g.listContactCompanies(id, p),
    getCompany: (id, p) => g.getCompany(id, p),
    scrollCompanies: (s, p) => g.scrollCompanies(s, p),
    serverClock: () => g.serverClock(),
    // The engine sizes its concurrency from the gateway it is given (h.engine passes it as the budget too).
    inFlightTarget: () => g.inFlightTarget(),
  } as PullGatewayPort;
}

describe('embedded lists whose has_more is false while items are missing', () => {
  it('fetches the full company list and never detaches on the cut one', async () => {
    h.sim.state.applySettings({ embeddedLists: 'has_more_false', embeddedListLimit: 2 });
    const contact = await h.control('POST', '/contacts', { role: 'user', external_id: 'emb-1', email: 'emb-1@example.com' });
    const companyIds: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const co = await h.control('POST', '/companies', { company_id: `emb-co-${i}`, name: `Co ${i}` });
      companyIds.push(co.company.id);
      await h.control('POST', '/attach', { contact_id: contact.contact.id, company_id: co.company.id });
    }
    const engine = h.engine();
    await engine.pullContacts({});
    const links = async () =>
      (await h.q(`SELECT count(*)::int AS n FROM intercom.contact_companies cc JOIN intercom.contacts c ON c.id = cc.contact_id WHERE c.external_id = 'emb-1'`))[0].n;
    expect(await links()).toBe(5);

    // A later change to the contact: its payload still shows 2 of 5 with has_more false; nothing is detached.
    await h.control('POST', '/clock', { advance_seconds: 5 });
    await h.control('PATCH', `/contacts/${contact.contact.id}`, { name: 'Changed remotely' });
    await engine.pullContacts({});
    expect((await h.q(`SELECT name FROM intercom.contacts WHERE external_id = 'emb-1'`))[0].name).toBe('Changed remotely');
    expect(await links()).toBe(5);
  });
});

describe('records whose schema drifted', () => {
  it('records each as invalid with the reason; the page, the watermark and the rest go on', async () => {
    const rate = 0.3;
    await h.control('POST', '/seed', { contacts: 60, companies: 5 });
    const listed = await fetchAllIds();
    h.sim.state.applySettings({ schemaDriftRate: rate });
    // What the daemon cannot read: a role it does not know, or signed_up_at of another type (a missing optional
    // object is read fine). Computed with the simulator's own hash, independently of the pull.
    const unreadable = listed.filter((id) => {
      const k = driftOf(id, rate, SEED);
      return k === 'wrong_type' || k === 'unknown_role';
    });
    expect(unreadable.length).toBeGreaterThan(0);

    const engine = h.engine();
    const first = await engine.pullContacts({});
    expect(first.counts.invalid).toBe(unreadable.length);
    expect(first.counts.created).toBe(listed.length - unreadable.length);
    const audits = await h.q(`SELECT intercom_id, details FROM intercom.audit_log WHERE action = 'invalid' ORDER BY intercom_id`);
    expect(audits.map((a) => a.intercom_id).sort()).toEqual([...unreadable].sort());
    for (const a of audits) expect(a.details.reason).toMatch(/role|signed_up_at/);
    const [state] = await h.q(`SELECT watermark FROM intercom.sync_state WHERE stream = 'contacts'`);
    expect(state.watermark).not.toBeNull();

    // The next incremental pull goes past them too, and does not audit the same versions again.
    await h.control('POST', '/clock', { advance_seconds: 5 });
    const readable = listed.find((id) => !unreadable.includes(id))!;
    await h.control('PATCH', `/contacts/${readable}`, { name: 'After the drift' });
    const second = await engine.pullContacts({});
    expect(second.counts.updated).toBe(1);
    expect((await h.q(`SELECT name FROM intercom.contacts WHERE intercom_id = $1`, [readable]))[0].name).toBe('After the drift');
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'invalid'`))[0].n).toBe(unreadable.length);
  });
});

describe('a drifted record in a targeted (webhook) pull', () => {
  it('is recorded invalid while the other contacts of the batch are applied', async () => {
    const rate = 0.3;
    await h.control('POST', '/seed', { contacts: 30, companies: 3 });
    const listed = await fetchAllIds();
    h.sim.state.applySettings({ schemaDriftRate: rate });
    const bad = listed.find((id) => driftOf(id, rate, SEED) === 'unknown_role')!;
    const good = listed.find((id) => driftOf(id, rate, SEED) === null)!;
    expect(bad && good).toBeTruthy();
    const r = await h.engine().pullContactsByIds([bad, good]);
    expect(r.counts).toMatchObject({ created: 1, invalid: 1 });
    const [audit] = await h.q(`SELECT intercom_id, details FROM intercom.audit_log WHERE action = 'invalid'`);
    expect(audit.intercom_id).toBe(bad);
    expect(audit.details.reason).toMatch(/GET \/contacts\/\{id\}.*role/);
  });
});

/** Every listed contact id, read before any drift is switched on. */
async function fetchAllIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await h.gateway.listContacts({ perPage: 150, startingAfter: cursor });
    ids.push(...page.data.map((c) => c.id));
    if (!page.nextCursor || page.data.length === 0) break;
    cursor = page.nextCursor;
  }
  return ids;
}

describe('expired cursors', () => {
  it('an incremental search whose cursor expires mid-window searches the window again: nothing lost, nothing applied twice', async () => {
    h.sim.state.applySettings({ cursorIdleSeconds: 60 });
    await h.control('POST', '/seed', { contacts: 400, companies: 5 });
    const engine = h.engine();
    await engine.pullContacts({});
    await h.control('POST', '/clock', { advance_seconds: 30 });
    const ids = (await fetchAllIds()).slice(0, 320);
    for (const id of ids) await h.control('PATCH', `/contacts/${id}`, { name: `Renamed ${id}` });

    // After the first search page, a minute passes on Intercom's clock: the page-2 cursor is stale.
    const gw = withHook(async (method, n) => {
      if (method === 'searchContacts' && n === 1) await h.control('POST', '/clock', { advance_seconds: 61 });
    });
    const before = (await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'update'`))[0].n;
    const r = await h.engine({}, gw as never).pullContacts({});
    expect(r.details?.restarts).toBe(1);
    const renamed = (await h.q(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'Renamed %'`))[0].n;
    expect(renamed).toBe(320);
    const updates = (await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'update'`))[0].n;
    expect(updates - before).toBe(320);
  });
});

describe('scroll parameters that answer 404', () => {
  it('restart the scroll; every company arrives once', async () => {
    await h.control('POST', '/seed', { contacts: 400, companies: 200 });
    h.sim.state.applySettings({ scrollParam404Probability: 0.35 });
    const r = await h.engine().pullCompanies({});
    h.sim.state.applySettings({ scrollParam404Probability: 0 });
    const visible = (await h.q(`SELECT count(*)::int AS n FROM intercom.companies`))[0].n;
    expect(r.details?.restarts).toBeGreaterThan(0);
    // Seeded companies without contacts (the last tenth) are invisible to scroll, as in Intercom.
    expect(visible).toBe(180);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'create' AND entity_type = 'company'`))[0].n).toBe(180);
  });
});
