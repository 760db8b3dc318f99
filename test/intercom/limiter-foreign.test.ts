import { afterAll, beforeAll, expect, it } from 'vitest';
import { atWindowStart, harness, perMinuteFor, windowOf, type Harness } from './helpers.ts';

// Another app on the same workspace spends the shared window budget
// (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting): the limiter reads
// X-RateLimit-Remaining and holds back instead of running into 429s, and when the window is already empty it waits
// for the reset. App and workspace both allow 10 per window.
const BUDGET = 10;
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: perMinuteFor(BUDGET), workspaceRateLimitPerMinute: perMinuteFor(BUDGET), seedContacts: 5 });
});
afterAll(async () => {
  await h.close();
});

it('adapts to a foreign consumer, and waits for the reset when the window is drained', async () => {
  await atWindowStart();
  // Two in flight at a time: the first burst leaves before any answer reports the foreign use, so it must fit in
  // what is left (4).
  const gw = h.gateway({ ratePerMinute: perMinuteFor(BUDGET), maxConcurrent: 2 });

  // Part drained: 4 of 10 left. We ask for 6; 4 fit now, 2 must wait for the next window, and none may 429.
  await h.control('POST', '/__sim/foreign-consume', { count: 6 });
  const w0 = windowOf(Date.now());
  const first = await Promise.allSettled(Array.from({ length: 6 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(first.filter((r) => r.status === 'rejected')).toEqual([]);
  expect(h.records.filter((r) => r.status === 429)).toEqual([]);
  expect(h.records.filter((r) => windowOf(r.at.getTime()) === w0)).toHaveLength(4);
  expect(h.records.filter((r) => windowOf(r.at.getTime()) === w0 + 1)).toHaveLength(2);

  // Fully drained: the first burst (at most maxConcurrent, 2) may meet 429s, then everyone waits for the reset.
  await h.control('POST', '/__sim/foreign-consume', { count: BUDGET });
  const drained = windowOf(Date.now());
  const before = h.records.length;
  const second = await Promise.allSettled(Array.from({ length: 5 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(second.filter((r) => r.status === 'rejected')).toEqual([]);
  const recs = h.records.slice(before);
  const limited = recs.filter((r) => r.status === 429);
  expect(limited.length).toBeLessThanOrEqual(2);
  expect(recs.filter((r) => r.status === 200 && windowOf(r.at.getTime()) === drained)).toEqual([]);
  expect(recs.filter((r) => windowOf(r.at.getTime()) > drained && r.status === 429)).toEqual([]);
  expect(recs.filter((r) => r.status === 200)).toHaveLength(5);
});
