/**
 * The daemon's composition root: turns config into a running process. It builds, in order, the database (pool,
 * migrations), the engines (buildEngines in src/engines.ts, which every composition root shares), the leader-only
 * schedules and the HTTP server, and registers each for release in reverse order.
 */
import type { Config } from './config/index.ts';
import { createPool, dedicatedClient, pingDatabase, type Database } from './db/client.ts';
import { openDatabase } from './db/open.ts';
import { daemonMetricsQueries } from './db/queries/daemon-metrics.ts';
import { statusQueries } from './db/queries/status.ts';
import { advisoryKey } from './db/advisory-lock.ts';
import { runMigrations } from './db/migrate.ts';
import { withConnectionRetry } from './db/retry-connection.ts';
import { createDaemon, type Daemon } from './daemon/daemon.ts';
import { createLifecycle } from './daemon/lifecycle.ts';
import type { DaemonPullPort, DaemonPushPort, DaemonVerifyPort } from './daemon/ports.ts';
import { processHost } from './daemon/host.ts';
import type { RunTracker } from './daemon/run-tracker.ts';
import { createScheduler, type JobSpec } from './daemon/scheduler.ts';
import { createIntercomAuthCheck } from './http/health.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { createHttpServer } from './http/server.ts';
import { createWebhookHandler } from './http/webhooks.ts';
import type { IntercomGateway } from './intercom/gateway.ts';
import { buildEngines, requireToken } from './engines.ts';
import type { Logger } from './logger.ts';

export interface AppOptions {
  /** Names this process in sync_runs and logs; defaults to host:pid. */
  replicaId?: string;
  /** A shutdown requested while building: stops waiting for an unavailable database. */
  signal?: AbortSignal;
}

export interface App {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly replicaId: string;
  readonly database: Database;
  readonly gateway: IntercomGateway;
  readonly pull: DaemonPullPort;
  readonly push: DaemonPushPort;
  readonly verify: DaemonVerifyPort;
  readonly metrics: Metrics;
  readonly daemon: Daemon;
  readonly tracker: RunTracker;
  /** Starts the HTTP server and the leader election; resolves once HTTP listens. */
  start(): Promise<{ httpUrl: string }>;
  /** Graceful, bounded, idempotent: stop scheduling, finish or hand back work, release the lock, close all. */
  stop(reason?: string): Promise<void>;
}

const PUSH_POLL_MS = 5_000;

