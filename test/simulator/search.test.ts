import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { call, control, start } from './helpers.ts';

let sim: RunningSimulator;
afterEach(() => sim?.close());

const DAY = 86400;
const D = Date.UTC(2026, 2, 10) / 1000; // 2026-03-10T00:00:00Z, a Tuesday
const at = (hours: number) => D + hours * 3600;

async function search(query: unknown, extra: Record<string, unknown> = {}) {
  return call(sim, 'POST', '/contacts/search', { query, ...extra });
}
const ids = (r: { body: { data: Array<{ id: string }> } }) => r.body.data.map((c) => c.id);

async function freezeAt(unix: number) {
  await control(sim, 'POST', '/clock', { freeze: true, set: unix });
}

describe('search: day granularity in the workspace time zone', () => {
  it('a contact updated at 10:00 is not returned by updated_at > 09:00 the same day', async () => {
    sim = await start();
    await freezeAt(at(10));
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'day-1' })).body;
    expect(c.updated_at).toBe(at(10));
    expect(ids(await search({ field: 'updated_at', operator: '>', value: at(9) }))).toEqual([]);
    // Any instant of the previous day makes `>` start at this day's midnight.
    expect(ids(await search({ field: 'updated_at', operator: '>', value: at(-1) }))).toEqual([c.id]);
    expect(ids(await search({ field: 'updated_at', operator: '=', value: at(23) }))).toEqual([c.id]);
    expect(ids(await search({ field: 'updated_at', operator: '=', value: String(at(1)) }))).toEqual([c.id]);
    expect(ids(await search({ field: 'updated_at', operator: '<', value: at(11) }))).toEqual([]);
    expect(ids(await search({ field: 'updated_at', operator: '<', value: at(24) }))).toEqual([c.id]);
  });

  it('uses the configured time zone for the day boundary', async () => {
    sim = await start({ timezone: 'America/Los_Angeles' });
    // 2026-03-10T10:00Z is 03:00 on 10 March in Los Angeles (PDT, UTC-7); local midnight is 07:00Z.
    await freezeAt(at(10));
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'tz-1' })).body;
    // 05:00Z is 22:00 local on 9 March, so `>` starts at local midnight of 10 March (07:00Z) and finds it.
    expect(ids(await search({ field: 'updated_at', operator: '>', value: at(5) }))).toEqual([c.id]);
    // 08:00Z is already 10 March locally: `>` would start on 11 March.
    expect(ids(await search({ field: 'updated_at', operator: '>', value: at(8) }))).toEqual([]);
    expect((await call(sim, 'GET', '/me')).body.app.timezone).toBe('America/Los_Angeles');
  });

  it('rejects the operators the spec forbids on dates', async () => {
    sim = await start();
    for (const operator of ['!=', '<=', '>=']) {
      const r = await search({ field: 'created_at', operator, value: D });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].code).toBe('parameter_invalid');
    }
    for (const operator of ['IN', 'NIN']) {
      expect((await search({ field: 'updated_at', operator, value: [D] })).status).toBe(400);
    }
  });
});

