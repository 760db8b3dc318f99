import { pino, type Logger } from 'pino';
import type { Figure } from './figures.ts';
import type { BenchOptions } from './options.ts';
import type { BenchPostgres } from './postgres.ts';

export interface ScenarioContext {
  opts: BenchOptions;
  pg: BenchPostgres;
  /** The product's logger, silent unless BENCH_LOG_LEVEL says otherwise: engine logs would drown the table. */
  logger: Logger;
  /** Progress lines on stderr, so stdout stays the table. */
  progress(message: string): void;
}

export interface Scenario {
  name: string;
  run(ctx: ScenarioContext): Promise<Figure[]>;
}

export function benchLogger(): Logger {
  return pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
