import { afterAll, beforeAll, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.ts';

// Little's law: to spend a budget of r requests/s at L seconds a round trip, about r × L requests must be in flight.
// The gateway measures L from its answers and offers that target (with headroom) to the engines, bounded by its own
// concurrency ceiling. Against the simulator with a fixed 700 ms on every route: a busy machine can only make a round
// trip longer, so every bound below holds however slowly the test runs.
let h: Harness;
beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: 0, latency: { fixedMs: 700 } });
});
afterAll(async () => {
  await Promise.all(h.gateways.map((g) => g.close()));
  await h.close();
});

it('the in-flight target follows the budget and the measured latency, within the concurrency ceiling', async () => {
  const slow = h.gateway({ ratePerMinute: 600, windowMs: 10_000 });
  const fast = h.gateway({ ratePerMinute: 6_000, windowMs: 10_000 });
  const capped = h.gateway({ ratePerMinute: 60_000, windowMs: 10_000, maxConcurrent: 12 });
  // Before any answer the gateway assumes 0.5 s a round trip: ten times the budget, about ten times the target
  // (10/s × 0.5 s × 1.5 + 1 and 100/s × 0.5 s × 1.5 + 1).
  expect(slow.inFlightTarget()).toBe(9);
  expect(fast.inFlightTarget()).toBe(76);
  expect(fast.inFlightTarget()).toBeGreaterThan(slow.inFlightTarget() * 5);
  expect(capped.inFlightTarget()).toBe(12);
  await Promise.all([slow, fast, capped].map(async (g) => {
    for (let i = 0; i < 2; i++) await g.me();
  }));
  // Measured, L ≥ 0.7 s: at least 10/s × 0.7 s × 1.5 + 1 and 100/s × 0.7 s × 1.5 + 1, above what 0.5 s gave; slow's
  // own ceiling (30 at this budget) bounds it; the ceiling caps the third.
  expect(slow.inFlightTarget()).toBeGreaterThanOrEqual(12);
  expect(slow.inFlightTarget()).toBeLessThanOrEqual(30);
  expect(fast.inFlightTarget()).toBeGreaterThanOrEqual(106);
  expect(capped.inFlightTarget()).toBe(12);
});
