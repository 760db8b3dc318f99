import { IntercomError } from 'intercom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/simulator/prng.ts';
import { DEFAULT_REALISM, driftOf, REALISTIC, sampleLatencyMs } from '../../src/simulator/realism.ts';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/server.ts';
import { call, control, sdk, SpecValidator, start, expectLogValid, type Exchange } from './helpers.ts';

// One test per realism setting (docs/simulator.md, "Realistic profile"), each through HTTP and, where the SDK
// can express the call, through intercom-client. Every JSON answer recorded in `log` is validated against the
// 2.14 subset after each test; the schema-drift test checks that drifted records are exactly the ones that fail.
const validator = new SpecValidator();
const log: Exchange[] = [];
let sim: RunningSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  expectLogValid(validator, log, { nonEmpty: false });
});

async function boot(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  sim = await start(opts);
  return sim;
}

/** Plain HTTP whose answer is validated against the spec after the test. */
async function api(s: RunningSimulator, method: string, path: string, body?: unknown) {
  const r = await call(s, method, path, body);
  log.push({ method, path: path.split('?')[0]!, status: r.status, body: r.body });
  return r;
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

describe('profiles', () => {
  it('default keeps every realism setting off; realistic turns each on; options override one at a time', async () => {
    const d = await boot();
    const cfg = (await control(d, 'GET', '/config')).body;
    expect(cfg).toMatchObject({
      profile: 'default',
      latency: null,
      duplicate_leads_allowed: false,
      lead_external_id: 'keep',
      scope_denied: [],
      html_403_probability: 0,
      embedded_lists: 'honest',
      cursor_idle_seconds: 0,
      scroll_param_404_probability: 0,
      conflict_wording: 'plain',
      schema_drift_rate: 0,
    });
    await d.close();

    const r = await boot({ profile: 'realistic', latency: { fixedMs: 1 } });
    expect(r.state.settings).toMatchObject({ ...REALISTIC, latency: { fixedMs: 1 }, profile: 'realistic' });
    const real = (await control(r, 'GET', '/config')).body;
    expect(real).toMatchObject({
      profile: 'realistic',
      latency: { fixed_ms: 1 },
      duplicate_leads_allowed: true,
      lead_external_id: 'drop',
      scope_denied: [{ method: 'GET', path: '/admins' }],
      embedded_lists: 'has_more_false',
      cursor_idle_seconds: 60,
      conflict_wording: 'archived',
    });
    expect(real.html_403_probability).toBeGreaterThan(0);
    expect(real.scroll_param_404_probability).toBeGreaterThan(0);
    expect(real.schema_drift_rate).toBeGreaterThan(0);
  });

  it('switches profile at run time through POST /__sim/config, later keys overriding it', async () => {
    const s = await boot();
    const cfg = (await control(s, 'POST', '/config', { profile: 'realistic', latency: { fixed_ms: 2 }, html_403_probability: 0 })).body;
    expect(cfg).toMatchObject({ profile: 'realistic', latency: { fixed_ms: 2 }, html_403_probability: 0, duplicate_leads_allowed: true });
    const back = (await control(s, 'PATCH', '/config', { profile: 'default' })).body;
    expect(back).toMatchObject({ profile: 'default', latency: null, duplicate_leads_allowed: false });
    expect(s.state.settings).toMatchObject({ ...DEFAULT_REALISM });
    s.state.applyProfile('realistic', { latency: { fixedMs: 3 } });
    expect(s.state.settings).toMatchObject({ ...REALISTIC, latency: { fixedMs: 3 }, profile: 'realistic' });
    s.state.applyProfile('default');
    expect(s.state.settings).toMatchObject({ ...DEFAULT_REALISM, profile: 'default' });
    expect((await control(s, 'POST', '/config', { profile: 'harsh' })).status).toBe(400);
    expect((await control(s, 'POST', '/config', { lead_external_id: 'maybe' })).status).toBe(400);
    expect((await control(s, 'POST', '/config', { latency: { median_ms: 3 } })).status).toBe(400);
  });
});

describe('latency', () => {
  it('samples a log-normal with p50 ≈ 250 ms and a long tail for lists, p50 ≈ 120 ms for single objects', () => {
    const rng = mulberry32(11);
    const list = Array.from({ length: 20_000 }, () => sampleLatencyMs(REALISTIC.latency, 'POST', '/contacts/search', rng));
    const single = Array.from({ length: 20_000 }, () => sampleLatencyMs(REALISTIC.latency, 'GET', '/contacts/{id}', rng));
    expect(quantile(list, 0.5)).toBeGreaterThan(240);
    expect(quantile(list, 0.5)).toBeLessThan(260);
    expect(quantile(list, 0.95)).toBeGreaterThan(2 * quantile(list, 0.5));
    expect(quantile(list, 0.99)).toBeGreaterThan(3 * quantile(list, 0.5));
    expect(quantile(single, 0.5)).toBeGreaterThan(114);
    expect(quantile(single, 0.5)).toBeLessThan(126);
    expect(quantile(single, 0.95)).toBeLessThan(quantile(list, 0.95));
    for (const route of [['GET', '/contacts'], ['POST', '/companies/list'], ['GET', '/companies/scroll']] as const) {
      expect(sampleLatencyMs({ listP50Ms: 250, singleP50Ms: 1, listSigma: 0 }, route[0], route[1], rng)).toBe(250);
    }
    // Seeded: the same seed gives the same delays.
    const a = mulberry32(5);
    const b = mulberry32(5);
    expect(Array.from({ length: 5 }, () => sampleLatencyMs({}, 'GET', '/me', a))).toEqual(
      Array.from({ length: 5 }, () => sampleLatencyMs({}, 'GET', '/me', b)),
    );
    expect(sampleLatencyMs({ fixedMs: 300 }, 'POST', '/contacts/search', rng)).toBe(300);
    expect(sampleLatencyMs({ fixedMs: 300 }, 'GET', '/me', rng)).toBe(300);
    expect(sampleLatencyMs(null, 'GET', '/me', rng)).toBe(0);
  });

  it('delays every API answer by the fixed latency, and control calls not at all', async () => {
    const s = await boot({ latency: { fixedMs: 60 } });
    const t0 = performance.now();
    const me = await sdk(s, log).admins.identify();
    const elapsed = performance.now() - t0;
    expect(me?.type).toBe('admin');
    expect(elapsed).toBeGreaterThanOrEqual(55);
    expect(s.state.settings.latency).toEqual({ fixedMs: 60 });
    // The control API does not sleep: it answers while an API call sent before it still waits out a latency far
    // longer than any scheduling delay. Judged by order, not by a duration. The held call ends with the simulator.
    s.state.applySettings({ latency: { fixedMs: 5_000 } });
    let answered = false;
    void sdk(s)
      .admins.identify()
      .then(() => (answered = true))
      .catch(() => undefined);
    await control(s, 'GET', '/health');
    expect(answered).toBe(false);
  });
});

describe('after_apply faults: the write is applied, the answer is lost', () => {
  it('drops the connection after creating the contact', async () => {
    const s = await boot();
    await control(s, 'POST', '/faults', { method: 'POST', path: '/contacts', kind: 'drop', after_apply: true, count: 1 });
    const err = await rejected(sdk(s).contacts.create({ external_id: 'lost-1', email: 'lost1@example.com' }));
    expect(err).toBeInstanceOf(Error);
    expect((await control(s, 'GET', '/contacts?external_id=lost-1')).body.data).toHaveLength(1);
    // A blind retry is refused: the first attempt did land.
    const retry = await rejected(sdk(s, log).contacts.create({ external_id: 'lost-1' }));
    expect((retry as IntercomError).statusCode).toBe(409);
    expect((await control(s, 'GET', '/stats')).body.by_route['POST /contacts']).toEqual({ '0': 1, '409': 1 });
  });

  it('answers only after the client gave up, and answers 5xx after applying', async () => {
    const s = await boot();
    await control(s, 'POST', '/faults', { method: 'POST', path: '/contacts', kind: 'latency', latency_ms: 400, after_apply: true, count: 1 });
    const timedOut = await rejected(
      fetch(`${s.url}/contacts`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ role: 'lead', email: 'slow@example.com' }),
        signal: AbortSignal.timeout(100),
      }),
    );
    expect((timedOut as Error).name).toBe('TimeoutError');
    // Applied before the delay began: visible while the answer is still pending.
    expect((await control(s, 'GET', '/contacts?email=slow@example.com')).body.data).toHaveLength(1);

    await control(s, 'POST', '/faults', { method: 'POST', path: '/contacts', kind: 'status', status: 502, after_apply: true, count: 1 });
    const r = await api(s, 'POST', '/contacts', { external_id: 'after-502' });
    expect(r.status).toBe(502);
    expect((await control(s, 'GET', '/contacts?external_id=after-502')).body.data).toHaveLength(1);

    // Without the flag, the same fault refuses before anything is written.
    await control(s, 'POST', '/faults', { method: 'POST', path: '/contacts', kind: 'status', status: 502, count: 1 });
    expect((await api(s, 'POST', '/contacts', { external_id: 'before-502' })).status).toBe(502);
    expect((await control(s, 'GET', '/contacts?external_id=before-502')).body.data).toHaveLength(0);
    expect((await control(s, 'GET', '/faults')).body.data).toEqual([]);
  });
});

