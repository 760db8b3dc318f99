import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Priority } from '../../src/intercom/gateway.ts';
import { harness, perMinuteFor, stepWindows, track, until, untilWaitingForClock, type Harness } from './helpers.ts';

// When the window budget is spent, queued work leaves in priority order: pushes, pulls, backfill, verification. The
// limiter's windows run on a clock the test steps, so the spent window stays spent while the queue fills.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, seedContacts: 1 }, { manualClock: true });
});
afterAll(async () => {
  await h.close();
});

it('runs pushes before pulls before backfill before verification sweeps', async () => {
  // 4 per window, one at a time so the dispatch order is observable. Spend the window's 4 first, then queue 8; they
  // leave over the next two windows.
  const BUDGET = 4;
  const gw = h.gateway({ ratePerMinute: perMinuteFor(BUDGET), maxConcurrent: 1 });
  await Promise.all(Array.from({ length: BUDGET }, () => gw.listContacts({ perPage: 1 }, 'verify')));
  await until(
    () => gw.limiterState().reservoir === 0,
    () => `reservoir ${gw.limiterState().reservoir}`,
  );

  const order: Priority[] = ['verify', 'backfill', 'pull', 'push'];
  const calls = [];
  for (let i = 0; i < 2; i++) for (const p of order) calls.push(gw.listContacts({ perPage: 1 }, p));
  const queued = track(calls);
  await untilWaitingForClock(gw, queued.pending);
  expect(gw.limiterState().queued).toBe(8);
  const results = await stepWindows(h.clock!, gw, queued);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const dispatched = h.records.slice(BUDGET).map((r) => r.priority);
  expect(dispatched).toEqual([...Array(2).fill('push'), ...Array(2).fill('pull'), ...Array(2).fill('backfill'), ...Array(2).fill('verify')]);
});
