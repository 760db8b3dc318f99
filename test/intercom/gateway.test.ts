import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntercomApiError, IntercomAuthError, IntercomPayloadError } from '../../src/errors.ts';
import type { IntercomGateway } from '../../src/intercom/gateway.ts';
import { harness, type Harness } from './helpers.ts';

// The gateway against the simulator over HTTP, rate limits off: operations, error mapping and retries.
let h: Harness;
let gw: IntercomGateway;

beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, timezone: 'Europe/Paris' });
  gw = h.gateway();
});
afterAll(async () => {
  await h.close();
});

const fault = (rule: Record<string, unknown>) => h.control('POST', '/__sim/faults', rule);

describe('operations', () => {
  it('reads the app from /me', async () => {
    const me = await gw.me();
    expect(me.timezone).toBe('Europe/Paris');
    expect(me.appId).toBeTruthy();
  });

  it('creates, reads, updates, finds and searches contacts', async () => {
    const created = await gw.createContact({
      role: 'user',
      external_id: 'u-1',
      email: 'u1@example.com',
      name: 'User One',
      custom_attributes: {},
    });
    expect(created).toMatchObject({ role: 'user', externalId: 'u-1', email: 'u1@example.com', name: 'User One' });
    expect(created.companies).toEqual({ ids: [], hasMore: false, totalCount: 0 });

    const updated = await gw.updateContact(created.id, { name: 'Renamed', phone: null });
    expect(updated.name).toBe('Renamed');
    expect((await gw.getContact(created.id)).name).toBe('Renamed');
    expect((await gw.findContactByExternalId('u-1'))?.id).toBe(created.id);
    expect(await gw.findContactByExternalId('nobody')).toBeNull();

    await gw.createContact({ role: 'user', external_id: 'u-2', email: 'u2@example.com' });
    const page1 = await gw.searchContacts({
      query: { field: 'email', operator: '$', value: '@example.com' },
      perPage: 1,
      sort: { field: 'email', order: 'ascending' },
    });
    expect(page1.data.map((c) => c.email)).toEqual(['u1@example.com']);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await gw.searchContacts({
      query: { field: 'email', operator: '$', value: '@example.com' },
      perPage: 1,
      startingAfter: page1.nextCursor,
      sort: { field: 'email', order: 'ascending' },
    });
    expect(page2.data.map((c) => c.email)).toEqual(['u2@example.com']);

    const listed = await gw.listContacts({ perPage: 150 });
    expect(listed.data.map((c) => c.externalId).sort()).toEqual(['u-1', 'u-2']);
    expect(listed.nextCursor).toBeNull();
  });

  it('archives, unarchives, merges and deletes contacts', async () => {
    const lead = await gw.createContact({ role: 'lead', email: 'lead@example.com' });
    const user = await gw.createContact({ role: 'user', external_id: 'u-merge', email: 'merge@example.com' });
    await gw.archiveContact(user.id);
    await gw.unarchiveContact(user.id);
    const merged = await gw.mergeContacts(lead.id, user.id);
    expect(merged.id).toBe(user.id);
    await expect(gw.getContact(lead.id)).rejects.toMatchObject({ status: 404 });
    await gw.deleteContact(user.id);
  });

  it('upserts companies, attaches them and lists them back through every page', async () => {
    const contact = await gw.createContact({ role: 'user', external_id: 'u-co', email: 'co@example.com' });
    const ids: string[] = [];
    for (let i = 0; i < 55; i++) {
      const c = await gw.upsertCompany({ company_id: `c-${i}`, name: `Company ${i}`, plan: 'pro', monthly_spend: 10 });
      ids.push(c.id);
      await gw.attachCompany(contact.id, c.id);
    }
    const first = await gw.findCompanyByCompanyId('c-0');
    expect(first).toMatchObject({ companyId: 'c-0', name: 'Company 0', plan: 'pro', monthlySpend: 10 });
    expect(await gw.findCompanyByCompanyId('no-such-company')).toBeNull();
    expect((await gw.getCompany(ids[0]!)).companyId).toBe('c-0');

    const attached = await gw.listContactCompanies(contact.id);
    expect(attached.map((c) => c.id).sort()).toEqual([...ids].sort());
    const reread = await gw.getContact(contact.id);
    expect(reread.companies.totalCount).toBe(55);
    expect(reread.companies.hasMore).toBe(true);

    await gw.detachCompany(contact.id, ids[0]!);
    expect(await gw.listContactCompanies(contact.id)).toHaveLength(54);

    const seen = new Set<string>();
    let param: string | null = null;
    do {
      const page: { data: { id: string }[]; scrollParam: string | null } = await gw.scrollCompanies(param);
      for (const c of page.data) seen.add(c.id);
      param = page.scrollParam;
    } while (param);
    expect(seen.size).toBeGreaterThanOrEqual(54);

    await gw.deleteCompany(ids[1]!);
  });

  it('lists and creates data attributes', async () => {
    await gw.createDataAttribute({ name: 'plan_tier', model: 'contact', dataType: 'string' });
    const attrs = await gw.listDataAttributes('contact');
    expect(attrs.find((a) => a.name === 'plan_tier')).toMatchObject({
      fullName: 'custom_attributes.plan_tier',
      dataType: 'string',
      custom: true,
    });
  });
});

