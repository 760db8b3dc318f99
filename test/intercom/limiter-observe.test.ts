import { afterEach, expect, it } from 'vitest';
import { WindowLimiter } from '../../src/intercom/limiter.ts';
import { perMinuteFor, silentLogger, until, WINDOW_MS } from './helpers.ts';
import { ManualClock } from './manual-clock.ts';

// How an answer's X-RateLimit-Remaining corrects the reservoir, on the limiter alone: a window of 10, two in flight
// at most, on a clock that stands still (no refill comes in between).
let limiter: WindowLimiter | null = null;
function windowOf10(): WindowLimiter {
  limiter = new WindowLimiter({
    ratePerMinute: perMinuteFor(10),
    windowMs: WINDOW_MS,
    maxConcurrent: 2,
    jobExpirationMs: 10_000,
    limiterId: 'observe-test',
    logger: silentLogger,
    clock: new ManualClock(Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS),
  });
  return limiter;
}
afterEach(async () => {
  await limiter?.close();
});

async function reservoirBecomes(l: WindowLimiter, n: number): Promise<void> {
  await until(
    () => l.state().running === 0 && l.state().reservoir === n,
    () => `reservoir ${l.state().reservoir}, expected ${n}`,
    5_000,
  );
}

// Each correction read the same reservoir and subtracted from it: two answers took a window of 10 with 3 left to -3,
// and nothing more left in that window.
it('lowers the reservoir to the lowest remaining count when answers are observed together', async () => {
  const l = windowOf10();
  expect(l.state().reservoir).toBe(10);
  await Promise.all([
    l.observe({ limit: null, remaining: 4, resetAtMs: null }),
    l.observe({ limit: null, remaining: 3, resetAtMs: null }),
  ]);
  await reservoirBecomes(l, 3);
});

// The other request was released with the answered one but had not started yet (Bottleneck starts a released job a
// timer tick later): it was not counted as in flight, the reservoir was set one too high, and it sent a 429.
it('counts a request released with the answered one as in flight, started or not', async () => {
  const l = windowOf10();
  // A's answer says 3 are left; B, released with A, has not reached Intercom: 2 are left for anyone after B. A's
  // answer comes a timer tick after A started, when the queue has released B and not yet started it.
  await Promise.all([
    l.schedule('pull', async () => {
      await new Promise((r) => setTimeout(r, 0));
      await l.observe({ limit: null, remaining: 3, resetAtMs: null });
    }),
    l.schedule('pull', async () => undefined),
  ]);
  await reservoirBecomes(l, 2);
});
