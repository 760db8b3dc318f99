import type { Logger } from 'pino';
import type pg from 'pg';
import { parseConfig } from '../../src/config/index.ts';
import { buildEngines, type Engines } from '../../src/engines.ts';
import type { RequestRecord } from '../../src/intercom/gateway.ts';

/**
 * The engines as every entry point gets them (src/engines.ts, from the env schema's defaults), minus the daemon
 * around them, so a scenario can call one run and count what it spent.
 */
export interface BenchEngines extends Engines {
  records: RequestRecord[];
}

export interface EngineOptions {
  pool: pg.Pool;
  databaseUrl: string;
  simUrl: string;
  token: string;
  /** The gateway's own budget; set far above the simulator's when its limits are off, so only real work paces us. */
  ratePerMinute: number;
  logger: Logger;
}

export function benchEngines(o: EngineOptions): BenchEngines {
  const records: RequestRecord[] = [];
  const config = parseConfig({
    INTERCOM_ACCESS_TOKEN: o.token,
    INTERCOM_BASE_URL: o.simUrl,
    INTERCOM_RATE_LIMIT_PER_MINUTE: String(o.ratePerMinute),
    SYNC_SCHEMA: 'intercom',
  });
  // api_usage is not written: the figures count requests from `records`, and the extra writes would be load the
  // daemon's own measurement does not include.
  const engines = buildEngines({
    config,
    logger: o.logger,
    pool: o.pool,
    databaseUrl: o.databaseUrl,
    recordUsage: false,
    onRequest: (r) => records.push(r),
  });
  return { ...engines, records };
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
