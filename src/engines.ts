/**
 * The engines as every composition root builds them: the Intercom gateway, the stores, the sync engines, the run
 * recorder and the API-usage recorder, wired once for the daemon (src/main.ts), the engine-driven commands
 * (src/cli/with-engines.ts), the demo and the bench. Keeping this in one place means a command or a benchmark syncs
 * exactly as the daemon does.
 */
import type { Config } from './config/index.ts';
import { processHost } from './daemon/host.ts';
import { createRunTracker, type FinishedRun, type RunTracker } from './daemon/run-tracker.ts';
import { dedicatedClient, type Pool } from './db/client.ts';
import { createOutboxListen, type Listen } from './db/listen.ts';
import { createApiUsageRecorder, type ApiUsageRecorder } from './db/queries/api-usage.ts';
import { createBackfillStore } from './db/queries/backfill.ts';
import { createIntercomAccessRecorder } from './db/queries/intercom-access.ts';
import { createPushStore, type PushStore } from './db/queries/outbox.ts';
import { createPullStore } from './db/queries/pull.ts';
import { createVerifyStore } from './db/queries/verify.ts';
import { ConfigError } from './errors.ts';
import { createGateway, type IntercomGateway, type RequestRecord } from './intercom/gateway.ts';
import type { Logger } from './logger.ts';
import type { BackfillStorePort } from './sync/backfill/ports.ts';
import { createPullEngine, type PullEngine } from './sync/pull/index.ts';
import { createPushEngine, type PushEngine, type WorkerHost } from './sync/push/index.ts';
import { createVerifyEngine, type VerifyEngine } from './sync/verify/index.ts';

export interface Engines {
  gateway: IntercomGateway;
  pull: PullEngine;
  push: PushEngine;
  verify: VerifyEngine;
  pushStore: PushStore;
  backfillStore: BackfillStorePort;
  /** Records runs in sync_runs; the daemon's schedules, the verify command and the demo all go through it. */
  runs: RunTracker;
  /** The outbox LISTEN (with reconnect) that wakes the push loop. */
  listen: Listen;
  /** null when usage is not recorded. */
  usage: ApiUsageRecorder | null;
  /** Closes the gateway and flushes API usage. Idempotent. */
  close(): Promise<void>;
}

export interface EngineOptions {
  config: Readonly<Config>;
  logger: Logger;
  pool: Pool;
  /** What the LISTEN connection dials; the pool's own URL. */
  databaseUrl: string;
  /** Names this process in sync_runs; defaults to host:pid. */
  replicaId?: string;
  /** Record every request in api_usage (default true). A dry run promises to write nothing, bookkeeping included. */
  recordUsage?: boolean;
  /** Every request the gateway made (metrics, the bench's counts). */
  onRequest?: (r: RequestRecord) => void;
  /** Every run the recorder finished (metrics). */
  onRunFinished?: (run: FinishedRun) => void;
  /** The process the push worker runs in; the daemon passes its own, tests may pass another. */
  host?: WorkerHost;
}

/** The token, or the ConfigError an operator sees; the daemon asks before it starts anything. */
export function requireToken(config: Readonly<Config>): string {
  const token = config.intercom.accessToken;
  if (!token) throw new ConfigError([{ variable: 'INTERCOM_ACCESS_TOKEN', problem: 'is required to talk to Intercom' }]);
  return token;
}

export function buildEngines(o: EngineOptions): Engines {
  const { config, logger, pool } = o;
  const token = requireToken(config);
  const host = o.host ?? processHost();
  const usage: ApiUsageRecorder | null =
    o.recordUsage === false
      ? null
      : createApiUsageRecorder(pool, config.schema, { onError: (err) => logger.warn({ err }, 'could not record API usage') });
  // What Intercom refuses us goes to Postgres, so `status` and `report errors` show it from any process. A dry run
  // (recordUsage false) writes nothing.
  const access =
    o.recordUsage === false
      ? null
      : createIntercomAccessRecorder(pool, config.schema, {
          onError: (err) => logger.warn({ err }, 'could not record an Intercom refusal'),
        });
  const gateway = createGateway({
    token,
    baseUrl: config.intercom.baseUrl,
    apiVersion: config.intercom.apiVersion,
    ratePerMinute: config.intercom.ratePerMinute,
    timeoutSeconds: config.intercom.timeoutSeconds,
    maxRetries: config.intercom.maxRetries,
    redisUrl: config.redisUrl,
    logger,
    onRequest: (r) => {
      usage?.record(r);
      o.onRequest?.(r);
    },
    ...(access ? { onAccessChange: (c) => access.record(c) } : {}),
  });
  const pull = createPullEngine({
    gateway,
    budget: gateway,
    store: createPullStore(pool, config.schema),
    logger,
    config: {
      lookbackSeconds: config.sync.pullLookbackSeconds,
      conflictPolicy: config.sync.conflictPolicy,
      writeDoubtWindowSeconds: config.sync.writeDoubtWindowSeconds,
    },
  });
  const pushStore = createPushStore(pool, config.schema);
  const push = createPushEngine({
    gateway,
    budget: gateway,
    store: pushStore,
    logger,
    host,
    tokenRefused: () => gateway.health().authError?.message ?? null,
    config: {
      batchSize: config.sync.pushBatchSize,
      concurrency: config.sync.pushConcurrency,
      maxAttempts: config.sync.maxAttempts,
      retryCapMs: config.sync.retryMaxDelaySeconds * 1000,
      deleteMode: config.sync.deleteMode,
      autoCreateAttributes: config.sync.autoCreateAttributes,
      createLookupDelaySeconds: config.sync.createLookupDelaySeconds,
      writeDoubtWindowSeconds: config.sync.writeDoubtWindowSeconds,
    },
  });
  const verify = createVerifyEngine({ gateway, store: createVerifyStore(pool, config.schema), pull, logger });
  const runs = createRunTracker({
    pool,
    schema: config.schema,
    replicaId: o.replicaId ?? `${host.name}:${host.pid}`,
    logger,
    ...(o.onRunFinished ? { onFinished: o.onRunFinished } : {}),
  });
  // Server-side keepalives bound how long a vanished peer's session lingers to a few leader-retry periods.
  const listen = createOutboxListen({
    connect: dedicatedClient(o.databaseUrl, 'outbox listen', config.daemon.leaderRetrySeconds),
    schema: config.schema,
    logger,
  });
  let closed: Promise<void> | undefined;
  return {
    gateway,
    pull,
    push,
    verify,
    pushStore,
    backfillStore: createBackfillStore(pool, config.schema, pushStore),
    runs,
    listen,
    usage,
    close: () =>
      (closed ??= (async () => {
        await gateway.close();
        await access?.flush();
        await usage?.close();
      })()),
  };
}
