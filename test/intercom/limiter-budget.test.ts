import { afterAll, beforeAll, expect, it } from 'vitest';
import { harness, perMinuteFor, perSimWindow, simWindowAt, stepWindows, track, WINDOW_SECONDS, type Harness } from './helpers.ts';

// A long backlog at 8 per 2 s window (240/min): the limiter must fill every window to the brim and never trip a 429.
// The windows are the simulator's, on a clock the test steps: each moves on only once the limiter waits for it.
const BUDGET = 8;
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: perMinuteFor(BUDGET), seedContacts: 5 }, { manualClock: true });
});
afterAll(async () => {
  await h.close();
});

it('spends each full window budget and sees zero 429s', async () => {
  const clock = h.clock!;
  const first = simWindowAt(clock.now());
  const gw = h.gateway({ ratePerMinute: perMinuteFor(BUDGET) });
  const N = 2 * BUDGET + 6;
  const calls = track(Array.from({ length: N }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  const results = await stepWindows(clock, gw, calls);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const stats = await h.stats();
  expect(stats.rate_limited).toBe(0);
  expect(stats.total).toBe(N);

  // Every window but the last had a backlog, so each must hold exactly the budget: 100 % use, nothing over. The
  // windows follow each other: the limiter spent each one as soon as it opened.
  const windows = perSimWindow(await h.requests());
  expect([...windows.keys()]).toEqual([first, first + WINDOW_SECONDS, first + 2 * WINDOW_SECONDS]);
  expect([...windows.values()].map((w) => w.ok)).toEqual([BUDGET, BUDGET, N - 2 * BUDGET]);
  expect(gw.limiterState()).toMatchObject({ queued: 0, running: 0 });
});
