import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createGateway, type GatewayOptions, type IntercomGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import type { RequestLogEntry } from '../../src/simulator/stats.ts';
import { ManualClock } from './manual-clock.ts';

/**
 * Rate windows in these tests are 2 s, not Intercom's 10 s: the simulator (rate_window_seconds) and the gateway
 * (windowMs) both take the length. Budgets are given per window (`perMinuteFor`) so each test reads in the unit it
 * asserts. Tests that count per window run on a manual clock (`harness(…, { manualClock: true })`) and step it
 * themselves, so no window opens or closes while a busy machine is still sending.
 */
export const WINDOW_SECONDS = 2;
export const WINDOW_MS = WINDOW_SECONDS * 1000;
/** The limiter's default wait after a window's end before it spends the next one (LimiterOptions.resetGuardMs). */
export const RESET_GUARD_MS = 100;

/** The per-minute rate that allows `n` requests in one test window. */
export function perMinuteFor(n: number, windowMs = WINDOW_MS): number {
  return (n * 60_000) / windowMs;
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Harness {
  sim: RunningSimulator;
  gateways: IntercomGateway[];
  records: RequestRecord[];
  /** With `manualClock`: the clock of the simulator and (by default) of every gateway made here; else null. */
  clock: ManualClock | null;
  gateway(over?: Partial<GatewayOptions>): IntercomGateway;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  stats(): Promise<SimStats>;
  /** Every answer the simulator gave, with the rate window it charged the request to. */
  requests(): Promise<RequestLogEntry[]>;
  close(): Promise<void>;
}

export interface SimStats {
  total: number;
  rate_limited: number;
  faults_injected: number;
  by_route: Record<string, Record<string, number>>;
  by_status: Record<string, number>;
}

/** Start of the manual clock: a whole multiple of every window length the tests use (2, 5 and 10 s). */
const CLOCK_GRID_MS = 10_000;

export async function harness(simOpts: SimulatorOptions = {}, opts: { manualClock?: boolean } = {}): Promise<Harness> {
  const sim = await startSimulator({ rateLimitPerMinute: 0, rateWindowSeconds: WINDOW_SECONDS, ...simOpts });
  let clock: ManualClock | null = null;
  if (opts.manualClock) {
    sim.state.clock.freeze(true);
    clock = new ManualClock(Math.ceil(Date.now() / CLOCK_GRID_MS) * CLOCK_GRID_MS, (ms) => sim.state.clock.setMs(ms));
  }
  const records: RequestRecord[] = [];
  const gateways: IntercomGateway[] = [];
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    sim,
    gateways,
    records,
    clock,
    gateway(over = {}) {
      const g = createGateway({
        token: sim.token,
        baseUrl: sim.url,
        apiVersion: '2.14',
        ratePerMinute: 10_000,
        timeoutSeconds: 5,
        windowMs: WINDOW_MS,
        logger: silentLogger,
        onRequest: (r) => records.push(r),
        ...(clock ? { rateClock: clock } : {}),
        ...over,
      });
      gateways.push(g);
      return g;
    },
    control,
    stats: async () => (await control('GET', '/__sim/stats')) as SimStats,
    requests: async () => ((await control('GET', '/__sim/requests')) as { data: RequestLogEntry[] }).data,
    async close() {
      await Promise.all(gateways.map((g) => g.close()));
      await sim.close();
    },
  };
}

export interface WindowCount {
  ok: number;
  limited: number;
  total: number;
}

/** Answers per rate window, as the simulator charged them, keyed by the window's start (unix s), in order. */
export function perSimWindow(entries: readonly RequestLogEntry[]): Map<number, WindowCount> {
  const m = new Map<number, WindowCount>();
  for (const e of entries) {
    if (e.rate_window === null) continue;
    const c = m.get(e.rate_window) ?? { ok: 0, limited: 0, total: 0 };
    c.total++;
    if (e.status === 429) c.limited++;
    else if (e.status >= 200 && e.status < 300) c.ok++;
    m.set(e.rate_window, c);
  }
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}

/** The simulator's window (unix s) that a request with this gateway record was charged to. */
export function simWindowOf(entries: readonly RequestLogEntry[], r: RequestRecord): number | null {
  return entries.find((e) => e.request_id !== null && e.request_id === r.requestId)?.rate_window ?? null;
}

/** Calls started together, with how many have not settled yet. */
export interface Tracked<T> {
  pending(): number;
  settled: Promise<PromiseSettledResult<T>[]>;
}

export function track<T>(calls: readonly Promise<T>[]): Tracked<T> {
  let open = calls.length;
  const settled = Promise.allSettled(
    calls.map((c) =>
      c.finally(() => {
        open--;
      }),
    ),
  );
  return { pending: () => open, settled };
}

/**
 * Polls `cond` until it holds. The deadline is generous on purpose: it only bounds how long a broken build hangs, and
 * nothing the test asserts depends on how soon the condition comes.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: () => string, deadlineMs = 45_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not reached within ${deadlineMs} ms: ${what()}`);
    await sleep(5);
  }
}

/**
 * Resolves once the gateway can send nothing more until its clock moves: nothing released and unfinished, the
 * window's budget spent (or a 429 pause on), and every call still open waiting in the limiter's queue (or sitting out
 * the pause), so the next window serves them in priority order. The reservoir grows again only by a refill, which
 * needs the clock: this state lasts until the test steps it, and a test that steps the clock only here never cuts a
 * window short.
 */
export async function untilWaitingForClock(gw: IntercomGateway, open: () => number): Promise<void> {
  await until(
    () => {
      if (open() === 0) return true;
      const s = gw.limiterState();
      // Below zero too: answers from another process (Redis) may each have lowered the shared reservoir.
      return s.running === 0 && s.reservoir !== null && s.reservoir <= 0 && s.queued === open();
    },
    () => `waiting for the clock with ${open()} calls open; limiter ${JSON.stringify(gw.limiterState())}`,
  );
}

/** Where the limiter spends its next window: the next window boundary plus its guard, or the end of a 429 pause. */
export function nextWindowAt(clock: ManualClock, gw: IntercomGateway, windowMs = WINDOW_MS): number {
  const boundary = (Math.floor(clock.now() / windowMs) + 1) * windowMs;
  return Math.max(boundary + RESET_GUARD_MS, gw.limiterState().pausedUntil ?? 0);
}

/**
 * Lets the gateway work through `calls`: each time it has sent all the current window allows, the clock moves to its
 * next window. Returns the settled calls.
 */
export async function stepWindows<T>(
  clock: ManualClock,
  gw: IntercomGateway,
  calls: Tracked<T>,
  windowMs = WINDOW_MS,
): Promise<PromiseSettledResult<T>[]> {
  for (;;) {
    await untilWaitingForClock(gw, calls.pending);
    if (calls.pending() === 0) return calls.settled;
    clock.advanceTo(nextWindowAt(clock, gw, windowMs));
  }
}

/** Window start (unix s) of the simulator's window that holds `ms`. */
export function simWindowAt(ms: number, windowSeconds = WINDOW_SECONDS): number {
  return Math.floor(ms / 1000 / windowSeconds) * windowSeconds;
}
