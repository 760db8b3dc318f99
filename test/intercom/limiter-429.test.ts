import { afterAll, beforeAll, expect, it } from 'vitest';
import { atWindowStart, harness, perMinuteFor, windowOf, type Harness } from './helpers.ts';

// Injected 429s: the limiter pauses every caller until Intercom's reset, then finishes the work. The budget (40 per
// window) holds all 30 calls, so every wait seen comes from the 429s.
const RATE = perMinuteFor(40);
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: RATE, seedContacts: 5 });
});
afterAll(async () => {
  await h.close();
});

it('pauses all callers until the window resets after a 429 burst, then recovers', async () => {
  await atWindowStart();
  const gw = h.gateway({ ratePerMinute: RATE });
  // The three 429s answer slowly, so the burst is in flight together and lands in one window.
  await h.control('POST', '/__sim/faults', {
    rules: [
      { method: 'GET', path: '/contacts', kind: 'latency', latency_ms: 300, count: 3 },
      { method: 'GET', path: '/contacts', kind: 'status', status: 429, count: 3 },
    ],
  });
  const results = await Promise.allSettled(Array.from({ length: 30 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const stats = await h.stats();
  expect(stats.rate_limited).toBe(3); // the injected ones, no more
  const limited = h.records.filter((r) => r.status === 429);
  expect(limited).toHaveLength(3);
  const firstAnswer = Math.min(...limited.map((r) => r.at.getTime() + r.durationMs));
  const hitWindow = windowOf(limited[0]!.at.getTime());
  // Nothing left in the 429's window once the 429 was seen: all later sends wait for the reset.
  const sentAfter = h.records.filter((r) => r.at.getTime() > firstAnswer);
  expect(sentAfter.length).toBeGreaterThan(0);
  expect(sentAfter.filter((r) => windowOf(r.at.getTime()) === hitWindow)).toEqual([]);
  expect(h.records.filter((r) => r.status === 200)).toHaveLength(30);
  expect(gw.limiterState().pausedUntil).toBeNull();
});
