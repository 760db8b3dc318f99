import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { call, control, start } from './helpers.ts';

let sim: RunningSimulator;
afterEach(() => sim?.close());

describe('merge', () => {
  it('the lead answers 404 afterwards and leaves list and search; the user keeps its id', async () => {
    sim = await start();
    const user = (await call(sim, 'POST', '/contacts', { external_id: 'u-1', email: 'u1@example.com' })).body;
    const lead = (await call(sim, 'POST', '/contacts', { role: 'lead', email: 'l1@example.com', phone: '+100' })).body;
    const co = (await call(sim, 'POST', '/companies', { company_id: 'co-1', name: 'Co' })).body;
    await call(sim, 'POST', `/contacts/${lead.id}/companies`, { id: co.id });
    const merged = await call(sim, 'POST', '/contacts/merge', { from: lead.id, into: user.id });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({ id: user.id, phone: '+100', external_id: 'u-1' });
    expect(merged.body.companies.data.map((c: { id: string }) => c.id)).toEqual([co.id]);
    const gone = await call(sim, 'GET', `/contacts/${lead.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.errors[0]).toEqual({ code: 'not_found', message: 'User Not Found' });
    const listed = (await call(sim, 'GET', '/contacts')).body.data.map((c: { id: string }) => c.id);
    expect(listed).toEqual([user.id]);
    const searched = await call(sim, 'POST', '/contacts/search', { query: { field: 'updated_at', operator: '>', value: 0 } });
    expect(searched.body.data.map((c: { id: string }) => c.id)).toEqual([user.id]);
    expect((await control(sim, 'GET', `/contacts/${lead.id}`)).body).toMatchObject({ merged_into: user.id, visible_in_search: false });
  });

  it('refuses merges that are not lead into user', async () => {
    sim = await start();
    const u1 = (await call(sim, 'POST', '/contacts', { external_id: 'a' })).body;
    const u2 = (await call(sim, 'POST', '/contacts', { external_id: 'b' })).body;
    const lead = (await call(sim, 'POST', '/contacts', { role: 'lead' })).body;
    const lead2 = (await call(sim, 'POST', '/contacts', { role: 'lead' })).body;
    for (const [from, into] of [[u1.id, u2.id], [lead.id, lead2.id], [lead.id, lead.id]]) {
      const r = await call(sim, 'POST', '/contacts/merge', { from, into });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].code).toBe('merge_not_possible');
    }
    expect((await call(sim, 'POST', '/contacts/merge', { from: lead.id, into: '0'.repeat(24) })).status).toBe(404);
    expect((await call(sim, 'POST', '/contacts/merge', { from: lead.id })).status).toBe(400);
  });
});

describe('company visibility and the list ceiling', () => {
  it('hides companies without contacts from list and scroll but finds them by company_id', async () => {
    sim = await start();
    const lonely = (await call(sim, 'POST', '/companies', { company_id: 'lonely', name: 'Lonely' })).body;
    const busy = (await call(sim, 'POST', '/companies', { company_id: 'busy', name: 'Busy' })).body;
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'member' })).body;
    await call(sim, 'POST', `/contacts/${c.id}/companies`, { id: busy.id });
    const listed = (await call(sim, 'POST', '/companies/list')).body;
    expect(listed.data.map((x: { id: string }) => x.id)).toEqual([busy.id]);
    expect(listed.total_count).toBe(1);
    expect((await call(sim, 'GET', '/companies/scroll')).body.data.map((x: { id: string }) => x.id)).toEqual([busy.id]);
    const found = (await call(sim, 'GET', '/companies?company_id=lonely')).body;
    expect(found).toMatchObject({ type: 'list', total_count: 1 });
    expect(found.data[0].id).toBe(lonely.id);
    const miss = await call(sim, 'GET', '/companies?company_id=nope');
    expect(miss.status).toBe(404);
    expect(miss.body.errors[0].code).toBe('company_not_found');
  });

  it('fails past the list ceiling with a pointer to scroll', async () => {
    sim = await start({ seedContacts: 100, seedCompanies: 30, companyListCeiling: 40 });
    expect((await call(sim, 'POST', '/companies/list?per_page=20&page=2')).status).toBe(200);
    const r = await call(sim, 'POST', '/companies/list?per_page=20&page=3');
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({ code: 'bad_request', message: 'page limit reached, please use scroll API' });
  });

  it('orders the list by last_request_at, descending by default', async () => {
    sim = await start({ seedContacts: 60, seedCompanies: 20 });
    const desc = (await call(sim, 'POST', '/companies/list?per_page=60')).body.data.map((c: { last_request_at: number }) => c.last_request_at);
    expect(desc).toEqual([...desc].sort((a: number, b: number) => b - a));
    const asc = (await call(sim, 'POST', '/companies/list?per_page=60&order=asc')).body.data.map((c: { last_request_at: number }) => c.last_request_at);
    expect(asc).toEqual([...desc].reverse());
  });
});

describe('company scroll', () => {
  it('allows one open scroll, expires it after 60 s idle, and ends on an empty page', async () => {
    sim = await start({ seedContacts: 200, seedCompanies: 120 });
    await control(sim, 'POST', '/clock', { freeze: true, set: 1_800_000_000 });
    const first = await call(sim, 'GET', '/companies/scroll');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(50);
    const param = first.body.scroll_param as string;
    const second = await call(sim, 'GET', '/companies/scroll');
    expect(second.status).toBe(400);
    expect(second.body.errors[0].message).toContain('scroll already exists');
    await control(sim, 'POST', '/clock', { advance_seconds: 59 });
    const page2 = await call(sim, 'GET', `/companies/scroll?scroll_param=${param}`);
    expect(page2.body.data).toHaveLength(50);
    await control(sim, 'POST', '/clock', { advance_seconds: 60 });
    const expired = await call(sim, 'GET', `/companies/scroll?scroll_param=${param}`);
    expect(expired.status).toBe(404);
    expect(expired.body.errors[0].message).toBe('scroll parameter not found');

    // After expiry a new scroll opens; walk it to the empty page that ends it.
    let r = await call(sim, 'GET', '/companies/scroll');
    let total = 0;
    while (r.body.data.length > 0) {
      total += r.body.data.length;
      r = await call(sim, 'GET', `/companies/scroll?scroll_param=${r.body.scroll_param}`);
    }
    expect(total).toBe(108); // 120 seeded, the last tenth have no contacts
    expect(r.body.scroll_param).toBeUndefined();
    expect((await call(sim, 'GET', '/companies/scroll')).status).toBe(200);
  });

  it('deleting a company detaches its contacts and hides it', async () => {
    sim = await start();
    const co = (await call(sim, 'POST', '/companies', { company_id: 'd-1', name: 'D' })).body;
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'd-member' })).body;
    await call(sim, 'POST', `/contacts/${c.id}/companies`, { id: co.id });
    expect((await call(sim, 'DELETE', `/companies/${co.id}`)).body).toEqual({ id: co.id, object: 'company', deleted: true });
    expect((await call(sim, 'GET', `/contacts/${c.id}`)).body.companies.total_count).toBe(0);
    expect((await call(sim, 'GET', '/companies?company_id=d-1')).status).toBe(404);
    expect((await control(sim, 'GET', `/companies/${co.id}`)).body.deleted).toBe(true);
  });
});
