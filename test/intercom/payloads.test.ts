import { describe, expect, it } from 'vitest';
import {
  PayloadShapeError,
  parseCompany,
  parseCompanyScroll,
  parseContact,
  parseContactCompaniesPage,
  parseContactPage,
} from '../../src/intercom/payloads.ts';
import { readRateHeaders } from '../../src/intercom/errors-from-response.ts';
import { backoffMs, DEFAULT_RETRY } from '../../src/intercom/retry.ts';
import { windowBudget } from '../../src/intercom/limiter.ts';

// Parsing is pure: shapes Intercom documents, shapes it sends anyway, and shapes we must refuse.
const contact = {
  type: 'contact',
  id: '6571e4a5b3c2d1e0f9a8b7c6',
  external_id: 'u-1',
  role: 'user',
  email: 'a@example.com',
  phone: null,
  name: 'A',
  owner_id: '42',
  unsubscribed_from_emails: false,
  custom_attributes: { tier: 'gold', seats: 3 },
  signed_up_at: 1700000000,
  last_seen_at: null,
  created_at: 1700000000,
  updated_at: 1700000500,
  companies: { type: 'list', data: [{ type: 'company', id: 'c1', url: '/companies/c1' }], has_more: false, total_count: 1 },
  tags: { type: 'list', data: [{ type: 'tag', id: 't1' }] },
  utm_source: 'not in the schema',
};

describe('payloads', () => {
  it('parses a contact, keeping unknown keys in raw', () => {
    const c = parseContact(contact);
    expect(c).toMatchObject({
      id: contact.id,
      externalId: 'u-1',
      ownerId: 42,
      customAttributes: { tier: 'gold', seats: 3 },
      companies: { ids: ['c1'], hasMore: false, totalCount: 1 },
      tags: ['t1'],
      lastSeenAt: null,
    });
    expect((c.raw as { utm_source: string }).utm_source).toBe('not in the schema');
    expect('archived' in c).toBe(false);
  });

  it('refuses wrong types with the path of the problem', () => {
    expect(() => parseContact({ ...contact, updated_at: 'yesterday' })).toThrow(/updated_at/);
    expect(() => parseContact({ ...contact, role: 'visitor' })).toThrow(PayloadShapeError);
    // In a page, a record that does not parse is set aside with its reason; the rest of the page is read.
    const page = parseContactPage({ data: [contact, { ...contact, id: 5 }, { ...contact, id: 'c2', role: 'visitor_v3' }] });
    expect(page.data.map((c) => c.id)).toEqual([contact.id]);
    // What can still be read of a record with an id goes with it (a drifted create found by a look-up is linked by it).
    expect(page.invalid).toEqual([
      { id: null, updatedAt: contact.updated_at, reason: expect.stringMatching(/^data\[1\] contact: id/), identity: null },
      {
        id: 'c2',
        updatedAt: contact.updated_at,
        reason: expect.stringMatching(/^data\[2\] contact: role/),
        identity: { id: 'c2', externalId: contact.external_id, email: contact.email, updatedAt: contact.updated_at },
      },
    ]);
  });

  it('reads plan names from objects, strings and empty plans', () => {
    const base = { id: 'i', company_id: 'c', created_at: 1, updated_at: 2 };
    expect(parseCompany({ ...base, plan: { type: 'plan', id: '1', name: 'pro' } }).plan).toBe('pro');
    expect(parseCompany({ ...base, plan: 'pro' }).plan).toBe('pro');
    expect(parseCompany({ ...base, plan: {} }).plan).toBeNull();
    expect(parseCompany({ ...base, plan: [] }).plan).toBeNull();
  });

  it('pages: cursor, page-link and end of scroll', () => {
    expect(parseContactPage({ data: [], pages: { next: { starting_after: 'abc' } } }).nextCursor).toBe('abc');
    expect(parseContactPage({ data: [], pages: { next: null } }).nextCursor).toBeNull();
    const co = { id: 'i', company_id: 'c', created_at: 1, updated_at: 2 };
    expect(parseContactCompaniesPage({ companies: [co], pages: { next: '/x?page=2', page: 1, total_pages: 2 } })).toMatchObject({
      nextCursor: null,
      hasNextPageNumber: true,
    });
    expect(parseCompanyScroll({ data: [], scroll_param: 'dead' })).toEqual({ data: [], scrollParam: null });
    expect(parseCompanyScroll(undefined)).toEqual({ data: [], scrollParam: null });
  });
});

describe('limiter arithmetic', () => {
  it('starts at limit/6 per 10 s window, rounded down (Intercom: 500/min is 83)', () => {
    expect(windowBudget(500, 10_000)).toBe(83);
    expect(windowBudget(1000, 10_000)).toBe(166);
    expect(windowBudget(600, 10_000)).toBe(100);
  });

  it('backs off with full jitter, capped', () => {
    expect(backoffMs(0, DEFAULT_RETRY, () => 0.999)).toBeLessThan(500);
    expect(backoffMs(3, DEFAULT_RETRY, () => 1)).toBe(4000);
    expect(backoffMs(20, DEFAULT_RETRY, () => 1)).toBe(30_000);
  });

  it('reads reset times on the server clock when it differs from ours', () => {
    const now = 1_800_000_005_000;
    const h = (o: Record<string, string>) => new Headers(o);
    expect(readRateHeaders(h({ 'x-ratelimit-reset': '1800000010' }), 10_000, now).resetAtMs).toBe(1_800_000_010_000);
    // Server clock an hour ahead: the Date header gives the offset.
    const skewed = readRateHeaders(
      h({ 'x-ratelimit-reset': String(1_800_003_610), date: new Date(now + 3_600_000).toUTCString() }),
      10_000,
      now,
    );
    expect(skewed.resetAtMs).toBe(1_800_000_010_000);
    expect(readRateHeaders(h({ 'x-ratelimit-reset': '99' }), 10_000, now).resetAtMs).toBeNull();
  });
});
