import { processHost } from '../../src/daemon/host.ts';
import { pino } from 'pino';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { createPullEngine, type PullEngine } from '../../src/sync/pull/index.ts';
import type { ConflictPolicy } from '../../src/sync/three-way-merge.ts';
import { createPushStore, type PushStore } from '../../src/db/queries/outbox.ts';
import { createGateway, type GatewayOptions, type IntercomGateway } from '../../src/intercom/gateway.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import { createPushEngine, type PushConfig, type PushEngine } from '../../src/sync/push/index.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface SimStats {
  total: number;
  by_route: Record<string, Record<string, number>>;
  by_status: Record<string, number>;
}

export interface PushWorld {
  db: TestDatabase;
  sim: RunningSimulator;
  gateway: IntercomGateway;
  store: PushStore;
  engine: PushEngine;
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stats(): Promise<SimStats>;
  resetStats(): Promise<void>;
  /** Like `engine`, with other settings (a second process, another delete mode). */
  engineWith(over: Partial<PushConfig>): PushEngine;
  sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export const baseConfig: PushConfig = {
  batchSize: 50,
  concurrency: 8,
  maxAttempts: 5,
  deleteMode: 'archive',
  autoCreateAttributes: false,
  retryBaseMs: 50,
  leaseSeconds: 30,
};

export async function pushWorld(
  simOpts: SimulatorOptions = {},
  config: Partial<PushConfig> = {},
  gatewayRetries = 4,
  gatewayOver: Partial<GatewayOptions> = {},
): Promise<PushWorld> {
  const db = await createTestDatabase();
  const sim = await startSimulator({ port: 0, rateLimitPerMinute: 0, ...simOpts });
  const gateway = createGateway({
    token: sim.token,
    baseUrl: sim.url,
    apiVersion: '2.14',
    ratePerMinute: 100_000,
    timeoutSeconds: 5,
    maxRetries: gatewayRetries,
    maxConcurrent: 20,
    logger: silent,
    ...gatewayOver,
  });
  const store = createPushStore(db.pool, db.schema);
  const engineWith = (over: Partial<PushConfig>) =>
    createPushEngine({ host: processHost(), gateway, store, logger: silent, config: { ...baseConfig, ...config, ...over } });
  const control = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    db,
    sim,
    gateway,
    store,
    engine: engineWith({}),
    control,
    stats: () => control<SimStats>('GET', '/__sim/stats'),
    resetStats: async () => {
      await control('DELETE', '/__sim/stats');
    },
    engineWith,
    sql: async (text, values = []) => (await db.pool.query(text, values)).rows,
    async close() {
      await gateway.close();
      await sim.close();
      await db.drop();
    },
  };
}

/** Every contact the simulator holds for an external_id, in any state (deleted, merged and archived included). */
export async function simContactsByExternalId(w: PushWorld, externalId: string) {
  const r = await w.control<{ data: SimInspect[] }>('GET', `/__sim/contacts?external_id=${encodeURIComponent(externalId)}`);
  return r.data;
}

export interface SimInspect {
  contact: Record<string, unknown> & { id: string; external_id: string | null; email: string | null; name: string | null; role: string; custom_attributes: Record<string, unknown> };
  archived: boolean;
  deleted: boolean;
  merged_into: string | null;
  company_ids: string[];
}

export function simContact(w: PushWorld, id: string) {
  return w.control<SimInspect>('GET', `/__sim/contacts/${id}`);
}

/** Drains until no pending entry is left (retries and deferrals included); returns the summed request count. */
export async function drainAll(w: PushWorld, engine: PushEngine = w.engine, maxRounds = 400): Promise<number> {
  let requests = 0;
  for (let i = 0; i < maxRounds; i++) {
    const s = await engine.drainOnce();
    requests += s.requests;
    const [{ n }] = (await w.sql<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.sync_outbox WHERE status = 'pending'`)) as [
      { n: number },
    ];
    if (n === 0) return requests;
    if (s.requests === 0) await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('outbox did not drain');
}

export async function insertUsers(w: PushWorld, from: number, count: number, prefix = 'u'): Promise<number[]> {
  const rows = await w.sql<{ id: number }>(
    `INSERT INTO intercom.contacts (external_id, role, email, name)
     SELECT $1 || lpad(g::text, 6, '0'), 'user', $1 || g || '@example.com', 'User ' || g
       FROM generate_series($2::int, $3::int) g
     RETURNING id`,
    [prefix, from, from + count - 1],
  );
  return rows.map((r) => r.id);
}

/** One user keyed `key` (external_id, and `key@example.com`), as the re-create tests insert and re-insert it. */
export async function insertUser(w: PushWorld, key: string, name: string, phone: string | null = null): Promise<number> {
  const [row] = await w.sql<{ id: number }>(
    `INSERT INTO intercom.contacts (external_id, email, name, phone) VALUES ($1, $1 || '@example.com', $2, $3) RETURNING id`,
    [key, name, phone],
  );
  return row!.id;
}

export async function mappingOf(w: PushWorld, entity: 'contact' | 'company', localId: number) {
  const rows = await w.sql<{ intercom_id: string | null; status: string; status_reason: string | null; base_snapshot: Record<string, unknown> | null }>(
    `SELECT intercom_id, status, status_reason, base_snapshot FROM intercom.sync_mappings WHERE entity_type = $1 AND local_id = $2`,
    [entity, localId],
  );
  return rows[0] ?? null;
}

/** A pull engine on the same database and simulator as the push world: the daemon's two halves, in process. */
export function pullEngineOf(w: PushWorld, conflictPolicy: ConflictPolicy = 'newest_wins'): PullEngine {
  return createPullEngine({
    gateway: w.gateway,
    store: createPullStore(w.db.pool, w.db.schema),
    logger: silent,
    config: { lookbackSeconds: 900, conflictPolicy },
  });
}
