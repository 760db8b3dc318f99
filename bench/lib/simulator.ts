import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSimulator, type SimulatorOptions, type SimulatorState } from '../../src/simulator/server.ts';
import type { StatsSnapshot } from '../../src/simulator/stats.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The simulator plus the two control-API calls every scenario needs: what was spent, and a clean slate for it. */
export interface BenchSimulator {
  url: string;
  token: string;
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stats(): Promise<StatsSnapshot>;
  resetStats(): Promise<void>;
  close(): Promise<void>;
}

export async function openSimulator(opts: SimulatorOptions): Promise<BenchSimulator & { state: SimulatorState }> {
  const sim = await startSimulator({ port: 0, ...opts });
  return { ...controlClient(sim.url, sim.token), state: sim.state, close: () => sim.close() };
}

/**
 * A simulator in its own process (the `intercom-sync simulator` command), for the figures where sharing our event
 * loop and heap with it would skew the measurement: local throughput and memory.
 */
export async function spawnSimulator(opts: { seedContacts?: number; seedCompanies?: number; rateLimitPerMinute?: number }): Promise<BenchSimulator> {
  const args = ['bin/intercom-sync.js', 'simulator', '--port', '0', '--rate-limit', String(opts.rateLimitPerMinute ?? 0)];
  if (opts.seedContacts) args.push('--seed-contacts', String(opts.seedContacts));
  if (opts.seedCompanies) args.push('--seed-companies', String(opts.seedCompanies));
  const child = spawn(process.execPath, ['--max-old-space-size=8192', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then(() => reject(new Error(`simulator process exited before listening:\n${out}`)));
  });
  return {
    ...controlClient(url, 'sim-token'),
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function controlClient(url: string, token: string): Omit<BenchSimulator, 'close'> {
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as T;
  };
  return {
    url,
    token,
    control,
    stats: () => control<StatsSnapshot>('GET', '/__sim/stats'),
    resetStats: async () => {
      await control('DELETE', '/__sim/stats');
    },
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

/** "POST /contacts/search ×2, GET /me ×1": where the requests went, for the table's notes. */
export function routeSummary(stats: StatsSnapshot): string {
  return Object.entries(stats.by_route)
    .map(([route, byStatus]) => [route, Object.values(byStatus).reduce((a, b) => a + b, 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([route, n]) => `${route} ×${n}`)
    .join(', ');
}