describe('leads', () => {
  it('refuses a second lead with the same email by default and accepts it with duplicate_leads_allowed', async () => {
    const s = await boot();
    const client = sdk(s, log);
    await client.contacts.create({ role: 'lead', email: 'twin@example.com' });
    const e = await rejected(client.contacts.create({ role: 'lead', email: 'twin@example.com' }));
    expect((e as IntercomError).statusCode).toBe(409);

    await control(s, 'PATCH', '/config', { duplicate_leads_allowed: true });
    const second = await client.contacts.create({ role: 'lead', email: 'TWIN@example.com' });
    expect(second.role).toBe('lead');
    const third = await client.contacts.create({ role: 'lead', email: 'twin@example.com' });
    expect(new Set([second.id, third.id]).size).toBe(2);
    expect((await control(s, 'GET', '/contacts?email=twin@example.com')).body.data).toHaveLength(3);
    // Users stay deduplicated by external_id.
    await client.contacts.create({ external_id: 'u-1', email: 'u1@example.com' });
    expect(((await rejected(client.contacts.create({ external_id: 'u-1' }))) as IntercomError).statusCode).toBe(409);
  });

  it('keeps, silently drops or refuses a lead external_id, on create and on update', async () => {
    const s = await boot();
    const client = sdk(s, log);
    const kept = await client.contacts.create({ role: 'lead', email: 'keep@example.com', external_id: 'lead-keep' });
    expect(kept.external_id).toBe('lead-keep');

    await control(s, 'PATCH', '/config', { lead_external_id: 'drop' });
    const dropped = await client.contacts.create({ role: 'lead', email: 'drop@example.com', external_id: 'lead-drop' });
    expect(dropped.external_id).toBeNull();
    const updated = await client.contacts.update({ contact_id: dropped.id, external_id: 'lead-drop-2', name: 'Dropped' });
    expect(updated).toMatchObject({ external_id: null, name: 'Dropped' });
    // Users keep theirs.
    expect((await client.contacts.create({ external_id: 'user-keep' })).external_id).toBe('user-keep');

    await control(s, 'PATCH', '/config', { lead_external_id: 'reject' });
    const refused = (await rejected(client.contacts.create({ role: 'lead', email: 'no@example.com', external_id: 'lead-no' }))) as IntercomError;
    expect(refused.statusCode).toBe(400);
    expect((refused.body as { errors: Array<{ code: string; field?: string }> }).errors[0]).toMatchObject({
      code: 'parameter_invalid',
      field: 'external_id',
    });
    expect((await control(s, 'GET', '/contacts?email=no@example.com')).body.data).toHaveLength(0);
    expect(((await rejected(client.contacts.update({ contact_id: dropped.id, external_id: 'x' }))) as IntercomError).statusCode).toBe(400);
    // A lead without external_id is still fine.
    expect((await client.contacts.create({ role: 'lead', email: 'plain@example.com' })).role).toBe('lead');
  });
});

