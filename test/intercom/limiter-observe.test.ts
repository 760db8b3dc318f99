import { afterAll, expect, it } from 'vitest';
import { WindowLimiter } from '../../src/intercom/limiter.ts';
import { perMinuteFor, silentLogger, until, WINDOW_MS } from './helpers.ts';
import { ManualClock } from './manual-clock.ts';

// Several answers arrive together, each reporting what Intercom has left: the reservoir drops to the lowest report
// (less what is still in flight), not by the sum of every answer's correction. Each correction read the same
// reservoir and subtracted from it, so two answers took a window of 10 with 3 left to -3, and nothing more left in
// that window.
const limiter = new WindowLimiter({
  ratePerMinute: perMinuteFor(10),
  windowMs: WINDOW_MS,
  maxConcurrent: 2,
  jobExpirationMs: 10_000,
  limiterId: 'observe-test',
  logger: silentLogger,
  clock: new ManualClock(Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS),
});
afterAll(async () => {
  await limiter.close();
});

it('lowers the reservoir to the lowest remaining count when answers are observed together', async () => {
  expect(limiter.state().reservoir).toBe(10);
  await Promise.all([
    limiter.observe({ limit: null, remaining: 4, resetAtMs: null }),
    limiter.observe({ limit: null, remaining: 3, resetAtMs: null }),
  ]);
  await until(
    () => limiter.state().reservoir === 3,
    () => `reservoir ${limiter.state().reservoir}, expected 3`,
    5_000,
  );
});
