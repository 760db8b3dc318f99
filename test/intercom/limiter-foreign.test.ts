import { afterAll, beforeAll, expect, it } from 'vitest';
import { awayFromWindowEnd, harness, windowOf, type Harness } from './helpers.ts';

// Another app on the same workspace spends the shared window budget (API-NOTES §13): the limiter reads
// X-RateLimit-Remaining and holds back instead of running into 429s, and when the window is already empty it waits
// for the reset.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 600, workspaceRateLimitPerMinute: 600, seedContacts: 5 });
});
afterAll(async () => {
  await h.close();
});

it('adapts to a foreign consumer, and waits for the reset when the window is drained', async () => {
  const gw = h.gateway({ ratePerMinute: 600 });
  await awayFromWindowEnd(3000);

  // Part drained: 40 of 100 left. We ask for 60; 40 fit now, 20 must wait for the next window, and none may 429.
  await h.control('POST', '/__sim/foreign-consume', { count: 60 });
  const w0 = windowOf(Date.now());
  const first = await Promise.allSettled(Array.from({ length: 60 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(first.filter((r) => r.status === 'rejected')).toEqual([]);
  expect(h.records.filter((r) => r.status === 429)).toEqual([]);
  expect(h.records.filter((r) => windowOf(r.at.getTime()) === w0)).toHaveLength(40);
  expect(h.records.filter((r) => windowOf(r.at.getTime()) === w0 + 1)).toHaveLength(20);

  // Fully drained: the first burst (at most maxConcurrent requests) may meet 429s, then everyone waits for the reset.
  await h.control('POST', '/__sim/foreign-consume', { count: 100 });
  const drained = windowOf(Date.now());
  const before = h.records.length;
  const second = await Promise.allSettled(Array.from({ length: 20 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(second.filter((r) => r.status === 'rejected')).toEqual([]);
  const recs = h.records.slice(before);
  const limited = recs.filter((r) => r.status === 429);
  expect(limited.length).toBeLessThanOrEqual(10);
  expect(recs.filter((r) => r.status === 200 && windowOf(r.at.getTime()) === drained)).toEqual([]);
  expect(recs.filter((r) => windowOf(r.at.getTime()) > drained && r.status === 429)).toEqual([]);
  expect(recs.filter((r) => r.status === 200)).toHaveLength(20);
});
