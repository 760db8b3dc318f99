import { afterAll, beforeAll, expect, it } from 'vitest';
import { atWindowStart, harness, perMinuteFor, perWindow, type Harness } from './helpers.ts';

// A long backlog at 8 per 2 s window (240/min): the limiter must fill every window to the brim and never trip a 429.
// The budget is small so that even a busy machine sends a window's worth well inside the window.
const BUDGET = 8;
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: perMinuteFor(BUDGET), seedContacts: 5 });
});
afterAll(async () => {
  await h.close();
});

it('spends each full window budget and sees zero 429s', async () => {
  // The gateway is made at the window's start: one made earlier would carry its first window's units into this one.
  await atWindowStart();
  const gw = h.gateway({ ratePerMinute: perMinuteFor(BUDGET) });
  const N = 2 * BUDGET + 6;
  const results = await Promise.allSettled(Array.from({ length: N }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const stats = await h.stats();
  expect(stats.rate_limited).toBe(0);
  expect(stats.total).toBe(N);

  const windows = [...perWindow(h.records).values()];
  // Every window but the last had a backlog, so each must hold exactly the budget: 100 % use, nothing over.
  expect(windows.slice(0, -1)).toEqual(windows.slice(0, -1).map(() => BUDGET));
  expect(windows.at(-1)).toBe(N - BUDGET * (windows.length - 1));
  expect(windows.length).toBe(3);
  expect(gw.limiterState()).toMatchObject({ queued: 0, running: 0 });
});
