import { IntercomError } from 'intercom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { startSimulator } from '../../src/simulator/server.ts';
import { call, control, sdk, start } from './helpers.ts';

let sim: RunningSimulator;
afterEach(() => sim?.close());

describe('faults', () => {
  it('injects statuses by count on one route template, then stops', async () => {
    sim = await start();
    await control(sim, 'POST', '/faults', { method: 'GET', path: '/contacts/{id}', kind: 'status', status: 503, count: 2 });
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'f-1' })).body;
    expect((await call(sim, 'GET', `/contacts/${c.id}`)).status).toBe(503);
    const second = await call(sim, 'GET', `/contacts/${c.id}`);
    expect(second.status).toBe(503);
    expect(second.body.type).toBe('error.list');
    expect((await call(sim, 'GET', `/contacts/${c.id}`)).status).toBe(200);
    expect((await call(sim, 'GET', '/me')).status).toBe(200);
    const stats = (await control(sim, 'GET', '/stats')).body;
    expect(stats.by_route['GET /contacts/{id}']).toEqual({ '200': 1, '503': 2 });
    expect(stats.faults_injected).toBe(2);
  });

  it('drops connections and truncates bodies; the SDK sees transport errors', async () => {
    sim = await start();
    const client = sdk(sim);
    await control(sim, 'POST', '/faults', { rules: [{ path: '/me', kind: 'drop', count: 1 }, { path: '/me', kind: 'truncate', count: 1 }] });
    const dropped = await client.admins.identify().then(() => null, (e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    const truncated = await client.admins.identify().then(() => null, (e: unknown) => e);
    expect(truncated).toBeInstanceOf(Error);
    expect((await client.admins.identify())?.type).toBe('admin');
  });

  it('injects 429 with the rate-limit body, latency, and probability 0 never fires', async () => {
    sim = await start({ rateLimitPerMinute: 600 });
    await control(sim, 'POST', '/faults', { path: '*', kind: 'status', status: 429, count: 1 });
    await control(sim, 'POST', '/faults', { path: '/contacts', kind: 'status', status: 500, probability: 0 });
    await control(sim, 'POST', '/faults', { path: '/me', kind: 'latency', latency_ms: 30, count: 1 });
    const e = await sdk(sim).contacts.list().then(() => null, (err: unknown) => err);
    expect((e as IntercomError).statusCode).toBe(429);
    expect(JSON.stringify((e as IntercomError).body)).toContain('Exceeded rate limit of 100 in 10_seconds');
    expect((await call(sim, 'GET', '/contacts')).status).toBe(200);
    expect((await call(sim, 'GET', '/me')).status).toBe(200);
    expect((await control(sim, 'POST', '/faults', { kind: 'status', status: 418 })).status).toBe(400);
    await control(sim, 'DELETE', '/faults');
    expect((await control(sim, 'GET', '/faults')).body.data).toEqual([]);
  });
});

