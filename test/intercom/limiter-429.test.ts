import { afterAll, beforeAll, expect, it } from 'vitest';
import { harness, perMinuteFor, perSimWindow, simWindowAt, simWindowOf, stepWindows, track, WINDOW_SECONDS, type Harness } from './helpers.ts';

// Injected 429s: the limiter pauses every caller until Intercom's reset, then finishes the work. The budget (40 per
// window) holds all 30 calls and their 3 retries, so every wait seen comes from the 429s. Windows are the
// simulator's, on a clock the test steps only once the limiter waits for it.
const RATE = perMinuteFor(40);
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: RATE, seedContacts: 5 }, { manualClock: true });
});
afterAll(async () => {
  await h.close();
});

it('pauses all callers until the window resets after a 429 burst, then recovers', async () => {
  const clock = h.clock!;
  const hit = simWindowAt(clock.now());
  const gw = h.gateway({ ratePerMinute: RATE });
  // The three 429s answer slowly, so the burst is in flight together when they arrive.
  await h.control('POST', '/__sim/faults', {
    rules: [
      { method: 'GET', path: '/contacts', kind: 'latency', latency_ms: 300, count: 3 },
      { method: 'GET', path: '/contacts', kind: 'status', status: 429, count: 3 },
    ],
  });
  const calls = track(Array.from({ length: 30 }, () => gw.listContacts({ perPage: 1 }, 'pull')));
  const results = await stepWindows(clock, gw, calls);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

  const stats = await h.stats();
  expect(stats.rate_limited).toBe(3); // the injected ones, no more
  const limited = h.records.filter((r) => r.status === 429);
  expect(limited).toHaveLength(3);
  const log = await h.requests();
  expect(limited.map((r) => simWindowOf(log, r))).toEqual([hit, hit, hit]);

  // Nothing left in the 429's window once the 429 was seen: all later sends waited for the reset. `at` and
  // durationMs are whole milliseconds, hence the 1 ms: a send in the same millisecond as the answer proves nothing.
  const firstAnswer = Math.min(...limited.map((r) => r.at.getTime() + r.durationMs));
  const sentAfter = h.records.filter((r) => r.at.getTime() > firstAnswer + 1);
  expect(sentAfter.length).toBeGreaterThanOrEqual(3); // at least the three retries
  expect(sentAfter.filter((r) => simWindowOf(log, r) === hit)).toEqual([]);
  // Judged by the simulator's windows alone: the retries (and anything the pause held back) went in the next one.
  const windows = perSimWindow(log);
  expect([...windows.keys()]).toEqual([hit, hit + WINDOW_SECONDS]);
  expect(windows.get(hit)!.limited).toBe(3);
  expect(windows.get(hit + WINDOW_SECONDS)).toMatchObject({ limited: 0, ok: 33 - windows.get(hit)!.total });
  expect(windows.get(hit + WINDOW_SECONDS)!.ok).toBeGreaterThanOrEqual(3);
  expect(h.records.filter((r) => r.status === 200)).toHaveLength(30);
  expect(gw.limiterState().pausedUntil).toBeNull();
});
