import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.ts';

// An open company scroll is never starved by pushes: the scroll expires after about a minute idle, so its
// next page must leave before the pushes already queued, even when they fill every window of the budget.
let h: Harness;

beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, seedContacts: 200, seedCompanies: 120 });
});
afterAll(async () => {
  await h.close();
});

describe('scroll priority', () => {
  it("serves an open scroll's next page ahead of a budget-filling push backlog", async () => {
    // 60 per minute: 10 per 10-second window.
    const gw = h.gateway({ ratePerMinute: 60 });
    const first = await gw.scrollCompanies(null);
    expect(first.scrollParam).not.toBeNull();
    const ids = (await h.gateway().listContacts({ perPage: 60 })).data.map((c) => c.id);
    const start = h.records.length;
    const pushes = ids.map((id) => gw.getContact(id, 'push').catch(() => undefined));
    const next = await gw.scrollCompanies(first.scrollParam);
    expect(next.data.length).toBeGreaterThan(0);
    const mine = h.records.slice(start).filter((r) => r.endpoint === 'GET /contacts/{id}' || r.endpoint === 'GET /companies/scroll');
    const at = mine.findIndex((r) => r.endpoint === 'GET /companies/scroll');
    // At most the rest of the current window went to pushes first; 60 pushes would take six windows.
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThanOrEqual(10);
    expect(mine[at]!.priority).toBe('scroll');
    await gw.close();
    await Promise.all(pushes);
  }, 60_000);
});
