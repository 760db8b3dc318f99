import { pino } from 'pino';
import { createGateway, type GatewayOptions, type IntercomGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';

export const WINDOW_MS = 10_000;

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
  const sim = await startSimulator({ rateLimitPerMinute: 0, ...simOpts });
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

/** If the current window is about to end, start at the next one, so the first window is not cut short. */
export async function awayFromWindowEnd(marginMs = 1500): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}

export function windowOf(ms: number): number {
  return Math.floor(ms / WINDOW_MS);
}