export async function buildApp(config: Readonly<Config>, logger: Logger, opts: AppOptions = {}): Promise<App> {
  requireToken(config);
  const host = processHost();
  const replicaId = opts.replicaId ?? `${host.name}:${host.pid}`;
  const log = logger.child({ replica: replicaId });
  const lifecycle = createLifecycle({ logger: log });
  const shutdownMs = config.daemon.shutdownTimeoutSeconds * 1000;
  // Work gets the shutdown budget minus what the release steps after it may need.
  const workGraceMs = Math.max(1000, shutdownMs - Math.min(5000, shutdownMs / 4));

  try {
    const { embedded, url: databaseUrl, ...database } = await openDatabase(config, log, { ownsSignals: true });
    if (embedded) lifecycle.defer('embedded postgres', () => embedded.stop(), 15_000);
    lifecycle.defer('database pool', () => database.pool.end());

    // The first queries: a restarting database or terminated backends here are waited out, not fatal (the leader
    // lock, the LISTEN and the readiness ping already reconnect on their own).
    await withConnectionRetry(() => runMigrations(database.pool, config.schema, log), {
      logger: log,
      what: 'migrations',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });

    // The status page and /metrics read through connections of their own: a flood of them waits on this pool, and
    // is refused with 503 beyond a few at once (src/http/server.ts), while the sync keeps its own connections.
    // A page's statements never need long; a lock held on a report view must not hold a connection for minutes.
    const httpPool = createPool(databaseUrl, config.http.dbConnections, { purpose: 'http', statementTimeoutMs: 15_000 });
    lifecycle.defer('status page and metrics pool', () => httpPool.end());

    let daemonRef: Daemon | null = null;
    let stopping = false;
    const role = () => (stopping ? 'stopped' : (daemonRef?.role() ?? 'starting'));
    const dbGauges = daemonMetricsQueries(config.schema);
    let gatewayRef: IntercomGateway | null = null;
    const metrics = createMetrics(
      {
        readDb: async () => ({
          outbox: await dbGauges.outbox(httpPool),
          pullLag: await dbGauges.pullLag(httpPool),
          mappings: await dbGauges.mappings(httpPool),
        }),
        limiterState: () => gatewayRef?.limiterState() ?? { queued: 0, running: 0, reservoir: null, pausedUntil: null },
        intercomAvailability: () =>
          gatewayRef?.health() ?? { availability: { halted: null, denied: [], unreachableSince: null }, unreachableSeconds: 0 },
        authHalted: () => gatewayRef?.health().authError != null,
        role,
      },
      log,
    );

    const engines = buildEngines({
      config,
      logger: log,
      pool: database.pool,
      databaseUrl,
      replicaId,
      host,
      onRequest: (r) => metrics.recordRequest(r),
      onRunFinished: (run) => metrics.recordRun(run),
    });
    const { gateway, pull, push, verify, runs: tracker, listen } = engines;
    gatewayRef = gateway;
    lifecycle.defer('intercom gateway and api usage recorder', () => engines.close());

    const jobs: JobSpec[] = [
      { name: 'contacts-pull', cron: config.schedule.contactsPull, kind: 'pull_contacts', run: (a) => pull.pullContacts(a) },
      { name: 'companies-pull', cron: config.schedule.companiesPull, kind: 'pull_companies', run: (a) => pull.pullCompanies(a) },
      { name: 'outbox-sweep', cron: config.schedule.outboxSweep, kind: 'push', run: (a) => push.drainOnce(a) },
      {
        name: 'verify',
        cron: config.schedule.verify,
        kind: 'verify',
        run: (a) => verify.verify({ ...a, budget: config.sync.verifyBudgetPerRun }),
      },
    ];
    const scheduler = createScheduler({ jobs, tracker, logger: log });

    const daemon = createDaemon({
      logger: log,
      scheduler,
      lock: {
        // Server-side keepalives bound how long a vanished leader keeps its lock to a few retry periods.
        connect: dedicatedClient(databaseUrl, 'leader lock', config.daemon.leaderRetrySeconds),
        key: advisoryKey(`intercom-sync:leader:${config.schema}`),
        retryMs: config.daemon.leaderRetrySeconds * 1000,
      },
      beforeLeading: async () => {
        // Runs still 'running' belong to a leader that died; nobody will finish them now.
        const n = await tracker.abandonRunning();
        if (n > 0) log.warn({ runs: n }, 'closed runs left open by a previous leader');
      },
      pushLoop: (signal) =>
        push.runLoop({
          signal,
          listen,
          pollIntervalMs: PUSH_POLL_MS,
          // Only rounds that did something are reported, so idle polling leaves no rows in sync_runs.
          onRun: (summary) => void tracker.recordCompleted('push', summary, { source: 'push-loop' }),
        }),
    });
    daemonRef = daemon;

    const webhooks = createWebhookHandler({
      secret: config.intercom.clientSecret,
      maxBodyBytes: config.http.webhook.maxBodyBytes,
      maxConcurrent: config.http.webhook.maxConcurrent,
      bodyTimeoutMs: config.http.webhook.bodyTimeoutSeconds * 1000,
      logger: log,
      metrics,
      pull: {
        contacts: async (ids, signal) => {
          await tracker.track('webhook', signal, (a) => pull.pullContactsByIds(ids, a), { entity: 'contact', ids });
        },
        companies: async (ids, signal) => {
          await tracker.track('webhook', signal, (a) => pull.pullCompaniesByIds(ids, a), { entity: 'company', ids });
        },
      },
      onMalformed: async (reason) => {
        await tracker.track(
          'webhook',
          new AbortController().signal,
          () => Promise.reject(new Error(`malformed notification: ${reason}`)),
          { malformed: true },
        );
      },
    });

    const http = createHttpServer({
      logger: log,
      metrics,
      webhooks,
      readiness: {
        pingDatabase: () => pingDatabase(database.pool),
        intercomAuth: createIntercomAuthCheck({
          me: () => gateway.me(),
          authError: () => gateway.health().authError,
          availability: () => gateway.health(),
          unreachableAlertSeconds: config.intercom.unreachableAlertSeconds,
        }),
        role,
      },
      statusPage: config.statusPage.enabled
        ? {
            token: config.statusPage.token,
            pii: config.log.pii,
            budgetPerMinute: config.intercom.ratePerMinute,
            schema: config.schema,
            load: (hours) => statusQueries(config.schema).snapshot(httpPool, hours),
          }
        : null,
      maxConcurrentReads: 2 * config.http.dbConnections,
    });
    lifecycle.defer('http server', () => http.close(2000));
    // Scheduled runs, the push loop and webhook pulls wind down side by side within one grace period.
    lifecycle.defer(
      'in-flight work and leader lock',
      async () => {
        // The push engine stops claiming at once (loop and sweep alike) and returns its leases before the deadline,
        // so that the scheduler and the push loop are not left waiting on entries stuck behind the limiter.
        const pushGraceMs = Math.max(500, workGraceMs - 1500);
        await Promise.all([push.shutdown(pushGraceMs), daemon.stop(workGraceMs), webhooks.close(workGraceMs)]);
      },
      workGraceMs + 10_000,
    );
    lifecycle.defer('readiness', () => {
      stopping = true;
    });

    return {
      config,
      logger: log,
      replicaId,
      database,
      gateway,
      pull,
      push,
      verify,
      metrics,
      daemon,
      tracker,
      async start() {
        const { url } = await http.listen(config.http.port, config.http.host);
        daemon.start();
        return { httpUrl: url };
      },
      stop: (reason = 'stop requested') => lifecycle.stop(reason),
    };
  } catch (err) {
    await lifecycle.stop('startup failed');
    throw err;
  }
}
