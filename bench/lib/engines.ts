import type { Logger } from 'pino';
import type pg from 'pg';
import { createPushStore } from '../../src/db/queries/outbox.ts';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { createGateway, type IntercomGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { createPullEngine, type PullEngine } from '../../src/sync/pull/index.ts';
import { createPushEngine, type PushEngine } from '../../src/sync/push/index.ts';

/**
 * The engines wired exactly as src/main.ts wires them (same store, same gateway options), minus the daemon around
 * them, so a scenario can call one run and count what it spent.
 */
export interface BenchEngines {
  gateway: IntercomGateway;
  pull: PullEngine;
  push: PushEngine;
  records: RequestRecord[];
  close(): Promise<void>;
}

export interface EngineOptions {
  pool: pg.Pool;
  schema?: string;
  simUrl: string;
  token: string;
  /** The gateway's own budget; set far above the simulator's when its limits are off, so only real work paces us. */
  ratePerMinute: number;
  logger: Logger;
}

export function buildEngines(o: EngineOptions): BenchEngines {
  const schema = o.schema ?? 'intercom';
  const records: RequestRecord[] = [];
  const gateway = createGateway({
    token: o.token,
    baseUrl: o.simUrl,
    apiVersion: '2.14',
    ratePerMinute: o.ratePerMinute,
    timeoutSeconds: 30,
    logger: o.logger,
    onRequest: (r) => records.push(r),
  });
  const pull = createPullEngine({
    budget: gateway,
    gateway,
    store: createPullStore(o.pool, schema),
    logger: o.logger,
    config: { lookbackSeconds: 900, conflictPolicy: 'newest_wins' },
  });
  // The defaults of the env schema (PUSH_BATCH_SIZE, PUSH_CONCURRENCY, MAX_ATTEMPTS, DELETE_MODE, AUTO_CREATE_ATTRIBUTES).
  const push = createPushEngine({
    gateway,
    store: createPushStore(o.pool, schema),
    logger: o.logger,
    config: { batchSize: 50, concurrency: 8, maxAttempts: 10, deleteMode: 'archive', autoCreateAttributes: false },
  });
  return { gateway, pull, push, records, close: () => gateway.close() };
}

/** Drains the outbox the way the push loop does, until nothing is due; returns what it counted. */
export async function drainAll(engines: BenchEngines, pool: pg.Pool, schema = 'intercom'): Promise<{ rounds: number; counts: Record<string, number> }> {
  const counts: Record<string, number> = {};
  for (let rounds = 1; rounds <= 10_000; rounds++) {
    const s = await engines.push.drainOnce();
    for (const [k, v] of Object.entries(s.counts)) counts[k] = (counts[k] ?? 0) + (v ?? 0);
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}.sync_outbox WHERE status = 'pending' AND next_attempt_at <= now()`,
    );
    if ((rows[0]?.n ?? 0) === 0) return { rounds, counts };
  }
  throw new Error('the outbox did not drain in 10,000 rounds');
}

/** What the simulator can absorb when its limits are off: high enough that the limiter never waits. */
export const UNLIMITED_RATE = 1_000_000;
