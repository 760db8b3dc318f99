import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IntercomGateway } from '../../src/intercom/gateway.ts';
import type { RequestLogEntry } from '../../src/simulator/stats.ts';
import { harness, perMinuteFor, perSimWindow, simWindowAt, stepWindows, track, WINDOW_SECONDS, type Harness } from './helpers.ts';

// Another app on the same workspace spends the shared window budget
// (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting): the limiter reads
// X-RateLimit-Remaining and holds back instead of running into 429s, and when the window is already empty it waits
// for the reset. App and workspace both allow 10 per window. The windows are the simulator's, on a clock the test
// steps only once the limiter waits for it.
const BUDGET = 10;
let h: Harness;
beforeAll(async () => {
  h = await harness(
    { rateLimitPerMinute: perMinuteFor(BUDGET), workspaceRateLimitPerMinute: perMinuteFor(BUDGET), seedContacts: 5 },
    { manualClock: true },
  );
});
afterAll(async () => {
  await h.close();
});

/** Our answers from `log` onwards, per simulator window. */
async function oursSince(from: number): Promise<{ log: RequestLogEntry[]; at: (window: number) => { ok: number; limited: number } }> {
  const log = (await h.requests()).slice(from);
  const windows = perSimWindow(log);
  return { log, at: (w) => windows.get(w) ?? { ok: 0, limited: 0 } };
}

/** A fresh window, and a gateway made in it (its first window then starts full, like the simulator's). */
function freshWindow(over: { maxConcurrent: number }): { gw: IntercomGateway; w0: number } {
  const clock = h.clock!;
  clock.advanceTo((Math.floor(clock.now() / (WINDOW_SECONDS * 1000)) + 1) * WINDOW_SECONDS * 1000);
  return { gw: h.gateway({ ratePerMinute: perMinuteFor(BUDGET), ...over }), w0: simWindowAt(clock.now()) };
}

it('fits a part-drained window exactly when one request is in flight at a time', async () => {
  // 4 of 10 left. Each answer tells the exact count left, since nothing else of ours is in flight: 4 go now, 2 wait.
  const { gw, w0 } = freshWindow({ maxConcurrent: 1 });
  const from = (await h.requests()).length;
  await h.control('POST', '/__sim/foreign-consume', { count: 6 });
  const results = await stepWindows(h.clock!, gw, track(Array.from({ length: 6 }, () => gw.listContacts({ perPage: 1 }, 'pull'))));
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  const ours = await oursSince(from);
  expect(ours.log.filter((e) => e.status === 429)).toEqual([]);
  expect(ours.at(w0).ok).toBe(4);
  expect(ours.at(w0 + WINDOW_SECONDS).ok).toBe(2);
});

it('adapts to a foreign consumer with requests in flight, and waits for the reset when the window is drained', async () => {
  // Two in flight at a time: the first burst leaves before any answer reports the foreign use, so it must fit in
  // what is left (4).
  const { gw, w0 } = freshWindow({ maxConcurrent: 2 });
  const clock = h.clock!;

  // Part drained: 4 of 10 left. We ask for 6; at most 4 fit now, the rest must wait for the next window, and none
  // may 429. Whether all 4 are used depends on the order answers come back in: one whose X-RateLimit-Remaining
  // already counts our other request in flight (taken first, answered second) makes the limiter hold back a unit for
  // it all the same. With two in flight that is one unit at most; the serial test above asserts all 4.
  let from = (await h.requests()).length;
  await h.control('POST', '/__sim/foreign-consume', { count: 6 });
  const first = await stepWindows(clock, gw, track(Array.from({ length: 6 }, () => gw.listContacts({ perPage: 1 }, 'pull'))));
  expect(first.filter((r) => r.status === 'rejected')).toEqual([]);
  let ours = await oursSince(from);
  expect(ours.log.filter((e) => e.status === 429)).toEqual([]);
  const fitted = ours.at(w0).ok;
  expect(fitted).toBeLessThanOrEqual(4);
  expect(fitted).toBeGreaterThanOrEqual(4 - (2 - 1));
  expect(ours.at(w0 + WINDOW_SECONDS).ok).toBe(6 - fitted);

  // Fully drained: the first burst (at most maxConcurrent, 2) may meet 429s, then everyone waits for the reset.
  const drained = simWindowAt(clock.now());
  expect(drained).toBe(w0 + WINDOW_SECONDS);
  from = (await h.requests()).length;
  const recordsBefore = h.records.length;
  await h.control('POST', '/__sim/foreign-consume', { count: BUDGET });
  const second = await stepWindows(clock, gw, track(Array.from({ length: 5 }, () => gw.listContacts({ perPage: 1 }, 'pull'))));
  expect(second.filter((r) => r.status === 'rejected')).toEqual([]);
  ours = await oursSince(from);
  expect(ours.at(drained).limited).toBeLessThanOrEqual(2);
  expect(ours.at(drained).ok).toBe(0);
  expect(ours.log.filter((e) => e.rate_window! > drained && e.status === 429)).toEqual([]);
  expect(ours.at(drained + WINDOW_SECONDS).ok).toBe(5);
  expect(h.records.slice(recordsBefore).filter((r) => r.status === 200)).toHaveLength(5);
});
