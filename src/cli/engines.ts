import { createApiUsageRecorder } from '../db/queries/api-usage.ts';
import { buildEngines, type Engines } from '../engines.ts';
import type { CliContext } from './context.ts';

export interface CliEngines extends Engines {
  close(): Promise<void>;
}

/**
 * The engines a one-shot command needs, wired exactly as the daemon wires them. API usage is recorded unless
 * `recordUsage` is false: a dry run promises to write nothing, its own bookkeeping included.
 */
export function openEngines(ctx: CliContext, opts: { recordUsage?: boolean } = {}): CliEngines {
  const { config, logger, database } = ctx;
  const usage =
    opts.recordUsage === false
      ? null
      : createApiUsageRecorder(database.pool, config.schema, {
          onError: (err) => logger.warn({ err }, 'could not record API usage'),
        });
  const engines = buildEngines({ config, logger, pool: database.pool, onRequest: (r) => usage?.record(r) });
  let closed: Promise<void> | undefined;
  return {
    ...engines,
    close: () =>
      (closed ??= (async () => {
        await engines.gateway.close();
        await usage?.close();
      })()),
  };
}
