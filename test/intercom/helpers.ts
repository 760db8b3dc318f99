import { pino } from 'pino';
import { createGateway, type GatewayOptions, type IntercomGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';

/**
 * Rate windows in these tests are 2 s, not Intercom's 10 s: the simulator (rate_window_seconds) and the gateway
 * (windowMs) both take the length, so a test that must cross windows waits seconds, not tens of seconds. Budgets are
 * given per window (`perMinuteFor`) so each test reads in the unit it asserts.
 */
export const WINDOW_SECONDS = 2;
export const WINDOW_MS = WINDOW_SECONDS * 1000;

/** The per-minute rate that allows `n` requests in one test window. */
export function perMinuteFor(n: number, windowMs = WINDOW_MS): number {
  return (n * 60_000) / windowMs;
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Harness {
  sim: RunningSimulator;
  gateways: IntercomGateway[];
  records: RequestRecord[];
  gateway(over?: Partial<GatewayOptions>): IntercomGateway;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  stats(): Promise<SimStats>;
  close(): Promise<void>;
}

export interface SimStats {
  total: number;
  rate_limited: number;
  faults_injected: number;
  by_route: Record<string, Record<string, number>>;
  by_status: Record<string, number>;
}

export async function harness(simOpts: SimulatorOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ rateLimitPerMinute: 0, rateWindowSeconds: WINDOW_SECONDS, ...simOpts });
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
        ...over,
      });
      gateways.push(g);
      return g;
    },
    control,
    stats: async () => (await control('GET', '/__sim/stats')) as SimStats,
    async close() {
      await Promise.all(gateways.map((g) => g.close()));
      await sim.close();
    },
  };
}

/** Requests per rate window, keyed by window index (send time on our clock, which the simulator shares). */
export function perWindow(records: readonly RequestRecord[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of records) {
    const w = Math.floor(r.at.getTime() / WINDOW_MS);
    m.set(w, (m.get(w) ?? 0) + 1);
  }
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Waits for the next window to begin (the limiters align windows to multiples of their length), so a test's first
 * window is whole and not cut short by a boundary it happened to start near.
 */
export async function atWindowStart(windowMs = WINDOW_MS): Promise<void> {
  await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 20));
}

export function windowOf(ms: number): number {
  return Math.floor(ms / WINDOW_MS);
}