describe('errors', () => {
  it('surfaces 404 and 400 at once, typed, with code and request_id', async () => {
    const before = h.records.length;
    const err = await gw.getContact('000000000000000000000000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', endpoint: 'GET /contacts/{id}', retryable: false });
    expect((err as IntercomApiError).requestId).toMatch(/[0-9a-f-]{36}/);
    expect(h.records.length - before).toBe(1); // no retry

    const bad = await gw.attachCompany('000000000000000000000000', 'x').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(IntercomApiError);
    expect((bad as IntercomApiError).status).toBeGreaterThanOrEqual(400);
  });

  it('retries 5xx and dropped connections until they pass', async () => {
    await fault({ method: 'GET', path: '/me', kind: 'status', status: 503, count: 1 });
    await fault({ method: 'GET', path: '/me', kind: 'status', status: 502, count: 1 });
    await fault({ method: 'GET', path: '/me', kind: 'drop', count: 1 });
    const before = h.records.length;
    await gw.me();
    const attempts = h.records.slice(before).map((r) => r.status);
    expect(attempts).toEqual([503, 502, null, 200]);
  });

  it('retries a timeout', async () => {
    const fast = h.gateway({ timeoutSeconds: 0.3 });
    await fault({ method: 'GET', path: '/me', kind: 'latency', latency_ms: 800, count: 1 });
    const before = h.records.length;
    await fast.me();
    expect(h.records.slice(before).map((r) => r.status)).toEqual([null, 200]);
  });

  // A write whose answer was lost may have been applied (or may still be applied later), and Intercom takes no
  // idempotency key; sending it again is a duplicate create, or a second write in flight to one entity. Only answers
  // that prove the write was not applied (429, a refused connection) are retried by the gateway; the push engine
  // decides about the rest.
  it('never resends a write after a timeout, a dropped connection or a 5xx', async () => {
    const fast = h.gateway({ timeoutSeconds: 0.3, maxRetries: 3 });
    await fault({ method: 'POST', path: '/contacts', kind: 'latency', latency_ms: 800, count: 1 });
    let before = h.records.length;
    const late = await fast.createContact({ role: 'lead', email: 'late-create@example.com' }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(IntercomApiError);
    expect((late as IntercomApiError).status).toBeUndefined();
    expect(h.records.slice(before).map((r) => `${r.endpoint} ${r.status}`)).toEqual(['POST /contacts null']);

    const c = await fast.createContact({ role: 'user', external_id: 'no-resend', email: 'no-resend@example.com' });
    for (const rule of [
      { kind: 'drop' },
      { kind: 'status', status: 502 },
      { kind: 'latency', latency_ms: 800 },
    ]) {
      await fault({ method: 'PUT', path: '/contacts/{id}', count: 1, ...rule });
      before = h.records.length;
      await expect(fast.updateContact(c.id, { name: `after ${rule.kind}` })).rejects.toBeInstanceOf(IntercomApiError);
      expect(h.records.slice(before)).toHaveLength(1);
    }
    // Reads are still retried: a second GET cannot change anything.
    await fault({ method: 'GET', path: '/contacts/{id}', kind: 'status', status: 503, count: 1 });
    before = h.records.length;
    await fast.getContact(c.id);
    expect(h.records.slice(before).map((r) => r.status)).toEqual([503, 200]);
  });

  it('retries a write Intercom provably did not apply (429)', async () => {
    await fault({ method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 429, count: 1 });
    const c = await gw.createContact({ role: 'user', external_id: 'retry-429', email: 'retry-429@example.com' });
    const before = h.records.length;
    expect((await gw.updateContact(c.id, { name: 'after 429' })).name).toBe('after 429');
    expect(h.records.slice(before).map((r) => r.status)).toEqual([429, 200]);
  });

  it('gives up after maxRetries with a retryable typed error', async () => {
    const g = h.gateway({ maxRetries: 2 });
    await fault({ method: 'GET', path: '/me', kind: 'status', status: 500, count: 3 });
    const err = await g.me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomApiError);
    expect(err).toMatchObject({ status: 500, code: 'server_error', retryable: true });
  });

  it('turns a truncated 2xx body into an IntercomPayloadError naming endpoint and request_id', async () => {
    await fault({ method: 'GET', path: '/me', kind: 'truncate', count: 1 });
    const err = await gw.me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomPayloadError);
    expect(err).toMatchObject({ endpoint: 'GET /me' });
    expect((err as IntercomPayloadError).requestId).toMatch(/[0-9a-f-]{36}/);
  });

  it('stops on 401: unhealthy, and later calls reject without a request, naming themselves', async () => {
    const g = h.gateway({ token: 'wrong-token' });
    const err = await g.me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntercomAuthError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized', retryable: false });
    expect(g.health().authError).toBe(err);
    const before = h.records.length;
    await expect(g.getContact('x')).rejects.toMatchObject({ name: 'IntercomAuthError', endpoint: 'GET /contacts/{id}', status: 401 });
    expect(h.records.length).toBe(before);
    expect(gw.health().authError).toBeNull();
  });

  it('counts every attempt by endpoint template and status', async () => {
    const byEndpoint = new Map<string, number>();
    for (const r of h.records) byEndpoint.set(`${r.endpoint} ${r.status}`, (byEndpoint.get(`${r.endpoint} ${r.status}`) ?? 0) + 1);
    expect(byEndpoint.get('GET /contacts/{id} 404')).toBeGreaterThanOrEqual(2);
    expect(byEndpoint.get('POST /contacts/{id}/companies 200')).toBe(55);
    expect([...byEndpoint.keys()].every((k) => !/[0-9a-f]{24}/.test(k))).toBe(true);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent and later calls reject without a request', async () => {
    const g = h.gateway();
    await g.me();
    const first = g.close();
    expect(g.close()).toBe(first);
    await first;
    const before = h.records.length;
    await expect(g.me()).rejects.toThrow(/closed/);
    expect(h.records.length).toBe(before);
  });
});
