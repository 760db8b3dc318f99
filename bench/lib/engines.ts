import type { Logger } from 'pino';
import type pg from 'pg';
import { createPullStore } from '../../src/db/queries/pull.ts';
import { createGateway, type IntercomGateway, type RequestRecord } from '../../src/intercom/gateway.ts';
import { createPullEngine, type PullEngine } from '../../src/sync/pull/index.ts';

/**
 * The engines wired exactly as src/main.ts wires them (same store, same gateway options), minus the daemon around
 * them, so a scenario can call one run and count what it spent.
 */
export interface BenchEngines {
  gateway: IntercomGateway;
  pull: PullEngine;
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
    gateway,
    store: createPullStore(o.pool, schema),
    logger: o.logger,
    config: { lookbackSeconds: 900, conflictPolicy: 'newest_wins' },
  });
  return { gateway, pull, records, close: () => gateway.close() };
}

/** What the simulator can absorb when its limits are off: high enough that the limiter never waits. */
export const UNLIMITED_RATE = 1_000_000;