describe('search: the query language', () => {
  it('supports string, integer, boolean, tag and custom attribute operators', async () => {
    sim = await start({ seed: 3, seedContacts: 40 });
    const all = (await call(sim, 'GET', '/contacts?per_page=150')).body.data as Array<Record<string, any>>;
    const users = all.filter((c) => c.role === 'user');
    expect((await search({ field: 'role', operator: '=', value: 'user' })).body.total_count).toBe(users.length);
    expect((await search({ field: 'role', operator: '!=', value: 'user' })).body.total_count).toBe(all.length - users.length);
    expect(ids(await search({ field: 'external_id', operator: 'IN', value: ['ext-000001', 'ext-000002'] })).length).toBe(
      users.filter((u) => ['ext-000001', 'ext-000002'].includes(u.external_id)).length,
    );
    expect((await search({ field: 'email', operator: '^', value: 'LEAD' })).body.total_count).toBe(all.length - users.length);
    expect((await search({ field: 'email', operator: '~', value: '00001' })).body.total_count).toBe(
      all.filter((c) => c.email.includes('00001')).length,
    );
    expect((await search({ field: 'name', operator: '!~', value: 'Contact' })).body.total_count).toBe(0);
    const big = all.filter((c) => c.custom_attributes.seats >= 25).length;
    expect((await search({ field: 'custom_attributes.seats', operator: '>=', value: 25 })).body.total_count).toBe(big);
    expect((await search({ field: 'custom_attributes.vip', operator: '=', value: true })).body.total_count).toBe(
      all.filter((c) => c.custom_attributes.vip === true).length,
    );
    const target = users[0]!.id;
    await control(sim, 'POST', `/contacts/${target}/tag`, { name: 'churn-risk' });
    const tagId = (await control(sim, 'GET', `/contacts/${target}`)).body.tags[0].id;
    expect(ids(await search({ field: 'tag_id', operator: '=', value: tagId }))).toEqual([target]);
    expect((await search({ field: 'tag_id', operator: 'IN', value: [tagId] })).status).toBe(400);
    expect((await search({ field: 'custom_attributes.unknown', operator: '=', value: 'x' })).status).toBe(400);
    expect((await search({ field: 'no_such_field', operator: '=', value: 'x' })).status).toBe(400);
    expect((await search({ field: 'owner_id', operator: '=', value: 'abc' })).status).toBe(400);
    expect((await search({ field: 'email', operator: '>', value: 'a' })).status).toBe(400);
  });

  it('enforces nesting depth and group size', async () => {
    sim = await start();
    const f = { field: 'role', operator: '=', value: 'user' };
    const twoLevels = { operator: 'AND', value: [{ operator: 'OR', value: [f, f] }, { operator: 'OR', value: [f, f] }] };
    expect((await search(twoLevels)).status).toBe(200);
    const threeLevels = { operator: 'AND', value: [{ operator: 'OR', value: [{ operator: 'AND', value: [f] }] }] };
    const r = await search(threeLevels);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toContain('nested');
    expect((await search({ operator: 'OR', value: Array(15).fill(f) })).status).toBe(200);
    expect((await search({ operator: 'OR', value: Array(16).fill(f) })).status).toBe(400);
    expect((await call(sim, 'POST', '/contacts/search', { pagination: { per_page: 5 } })).status).toBe(400);
  });

  it('sorts, defaults per_page to 50 and caps it at 150, and rejects a bad sort order', async () => {
    sim = await start({ seedContacts: 200 });
    const q = { field: 'role', operator: 'IN', value: ['user', 'lead'] };
    const first = await search(q);
    expect(first.body.data).toHaveLength(50);
    expect(first.body.pages).toMatchObject({ type: 'pages', page: 1, per_page: 50, total_pages: 4 });
    expect((await search(q, { pagination: { per_page: 150 } })).body.data).toHaveLength(150);
    expect((await search(q, { pagination: { per_page: 151 } })).status).toBe(400);
    const desc = await search(q, { sort: { field: 'updated_at' }, pagination: { per_page: 150 } });
    const stamps = desc.body.data.map((c: { updated_at: number }) => c.updated_at);
    expect(stamps).toEqual([...stamps].sort((a: number, b: number) => b - a));
    const bad = await search(q, { sort: { field: 'updated_at', order: 'sideways' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].code).toBe('invalid_sort_order');
  });

  it('follows starting_after cursors to the end without duplicates', async () => {
    sim = await start({ seedContacts: 130 });
    const q = { field: 'created_at', operator: '>', value: 0 };
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await search(q, { pagination: { per_page: 40, ...(cursor ? { starting_after: cursor } : {}) } });
      pages += 1;
      expect(r.body.pages.page).toBe(pages);
      seen.push(...ids(r));
      cursor = r.body.pages.next?.starting_after;
    } while (cursor);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(130);
    expect((await search(q, { pagination: { starting_after: 'garbage' } })).status).toBe(400);
  });
});

describe('indexing delay', () => {
  it('keeps new and updated contacts out of search and list until indexed; GET by id is immediate', async () => {
    sim = await start({ indexingDelaySeconds: 120 });
    await freezeAt(at(12));
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'lag-1', name: 'Before' })).body;
    const q = { field: 'external_id', operator: '=', value: 'lag-1' };
    expect(ids(await search(q))).toEqual([]);
    expect((await call(sim, 'GET', '/contacts')).body.total_count).toBe(0);
    expect((await call(sim, 'GET', `/contacts/${c.id}`)).status).toBe(200);
    await control(sim, 'POST', '/clock', { advance_seconds: 119 });
    expect(ids(await search(q))).toEqual([]);
    await control(sim, 'POST', '/clock', { advance_seconds: 1 });
    expect(ids(await search(q))).toEqual([c.id]);
    expect((await call(sim, 'GET', '/contacts')).body.total_count).toBe(1);

    // An update shows the old version in search until the new one is indexed.
    await call(sim, 'PUT', `/contacts/${c.id}`, { name: 'After' });
    expect((await call(sim, 'GET', `/contacts/${c.id}`)).body.name).toBe('After');
    expect((await search(q)).body.data[0].name).toBe('Before');
    expect(ids(await search({ field: 'name', operator: '=', value: 'After' }))).toEqual([]);
    await control(sim, 'POST', '/clock', { advance_seconds: 120 });
    expect((await search(q)).body.data[0].name).toBe('After');
  });
});

describe('changes that do not move updated_at', () => {
  it('tagging through the control API leaves updated_at alone', async () => {
    sim = await start();
    await freezeAt(at(8));
    const c = (await call(sim, 'POST', '/contacts', { external_id: 'tag-1' })).body;
    await control(sim, 'POST', '/clock', { advance_seconds: 2 * DAY });
    const inspected = (await control(sim, 'POST', `/contacts/${c.id}/tag`, { name: 'vip' })).body;
    expect(inspected.contact.updated_at).toBe(c.updated_at);
    const now = (await call(sim, 'GET', `/contacts/${c.id}`)).body;
    expect(now.tags.data).toHaveLength(1);
    expect(now.updated_at).toBe(c.updated_at);
    // A silent control edit behaves the same; a normal one bumps.
    expect((await control(sim, 'PATCH', `/contacts/${c.id}?silent=true`, { name: 'Quiet' })).body.contact.updated_at).toBe(c.updated_at);
    expect((await control(sim, 'PATCH', `/contacts/${c.id}`, { name: 'Loud' })).body.contact.updated_at).toBe(at(8) + 2 * DAY);
  });
});
