import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, nextWindowAt, untilWaitingForClock, type Harness } from './helpers.ts';

// An open company scroll is never starved by pushes: the scroll expires after about a minute idle, so its next page
// must leave before the pushes already queued, even when they fill every window of the budget. The limiter's
// windows run on a clock the test steps, so a busy machine cannot stretch the first window.
const WINDOW_MS = 10_000;
let h: Harness;

beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, seedContacts: 200, seedCompanies: 120 }, { manualClock: true });
});
afterAll(async () => {
  await h.close();
});

describe('scroll priority', () => {
  it("serves an open scroll's next page ahead of a budget-filling push backlog", async () => {
    // 60 per minute: 10 per 10-second window.
    const gw = h.gateway({ ratePerMinute: 60, windowMs: WINDOW_MS });
    const first = await gw.scrollCompanies(null);
    expect(first.scrollParam).not.toBeNull();
    const ids = (await h.gateway().listContacts({ perPage: 60 })).data.map((c) => c.id);
    const start = h.records.length;
    let open = ids.length + 1;
    const pushes = ids.map((id) =>
      gw
        .getContact(id, 'push')
        .catch(() => undefined)
        .finally(() => open--),
    );
    const nextCall = gw.scrollCompanies(first.scrollParam).finally(() => open--);
    // The first page took one unit of this window; the pushes may have the other 9. Then the window is spent and
    // everything else waits in the queue for the next one.
    await untilWaitingForClock(gw, () => open);
    h.clock!.advanceTo(nextWindowAt(h.clock!, gw, WINDOW_MS));
    const next = await nextCall;
    expect(next.data.length).toBeGreaterThan(0);
    const mine = h.records.slice(start).filter((r) => r.endpoint === 'GET /contacts/{id}' || r.endpoint === 'GET /companies/scroll');
    const at = mine.findIndex((r) => r.endpoint === 'GET /companies/scroll');
    // At most the rest of the first window went to pushes first; 60 pushes would take six windows.
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThanOrEqual(9);
    expect(mine[at]!.priority).toBe('scroll');
    await gw.close();
    await Promise.all(pushes);
  });
});