describe('control API', () => {
  it('acts as Intercom users without spending the budget and exposes full state', async () => {
    sim = await start({ rateLimitPerMinute: 500 });
    const created = (await control(sim, 'POST', '/contacts', { external_id: 'ctl-1', email: 'ctl@example.com', has_hard_bounced: true })).body;
    const id = created.contact.id as string;
    expect(created).toMatchObject({ archived: false, deleted: false, merged_into: null, visible_in_search: true });
    expect(created.contact.has_hard_bounced).toBe(true);
    const co = (await control(sim, 'POST', '/companies', { company_id: 'ctl-co', name: 'Ctl', last_request_at: 1_700_000_000 })).body.company;
    expect((await control(sim, 'POST', '/attach', { contact_id: id, company_id: co.id })).body.contact_ids).toEqual([id]);
    expect((await control(sim, 'PATCH', `/companies/${co.id}`, { industry: 'mining' })).body.company.industry).toBe('mining');
    await control(sim, 'POST', `/contacts/${id}/archive`);
    expect((await control(sim, 'GET', '/contacts?external_id=ctl-1')).body.data[0]).toMatchObject({ archived: true, visible_in_search: false });
    await control(sim, 'POST', `/contacts/${id}/unarchive`);
    expect((await control(sim, 'POST', '/detach', { contact_id: id, company_id: co.id })).body.contact_ids).toEqual([]);
    const lead = (await control(sim, 'POST', '/contacts', { role: 'lead', email: 'lead@example.com' })).body.contact;
    expect((await control(sim, 'POST', '/merge', { from: lead.id, into: id })).body.contact.id).toBe(id);
    expect((await control(sim, 'GET', `/contacts/${lead.id}`)).body.merged_into).toBe(id);
    expect((await control(sim, 'DELETE', `/contacts/${id}`)).body.deleted).toBe(true);
    expect((await control(sim, 'GET', '/companies?company_id=ctl-co')).body.data).toHaveLength(1);
    expect((await control(sim, 'GET', '/stats')).body.total).toBe(0);
    const r = await call(sim, 'GET', '/me');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('82');
  });

  it('is never reachable through the Intercom paths and changes config at run time', async () => {
    sim = await start();
    expect((await call(sim, 'GET', '/__sim/stats', undefined, {})).status).toBe(200);
    expect((await call(sim, 'GET', '/sim/stats')).status).toBe(404);
    const cfg = (await control(sim, 'PATCH', '/config', { indexing_delay_seconds: 30, timezone: 'Europe/Paris' })).body;
    expect(cfg).toMatchObject({ indexing_delay_seconds: 30, timezone: 'Europe/Paris', rate_limit_per_minute: 0 });
    expect((await control(sim, 'PATCH', '/config', { timezone: 'Mars/Olympus' })).status).toBe(400);
    expect((await control(sim, 'POST', '/reset', { contacts: 10, companies: 2 })).body.seeded).toEqual({ contacts: 10, companies: 2 });
    expect((await call(sim, 'GET', '/contacts')).body.total_count).toBe(10);
  });

  it('seeds deterministically', async () => {
    const a = await startSimulator({ seed: 42, seedContacts: 50, seedCompanies: 5, rateLimitPerMinute: 0 });
    const b = await startSimulator({ seed: 42, seedContacts: 50, seedCompanies: 5, rateLimitPerMinute: 0 });
    try {
      const la = (await call(a, 'GET', '/contacts?per_page=50')).body.data;
      const lb = (await call(b, 'GET', '/contacts?per_page=50')).body.data;
      expect(la).toEqual(lb);
      const c = (await call(a, 'GET', '/contacts?per_page=50')).body.data;
      expect(c).toEqual(la);
    } finally {
      await a.close();
      await b.close();
    }
    sim = await start();
  });
});

describe('scale', () => {
  it('lists and searches 100,000 contacts at 150 per page', async () => {
    sim = await start({ seedContacts: 100_000, seedCompanies: 1000 });
    let cursor: string | undefined;
    let seen = 0;
    let pages = 0;
    do {
      const r = await call(sim, 'GET', `/contacts?per_page=150${cursor ? `&starting_after=${cursor}` : ''}`);
      seen += r.body.data.length;
      pages += 1;
      cursor = r.body.pages.next?.starting_after;
    } while (cursor && pages < 100);
    expect(seen).toBe(15_000);
    const q = { query: { field: 'updated_at', operator: '>', value: 0 }, sort: { field: 'updated_at', order: 'ascending' }, pagination: { per_page: 150 } };
    let s = await call(sim, 'POST', '/contacts/search', q);
    expect(s.body.total_count).toBe(100_000);
    for (let i = 0; i < 50; i++) {
      s = await call(sim, 'POST', '/contacts/search', { ...q, pagination: { per_page: 150, starting_after: s.body.pages.next.starting_after } });
    }
    expect(s.body.pages.page).toBe(51);
  });
});
