import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Priority } from '../../src/intercom/gateway.ts';
import { awayFromWindowEnd, harness, type Harness } from './helpers.ts';

// When the window budget is spent, queued work leaves in priority order: pushes, pulls, backfill, verification.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, seedContacts: 1 });
});
afterAll(async () => {
  await h.close();
});

it('runs pushes before pulls before backfill before verification sweeps', async () => {
  // 120/min → 20 per window; one at a time so the dispatch order is observable.
  // Spend the window's 20 from its start: on a loaded machine 20 sequential calls can take seconds, and the test
  // needs the window to stay spent while the next 20 are queued. The gateway is made after the wait, so its first
  // window is this one (one made earlier refills at the boundary we just waited for).
  await awayFromWindowEnd(9500);
  const gw = h.gateway({ ratePerMinute: 120, maxConcurrent: 1 });
  await Promise.all(Array.from({ length: 20 }, () => gw.listContacts({ perPage: 1 }, 'verify')));
  expect(gw.limiterState().reservoir).toBe(0);

  const order: Priority[] = ['verify', 'backfill', 'pull', 'push'];
  const calls = [];
  for (let i = 0; i < 5; i++) for (const p of order) calls.push(gw.listContacts({ perPage: 1 }, p));
  expect(gw.limiterState().queued).toBeGreaterThan(0);
  await Promise.all(calls);

  const dispatched = h.records.slice(20).map((r) => r.priority);
  expect(dispatched).toEqual([
    ...Array(5).fill('push'),
    ...Array(5).fill('pull'),
    ...Array(5).fill('backfill'),
    ...Array(5).fill('verify'),
  ]);
});
