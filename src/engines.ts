/**
 * The gateway and sync engines, wired once for every entry point: the daemon (src/main.ts), the one-shot commands
 * (backfill, verify) and the demo. Keeping this in one place means a command syncs exactly as the daemon does.
 */
import type pg from 'pg';
import type { Config } from './config/index.ts';
import { createPushStore } from './db/queries/outbox.ts';
import { createPullStore } from './db/queries/pull.ts';
import { createVerifyStore } from './db/queries/verify.ts';
import { ConfigError } from './errors.ts';
import { createGateway, type IntercomGateway, type RequestRecord } from './intercom/gateway.ts';
import type { Logger } from './logger.ts';
import { createPullEngine, type PullEngine } from './sync/pull/index.ts';
import { createPushEngine, type PushEngine } from './sync/push/index.ts';
import { createVerifyEngine, type VerifyEngine } from './sync/verify/index.ts';

export interface Engines {
  gateway: IntercomGateway;
  pull: PullEngine;
  push: PushEngine;
  verify: VerifyEngine;
}

export function buildEngines(deps: {
  config: Readonly<Config>;
  logger: Logger;
  pool: pg.Pool;
  onRequest?: (r: RequestRecord) => void;
}): Engines {
  const { config, logger, pool } = deps;
  const token = config.intercom.accessToken;
  if (!token) throw new ConfigError([{ variable: 'INTERCOM_ACCESS_TOKEN', problem: 'is required to talk to Intercom' }]);
  const gateway = createGateway({
    token,
    baseUrl: config.intercom.baseUrl,
    apiVersion: config.intercom.apiVersion,
    ratePerMinute: config.intercom.ratePerMinute,
    timeoutSeconds: config.intercom.timeoutSeconds,
    maxRetries: config.intercom.maxRetries,
    redisUrl: config.redisUrl,
    logger,
    ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
  });
  const pull = createPullEngine({
    gateway,
    budget: gateway,
    store: createPullStore(pool, config.schema),
    logger,
    config: { lookbackSeconds: config.sync.pullLookbackSeconds, conflictPolicy: config.sync.conflictPolicy },
  });
  const push = createPushEngine({
    gateway,
    budget: gateway,
    store: createPushStore(pool, config.schema),
    logger,
    config: {
      batchSize: config.sync.pushBatchSize,
      concurrency: config.sync.pushConcurrency,
      maxAttempts: config.sync.maxAttempts,
      deleteMode: config.sync.deleteMode,
      autoCreateAttributes: config.sync.autoCreateAttributes,
    },
  });
  const verify = createVerifyEngine({ gateway, store: createVerifyStore(pool, config.schema), pull, logger });
  return { gateway, pull, push, verify };
}