describe('authorization', () => {
  it('refuses only the denied route with token_unauthorized; the rest keeps answering', async () => {
    const s = await boot({ seedContacts: 3, scopeDenied: [{ method: 'POST', path: '/contacts/search' }] });
    const client = sdk(s, log);
    const e = (await rejected(client.contacts.search({ query: { field: 'role', operator: '=', value: 'user' } }))) as IntercomError;
    expect(e.statusCode).toBe(403);
    expect((e.body as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('token_unauthorized');
    expect((await client.contacts.list()).data.length).toBe(3);
    expect((await client.admins.identify())?.type).toBe('admin');

    await control(s, 'PATCH', '/config', { scope_denied: [{ path: '/contacts', status: 401 }, 'GET /contacts/{id}'] });
    expect((await api(s, 'GET', '/contacts')).status).toBe(401);
    expect((await api(s, 'POST', '/contacts', { external_id: 'denied' })).status).toBe(401);
    const byId = await api(s, 'GET', '/contacts/000000000000000000000000');
    expect(byId.status).toBe(403);
    expect(byId.body.errors[0].code).toBe('token_unauthorized');
    expect((await api(s, 'POST', '/contacts/search', { query: { field: 'role', operator: '=', value: 'user' } })).status).toBe(200);
  });

  it('the realistic profile denies GET /admins only, so a tap that checks its token with GET /tags still starts', async () => {
    const s = await boot({ profile: 'realistic', latency: { fixedMs: 0 }, html403Probability: 0 });
    const admins = await call(s, 'GET', '/admins');
    expect(admins.status).toBe(403);
    expect(admins.body.errors[0].code).toBe('token_unauthorized');
    expect((await call(s, 'GET', '/tags')).status).toBe(200);
    expect((await api(s, 'GET', '/me')).status).toBe(200);
  });

  it('answers load-balancer 403s in HTML, without Intercom headers, at the configured probability', async () => {
    const s = await boot({ rateLimitPerMinute: 600, html403Probability: 1 });
    const res = await fetch(`${s.url}/me`, { headers: { Authorization: `Bearer ${s.token}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('x-request-id')).toBeNull();
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    expect(await res.text()).toContain('<center><h1>403 Forbidden</h1></center>');
    const e = (await rejected(sdk(s).admins.identify())) as IntercomError;
    expect(e.statusCode).toBe(403);

    await control(s, 'PATCH', '/config', { html_403_probability: 0.5 });
    let html = 0;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${s.url}/me`, { headers: { Authorization: `Bearer ${s.token}` } });
      await r.arrayBuffer();
      if (r.status === 403) html += 1;
      else expect(r.status).toBe(200);
    }
    expect(html).toBeGreaterThan(70);
    expect(html).toBeLessThan(130);
  });
});

describe('embedded lists', () => {
  async function contactWith(s: RunningSimulator, tags: number, companies: number): Promise<string> {
    const id = (await control(s, 'POST', '/contacts', { external_id: 'embedded', email: 'e@example.com' })).body.contact.id as string;
    for (let i = 0; i < tags; i++) await control(s, 'POST', `/contacts/${id}/tag`, { name: `tag-${i}` });
    for (let i = 0; i < companies; i++) {
      const co = (await control(s, 'POST', '/companies', { company_id: `co-${i}` })).body.company;
      await control(s, 'POST', '/attach', { contact_id: id, company_id: co.id });
    }
    return id;
  }

  it('honest lists say has_more when companies are cut; has_more_false lists cut tags and companies silently', async () => {
    const s = await boot({ embeddedListLimit: 2 });
    const id = await contactWith(s, 3, 3);
    const honest = (await api(s, 'GET', `/contacts/${id}`)).body;
    expect(honest.tags).toMatchObject({ total_count: 3, has_more: false });
    expect(honest.tags.data).toHaveLength(3);
    expect(honest.companies).toMatchObject({ total_count: 3, has_more: true });
    expect(honest.companies.data).toHaveLength(2);

    await control(s, 'PATCH', '/config', { embedded_lists: 'has_more_false' });
    const client = sdk(s, log);
    const c = await client.contacts.find({ contact_id: id });
    expect(c.tags).toMatchObject({ total_count: 3, has_more: false });
    expect(c.tags!.data).toHaveLength(2);
    expect(c.companies).toMatchObject({ total_count: 3, has_more: false });
    expect(c.companies!.data).toHaveLength(2);
    // Lists and searches embed the same cut lists.
    const listed = (await client.contacts.list()).data.find((x) => x.id === id)!;
    expect(listed.tags!.data).toHaveLength(2);
    // The full list is still there for a client that compares total_count.
    expect((await client.contacts.listAttachedCompanies({ contact_id: id })).data).toHaveLength(3);
  });
});

describe('cursors', () => {
  it('expires list and search cursors after cursor_idle_seconds with 400 "Invalid starting_after param"', async () => {
    const s = await boot({ seedContacts: 10, cursorIdleSeconds: 30 });
    await control(s, 'POST', '/clock', { freeze: true });
    const first = await api(s, 'GET', '/contacts?per_page=3');
    const cursor = first.body.pages.next.starting_after as string;
    await control(s, 'POST', '/clock', { advance_seconds: 29 });
    const second = await api(s, 'GET', `/contacts?per_page=3&starting_after=${cursor}`);
    expect(second.status).toBe(200);
    await control(s, 'POST', '/clock', { advance_seconds: 30 });
    const stale = await api(s, 'GET', `/contacts?per_page=3&starting_after=${second.body.pages.next.starting_after}`);
    expect(stale.status).toBe(400);
    expect(stale.body.errors[0]).toEqual({
      code: 'client_error',
      message: 'Invalid starting_after param. Please try again using a starting_after value from a paginated response',
    });

    const q = { query: { field: 'role', operator: '=', value: 'user' }, pagination: { per_page: 2 } };
    const s1 = await api(s, 'POST', '/contacts/search', q);
    await control(s, 'POST', '/clock', { advance_seconds: 31 });
    const s2 = await api(s, 'POST', '/contacts/search', { ...q, pagination: { per_page: 2, starting_after: s1.body.pages.next.starting_after } });
    expect(s2.status).toBe(400);
    expect(s2.body.errors[0].code).toBe('client_error');
    // A fresh first page works again.
    expect((await api(s, 'POST', '/contacts/search', q)).status).toBe(200);
  });

  it('never expires cursors in the default profile', async () => {
    const s = await boot({ seedContacts: 5 });
    await control(s, 'POST', '/clock', { freeze: true });
    const first = await api(s, 'GET', '/contacts?per_page=2');
    await control(s, 'POST', '/clock', { advance_seconds: 86_400 });
    expect((await api(s, 'GET', `/contacts?per_page=2&starting_after=${first.body.pages.next.starting_after}`)).status).toBe(200);
  });

  it('answers 404 for a live scroll_param at scroll_param_404_probability, and a new scroll may start', async () => {
    const s = await boot({ seedContacts: 120, seedCompanies: 120, scrollParam404Probability: 1 });
    const first = await api(s, 'GET', '/companies/scroll');
    expect(first.body.data.length).toBe(50);
    const lost = await api(s, 'GET', `/companies/scroll?scroll_param=${first.body.scroll_param}`);
    expect(lost.status).toBe(404);
    expect(lost.body.errors[0].code).toBe('not_found');
    await control(s, 'PATCH', '/config', { scroll_param_404_probability: 0 });
    const restart = await api(s, 'GET', '/companies/scroll');
    expect(restart.status).toBe(200);
    expect((await api(s, 'GET', `/companies/scroll?scroll_param=${restart.body.scroll_param}`)).status).toBe(200);
  });
});

describe('archived contacts', () => {
  it('words the 409 for an archived holder as Intercom does, and plainly otherwise', async () => {
    const s = await boot();
    const client = sdk(s, log);
    const holder = await client.contacts.create({ external_id: 'arch-1', email: 'arch@example.com' });
    const live = (await rejected(client.contacts.create({ external_id: 'arch-1' }))) as IntercomError;
    const message = (e: IntercomError) => (e.body as { errors: Array<{ message: string }> }).errors[0]!.message;
    expect(message(live)).toBe(`A contact matching those details already exists with id=${holder.id}`);
    await client.contacts.archive({ contact_id: holder.id });
    const plain = (await rejected(client.contacts.create({ external_id: 'arch-1' }))) as IntercomError;
    expect(message(plain)).toBe(`A contact matching those details already exists with id=${holder.id}`);

    await control(s, 'PATCH', '/config', { conflict_wording: 'archived' });
    const archived = (await rejected(client.contacts.create({ external_id: 'arch-1' }))) as IntercomError;
    expect(archived.statusCode).toBe(409);
    expect(message(archived)).toBe(`An archived contact matching those details already exists with id=${holder.id}`);
    await client.contacts.unarchive({ contact_id: holder.id });
    expect(message((await rejected(client.contacts.create({ external_id: 'arch-1' }))) as IntercomError)).toBe(
      `A contact matching those details already exists with id=${holder.id}`,
    );
  });

  it('unarchives a contact seen again and bumps its updated_at', async () => {
    const s = await boot();
    const client = sdk(s, log);
    await control(s, 'POST', '/clock', { freeze: true });
    const c = await client.contacts.create({ external_id: 'back-1', email: 'back@example.com' });
    await client.contacts.archive({ contact_id: c.id });
    expect(((await rejected(client.contacts.showContactByExternalId({ external_id: 'back-1' }))) as IntercomError).statusCode).toBe(404);
    await control(s, 'POST', '/clock', { advance_seconds: 120 });
    const seen = (await control(s, 'POST', `/contacts/${c.id}/seen`)).body;
    expect(seen.archived).toBe(false);
    expect(seen.visible_in_search).toBe(true);
    expect(seen.contact.updated_at).toBe(c.updated_at + 120);
    expect(seen.contact.last_seen_at).toBe(c.updated_at + 120);
    const back = await client.contacts.showContactByExternalId({ external_id: 'back-1' });
    expect(back).toMatchObject({ id: c.id, updated_at: c.updated_at + 120 });
    const found = await client.contacts.search({ query: { field: 'external_id', operator: '=', value: 'back-1' } });
    expect(found.data.map((x) => [x.id, x.updated_at])).toEqual([[c.id, c.updated_at + 120]]);
    expect((await control(s, 'POST', '/contacts/000000000000000000000000/seen')).status).toBe(404);
  });
});

describe('schema drift', () => {
  it('serves a seeded share of contacts with values the 2.14 schema does not allow, the same way on every read', async () => {
    const ids = Array.from({ length: 4000 }, (_, i) => i.toString(16).padStart(24, '0'));
    const drifted = ids.filter((id) => driftOf(id, 0.05, 1) !== null);
    expect(drifted.length).toBeGreaterThan(120);
    expect(drifted.length).toBeLessThan(280);
    expect(new Set(drifted.map((id) => driftOf(id, 0.05, 1)))).toEqual(new Set(['wrong_type', 'unknown_role', 'missing_object']));
    expect(ids.filter((id) => driftOf(id, 0, 1) !== null)).toEqual([]);

    const s = await boot({ seed: 4, seedContacts: 60, schemaDriftRate: 0.3 });
    const page = (await call(s, 'GET', '/contacts?per_page=60')).body;
    const again = (await call(s, 'GET', '/contacts?per_page=60')).body;
    expect(again).toEqual(page);
    const kinds = new Map<string, string>();
    for (const c of page.data) {
      const kind = driftOf(c.id, 0.3, 4);
      const problems = validator.check({ method: 'GET', path: `/contacts/${c.id}`, status: 200, body: c });
      if (kind === null) {
        expect(problems).toEqual([]);
        continue;
      }
      kinds.set(c.id, kind);
      if (kind === 'wrong_type') expect(typeof c.signed_up_at).toBe('string');
      if (kind === 'unknown_role') expect(c.role).toBe('visitor_v3');
      if (kind === 'missing_object') expect(c.location).toBeUndefined();
      // The value types the schema declares are broken; a missing optional object is allowed by it.
      if (kind !== 'missing_object' && kind !== 'unknown_role') expect(problems.length).toBeGreaterThan(0);
    }
    expect(kinds.size).toBeGreaterThan(5);
    expect(kinds.size).toBeLessThan(35);
    // The control API shows the truth, undrifted.
    const firstDrifted = [...kinds.keys()][0]!;
    expect((await control(s, 'GET', `/contacts/${firstDrifted}`)).body.contact.role).toMatch(/^(user|lead)$/);
    expect(validator.check({ method: 'GET', path: `/contacts/${firstDrifted}`, status: 200, body: (await control(s, 'GET', `/contacts/${firstDrifted}`)).body.contact })).toEqual([]);
    // Everything else about the list still validates.
    log.push({ method: 'GET', path: '/contacts', status: 200, body: { ...page, data: page.data.filter((c: { id: string }) => !kinds.has(c.id)) } });
  });
});
