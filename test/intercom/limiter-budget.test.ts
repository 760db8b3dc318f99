import { afterAll, beforeAll, expect, it } from 'vitest';
import { awayFromWindowEnd, harness, perWindow, type Harness } from './helpers.ts';

// A long backlog at 600/min (100 per 10 s window): the limiter must fill every window to the brim and never trip a 429.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 600, seedContacts: 5 });
});
afterAll(async () => {
  await h.close();
});

it('spends each full window budget and sees zero 429s', async () => {
  const gw = h.gateway({ ratePerMinute: 600 });
  await awayFromWindowEnd();
  const N = 230;
  const results = await Promise.allSettled(Array.from({ length: N }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const stats = await h.stats();
  expect(stats.rate_limited).toBe(0);
  expect(stats.total).toBe(N);

  const windows = [...perWindow(h.records).values()];
  // Every window but the last had a backlog, so each must hold exactly the budget: 100 % use, nothing over.
  expect(windows.slice(0, -1)).toEqual(windows.slice(0, -1).map(() => 100));
  expect(windows.at(-1)).toBe(N - 100 * (windows.length - 1));
  expect(windows.length).toBe(3);
  expect(gw.limiterState()).toMatchObject({ queued: 0, running: 0 });
});
