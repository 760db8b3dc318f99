import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Priority } from '../../src/intercom/gateway.ts';
import { atWindowStart, harness, perMinuteFor, type Harness } from './helpers.ts';

// When the window budget is spent, queued work leaves in priority order: pushes, pulls, backfill, verification.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, seedContacts: 1 });
});
afterAll(async () => {
  await h.close();
});

it('runs pushes before pulls before backfill before verification sweeps', async () => {
  // 4 per window, one at a time so the dispatch order is observable. Spend the window's 4 from its start so it stays
  // spent while the next 8 are queued; the gateway is made after the wait, so its first window is this one (one made
  // earlier refills at the boundary we just waited for). The 8 then leave over the next two windows.
  const BUDGET = 4;
  await atWindowStart();
  const gw = h.gateway({ ratePerMinute: perMinuteFor(BUDGET), maxConcurrent: 1 });
  await Promise.all(Array.from({ length: BUDGET }, () => gw.listContacts({ perPage: 1 }, 'verify')));
  expect(gw.limiterState().reservoir).toBe(0);

  const order: Priority[] = ['verify', 'backfill', 'pull', 'push'];
  const calls = [];
  for (let i = 0; i < 2; i++) for (const p of order) calls.push(gw.listContacts({ perPage: 1 }, p));
  expect(gw.limiterState().queued).toBeGreaterThan(0);
  await Promise.all(calls);

  const dispatched = h.records.slice(BUDGET).map((r) => r.priority);
  expect(dispatched).toEqual([...Array(2).fill('push'), ...Array(2).fill('pull'), ...Array(2).fill('backfill'), ...Array(2).fill('verify')]);
});
