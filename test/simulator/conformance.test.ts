import { IntercomError } from 'intercom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import { call, control, sdk, SpecValidator, start, expectLogValid, type Exchange } from './helpers.ts';

// Drives every simulated endpoint through the official SDK, then checks each recorded body against the
// response schema of the 2.14 subset (or its `error` schema for error statuses).
const validator = new SpecValidator();
const log: Exchange[] = [];
let sim: RunningSimulator;
let client: ReturnType<typeof sdk>;

// The SDK types the create body as a union that TypeScript cannot narrow from a literal.
const attr = (body: { name: string; model: string; data_type: string }) =>
  body as unknown as Parameters<typeof client.dataAttributes.create>[0];

async function expectApiError(p: Promise<unknown>, status: number, code: string): Promise<IntercomError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IntercomError);
  const e = err as IntercomError;
  expect(e.statusCode).toBe(status);
  expect((e.body as { errors: Array<{ code: string }> }).errors[0]!.code).toBe(code);
  return e;
}

beforeAll(async () => {
  sim = await start({ seed: 7, seedContacts: 120, seedCompanies: 40 });
  client = sdk(sim, log);
});
afterAll(() => sim.close());
afterEach(() => expectLogValid(validator, log));

describe('conformance through intercom-client', () => {
  it('GET /me reports the workspace time zone', async () => {
    const me = await client.admins.identify();
    expect(me?.app?.timezone).toBe('UTC');
  });

  it('lists every contact to the end with cursors', async () => {
    const ids = new Set<string>();
    let pages = 0;
    let page = await client.contacts.list({ per_page: 50 });
    for (;;) {
      pages += 1;
      for (const c of page.data) ids.add(c.id);
      if (!page.hasNextPage()) break;
      page = await page.getNextPage();
    }
    expect(ids.size).toBe(120);
    expect(pages).toBe(3);
    expect(page.response.total_count).toBe(120);
  });

  it('creates, reads, updates, archives, unarchives and deletes a contact', async () => {
    await client.dataAttributes.create(attr({ name: 'favourite_colour', model: 'contact', data_type: 'string' }));
    const created = await client.contacts.create({
      external_id: 'conf-1',
      email: 'conf1@example.com',
      name: 'Conf One',
      custom_attributes: { favourite_colour: 'teal' },
    });
    expect(created.id).toMatch(/^[0-9a-f]{24}$/);
    expect(created.role).toBe('user');
    const found = await client.contacts.find({ contact_id: created.id });
    expect(found.email).toBe('conf1@example.com');
    const byExt = await client.contacts.showContactByExternalId({ external_id: 'conf-1' });
    expect(byExt.id).toBe(created.id);
    const updated = await client.contacts.update({ contact_id: created.id, name: 'Conf Uno', custom_attributes: { seats: 3 } });
    expect(updated.name).toBe('Conf Uno');
    expect(updated.custom_attributes).toEqual({ favourite_colour: 'teal', seats: 3 });
    expect((await client.contacts.archive({ contact_id: created.id })).archived).toBe(true);
    expect((await client.contacts.unarchive({ contact_id: created.id })).archived).toBe(false);
    const deleted = await client.contacts.delete({ contact_id: created.id });
    expect(deleted).toMatchObject({ id: created.id, deleted: true, external_id: 'conf-1' });
    await expectApiError(client.contacts.find({ contact_id: created.id }), 404, 'not_found');
  });

  it('answers 409 on a duplicate external_id, also when the holder is archived', async () => {
    const first = await client.contacts.create({ external_id: 'dup-1', email: 'dup1@example.com' });
    const e = await expectApiError(client.contacts.create({ external_id: 'dup-1' }), 409, 'conflict');
    expect(JSON.stringify(e.body)).toContain(first.id);
    await client.contacts.archive({ contact_id: first.id });
    await expectApiError(client.contacts.create({ external_id: 'dup-1' }), 409, 'conflict');
    await expectApiError(client.contacts.showContactByExternalId({ external_id: 'dup-1' }), 404, 'not_found');
    await client.contacts.create({ role: 'lead', email: 'lead-dup@example.com' });
    await expectApiError(client.contacts.create({ role: 'lead', email: 'LEAD-dup@example.com' }), 409, 'conflict');
  });

  it('rejects bad input with 400 error bodies', async () => {
    await expectApiError(client.contacts.create({ email: 'not-an-email' }), 400, 'data_invalid');
    const e = await expectApiError(
      client.contacts.create({ external_id: 'x-1', custom_attributes: { nope: 1 } }),
      400,
      'parameter_invalid',
    );
    expect(JSON.stringify(e.body)).toContain("Custom attribute 'nope' does not exist");
    await expectApiError(
      client.contacts.create({ external_id: 'x-2', custom_attributes: { plan_name: 'x'.repeat(256) } }),
      400,
      'parameter_invalid',
    );
    await expectApiError(client.contacts.create({ external_id: 'x-3', custom_attributes: { seats: 'many' } }), 400, 'parameter_invalid');
    await expectApiError(client.dataAttributes.create(attr({ name: 'bad/name', model: 'contact', data_type: 'string' })), 400, 'parameter_invalid');
    await expectApiError(client.dataAttributes.create(attr({ name: 'plan_name', model: 'company', data_type: 'string' })), 400, 'parameter_invalid');
  });

  it('answers 401 with an error.list for a wrong token', async () => {
    const bad = sdk(sim, log, 'wrong-token');
    await expectApiError(bad.contacts.list(), 401, 'unauthorized');
  });

  it('searches with cursors to the end and sorts by full timestamps', async () => {
    const seen: string[] = [];
    const updated: number[] = [];
    let page = await client.contacts.search({
      query: { operator: 'AND', value: [{ field: 'role', operator: '=', value: 'user' }, { field: 'email', operator: '$', value: '@example.com' }] },
      pagination: { per_page: 25 },
      sort: { field: 'updated_at', order: 'ascending' },
    } as Parameters<typeof client.contacts.search>[0]);
    for (;;) {
      for (const c of page.data) {
        seen.push(c.id);
        updated.push(c.updated_at!);
      }
      if (!page.hasNextPage()) break;
      page = await page.getNextPage();
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(page.response.total_count);
    expect(updated).toEqual([...updated].sort((a, b) => a - b));
  });

  it('merges a lead into a user', async () => {
    const user = await client.contacts.create({ external_id: 'merge-user', email: 'mu@example.com' });
    const lead = await client.contacts.create({ role: 'lead', email: 'ml@example.com', name: 'Lead Name' });
    const merged = await client.contacts.mergeLeadInUser({ from: lead.id, into: user.id });
    expect(merged.id).toBe(user.id);
    expect(merged.name).toBe('Lead Name');
    await expectApiError(client.contacts.find({ contact_id: lead.id }), 404, 'not_found');
    await expectApiError(client.contacts.mergeLeadInUser({ from: user.id, into: user.id }), 400, 'merge_not_possible');
  });

  it('runs the company endpoints', async () => {
    const c = await client.companies.createOrUpdate({ company_id: 'conf-co', name: 'Conf Co', plan: 'pro', custom_attributes: { tier: 'gold' } });
    expect(c.user_count).toBe(0);
    const again = await client.companies.createOrUpdate({ company_id: 'conf-co', monthly_spend: 12.7 });
    expect(again.id).toBe(c.id);
    expect(again.monthly_spend).toBe(12);
    const byCompanyId = await client.companies.retrieve({ company_id: 'conf-co' });
    expect(byCompanyId.type).toBe('list');
    expect(await client.companies.find({ company_id: c.id })).toMatchObject({ id: c.id, name: 'Conf Co' });
    expect((await client.companies.update({ company_id: c.id, body: { name: 'Conf Company' } })).name).toBe('Conf Company');
    const contact = await client.contacts.create({ external_id: 'co-member' });
    const attached = await client.companies.attachContact({ contact_id: contact.id, id: c.id });
    expect(attached.user_count).toBe(1);
    const companiesOfContact = await client.contacts.listAttachedCompanies({ contact_id: contact.id });
    expect(companiesOfContact.data.map((x) => x.id)).toEqual([c.id]);
    const members = await client.companies.listAttachedContacts({ company_id: c.id });
    expect(members.data?.map((x) => x.id)).toEqual([contact.id]);
    const detached = await client.companies.detachContact({ contact_id: contact.id, company_id: c.id });
    expect(detached.user_count).toBe(0);
    await expectApiError(client.companies.attachContact({ contact_id: contact.id, id: 'nope' }), 404, 'company_not_found');
    await expectApiError(client.companies.createOrUpdate({ company_id: 'x', test: 'invalid' } as never), 400, 'bad_request');
    expect(await client.companies.delete({ company_id: c.id })).toEqual({ id: c.id, object: 'company', deleted: true });
    await expectApiError(client.companies.find({ company_id: c.id }), 404, 'company_not_found');
  });

  it('pages the company list to the end and scrolls to the end', async () => {
    let listed = 0;
    for await (const _ of await client.companies.list({ per_page: 10 })) listed += 1;
    expect(listed).toBe(36); // 40 seeded, the last tenth have no contacts and stay hidden
    let scrolled = 0;
    for await (const _ of await client.companies.scroll()) scrolled += 1;
    expect(scrolled).toBe(36);
    // The scroll ended on an empty page, so a new one may open at once.
    expect((await client.companies.scroll()).data.length).toBeGreaterThan(0);
    await control(sim, 'POST', '/clock', { advance_seconds: 61 });
  });

  it('lists and creates data attributes', async () => {
    const list = await client.dataAttributes.list({ model: 'contact' });
    expect(list.data?.some((a) => a.name === 'plan_name' && a.custom)).toBe(true);
    const created = await client.dataAttributes.create(attr({ name: 'Mithril Shirt', model: 'company', data_type: 'boolean' }));
    expect(created.full_name).toBe('custom_attributes.Mithril Shirt');
  });

  it('gives every response a fresh request id header', async () => {
    const a = await call(sim, 'GET', '/me');
    const b = await call(sim, 'GET', '/contacts/000000000000000000000000');
    log.push({ method: 'GET', path: '/me', status: a.status, body: a.body });
    log.push({ method: 'GET', path: '/contacts/000000000000000000000000', status: b.status, body: b.body });
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
    expect(b.body.request_id).toBe(b.headers.get('x-request-id'));
  });
});
