import { afterAll, beforeAll, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.ts';

// Little's law: to spend a budget of r requests/s at L seconds a round trip, about r × L requests must be in flight.
// The gateway measures L from its answers and offers that target (with headroom) to the engines, bounded by its own
// concurrency ceiling. Against the simulator with a fixed 200 ms on every route.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, latency: { fixedMs: 200 } });
});
afterAll(async () => {
  await Promise.all(h.gateways.map((g) => g.close()));
  await h.close();
});

it('the in-flight target follows the budget and the measured latency, within the concurrency ceiling', async () => {
  const slow = h.gateway({ ratePerMinute: 600, windowMs: 10_000 });
  const fast = h.gateway({ ratePerMinute: 6_000, windowMs: 10_000 });
  const capped = h.gateway({ ratePerMinute: 60_000, windowMs: 10_000, maxConcurrent: 12 });
  for (const g of [slow, fast, capped]) for (let i = 0; i < 5; i++) await g.me();
  // 10/s × L × 1.5 + 1 and 100/s × L × 1.5 + 1 with L ≥ 0.2 s: at least 4 and 31, ten times apart; the ceiling caps the third.
  expect(slow.inFlightTarget()).toBeGreaterThanOrEqual(4);
  expect(fast.inFlightTarget()).toBeGreaterThanOrEqual(31);
  expect(fast.inFlightTarget()).toBeGreaterThan(slow.inFlightTarget() * 5);
  expect(capped.inFlightTarget()).toBe(12);
});
