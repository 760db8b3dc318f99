import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import type { StatsSnapshot } from '../../src/simulator/stats.ts';

/** The simulator plus the two control-API calls every scenario needs: what was spent, and a clean slate for it. */
export interface BenchSimulator {
  sim: RunningSimulator;
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stats(): Promise<StatsSnapshot>;
  resetStats(): Promise<void>;
  close(): Promise<void>;
}

export async function openSimulator(opts: SimulatorOptions): Promise<BenchSimulator> {
  const sim = await startSimulator({ port: 0, ...opts });
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as T;
  };
  return {
    sim,
    control,
    stats: () => control<StatsSnapshot>('GET', '/__sim/stats'),
    resetStats: async () => {
      await control('DELETE', '/__sim/stats');
    },
    close: () => sim.close(),
  };
}

/** Requests the simulator answered, without the refused (429) ones, for routes matching a prefix. */
export function answered(stats: StatsSnapshot, routePrefix = ''): number {
  let n = 0;
  for (const [route, byStatus] of Object.entries(stats.by_route)) {
    if (!route.startsWith(routePrefix)) continue;
    for (const [status, count] of Object.entries(byStatus)) if (status !== '429') n += count;
  }
  return n;
}
