import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { createGateway, type GatewayOptions, type IntercomGateway } from '../../src/intercom/gateway.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import { createPullEngine, type PullDeps, type PullEngine } from '../../src/sync/pull/index.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface PullHarness {
  sim: RunningSimulator;
  db: TestDatabase;
  gateway: IntercomGateway;
  engine(config?: Partial<PullDeps['config']>, gw?: IntercomGateway): PullEngine;
  newGateway(over?: Partial<GatewayOptions>): IntercomGateway;
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  searchRequests(): Promise<number>;
  q<T = any>(sql: string, values?: unknown[]): Promise<T[]>;
  resetAll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The set-up every pull test file shares: one harness for the file, built before its tests and closed after them.
 * The object returned forwards to that harness, so a file declares it once as a constant instead of a variable filled
 * in by its own beforeAll.
 */
export function usePullHarness(simOpts: SimulatorOptions = {}): PullHarness {
  let built: PullHarness | undefined;
  const get = (): PullHarness => {
    if (!built) throw new Error('the pull harness is built in beforeAll: use it inside tests and hooks');
    return built;
  };
  beforeAll(async () => {
    built = await pullHarness(simOpts);
  });
  afterAll(async () => {
    await built?.close();
  });
  return {
    get sim() {
      return get().sim;
    },
    get db() {
      return get().db;
    },
    get gateway() {
      return get().gateway;
    },
    engine: (config, gw) => get().engine(config, gw),
    newGateway: (over) => get().newGateway(over),
    control: (method, path, body) => get().control(method, path, body),
    searchRequests: () => get().searchRequests(),
    q: (sql, values) => get().q(sql, values),
    resetAll: () => get().resetAll(),
    close: () => get().close(),
  };
}

export async function pullHarness(simOpts: SimulatorOptions = {}): Promise<PullHarness> {
  const sim = await startSimulator({ port: 0, rateLimitPerMinute: 0, ...simOpts });
  const db = await createTestDatabase();
  const gateways: IntercomGateway[] = [];
  const newGateway = (over: Partial<GatewayOptions> = {}) => {
    const g = createGateway({
      token: sim.token,
      baseUrl: sim.url,
      apiVersion: '2.14',
      ratePerMinute: 100_000,
      timeoutSeconds: 10,
      maxRetries: 2,
      logger: silent,
      ...over,
    });
    gateways.push(g);
    return g;
  };
  const gateway = newGateway();
  const store = createPullStore(db.pool, db.schema);
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}/__sim${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: any = await res.json();
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    sim,
    db,
    gateway,
    newGateway,
    engine: (config = {}, gw = gateway) =>
      createPullEngine({
        gateway: gw,
        budget: gw,
        store,
        logger: silent,
        config: { lookbackSeconds: 900, conflictPolicy: 'newest_wins', ...config },
      }),
    control,
    async searchRequests() {
      const s = await control('GET', '/stats');
      return Object.values((s.by_route['POST /contacts/search'] ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
    },
    q: async (sql, values = []) => (await db.pool.query(sql, values)).rows,
    async resetAll() {
      await control('POST', '/reset', {});
      await db.pool.query(
        `TRUNCATE intercom.contacts, intercom.companies, intercom.contact_companies, intercom.sync_mappings,
                  intercom.sync_outbox, intercom.sync_state, intercom.audit_log RESTART IDENTITY CASCADE`,
      );
    },
    async close() {
      await Promise.all(gateways.map((g) => g.close()));
      await sim.close();
      await db.drop();
    },
  };
}
