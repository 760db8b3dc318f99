import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { MappingCountRow, OutboxGaugeRow, StreamLagRow } from '../db/queries/daemon-metrics.ts';
import type { RequestRecord } from '../intercom/gateway.ts';
import type { LimiterState } from '../intercom/limiter.ts';
import type { IntercomAvailability } from '../intercom/availability.ts';
import type { Role } from '../daemon/leader-lock.ts';
import type { FinishedRun } from '../daemon/run-tracker.ts';
import { within } from '../sleep.ts';

/**
 * Prometheus metrics on a registry of our own (not prom-client's global one, so several apps can live in one test
 * process). Counters and histograms are fed by events (gateway requests, finished runs, webhooks); gauges about the
 * database and the limiter are read at scrape time, so they are never staler than the scrape.
 */
export interface DbGauges {
  outbox: OutboxGaugeRow[];
  pullLag: StreamLagRow[];
  mappings: MappingCountRow[];
}

export interface MetricsSources {
  readDb?: () => Promise<DbGauges>;
  limiterState?: () => LimiterState;
  role?: () => Role;
  /** What the gateway knows about reaching Intercom (token refused, endpoints denied, outage clock). */
  intercomAvailability?: () => { availability: IntercomAvailability; unreachableSeconds: number };
  /** True while Intercom refuses the access token (used when intercomAvailability is not given). */
  authHalted?: () => boolean;
}

export type WebhookResult =
  | 'accepted'
  | 'ignored'
  | 'unauthorized'
  | 'malformed'
  | 'too_large'
  | 'timeout'
  | 'busy'
  | 'disabled'
  | 'dropped';

export interface Metrics {
  readonly registry: Registry;
  recordRequest(r: RequestRecord): void;
  recordRun(run: FinishedRun): void;
  recordWebhook(result: WebhookResult): void;
  recordHttp(route: string, status: number): void;
  /** Refreshes the scrape-time gauges, then renders the text format. */
  render(): Promise<{ contentType: string; body: string }>;
}

const P = 'intercom_sync_';
const ROLES: Role[] = ['starting', 'standby', 'leader', 'stopped'];

export function createMetrics(sources: MetricsSources, logger: Logger, opts: { dbTimeoutMs?: number } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: P });

  const requests = new Counter({
    name: `${P}intercom_requests_total`,
    help: 'Intercom API requests by endpoint template, status (none = no answer) and priority',
    labelNames: ['endpoint', 'status', 'priority'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: `${P}intercom_rate_limited_total`,
    help: 'Intercom answers with status 429',
    labelNames: ['endpoint'] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: `${P}intercom_request_duration_seconds`,
    help: 'Intercom request duration, retries counted separately',
    labelNames: ['endpoint'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const limiterQueued = new Gauge({ name: `${P}limiter_queued`, help: 'Intercom calls waiting for rate budget', registers });
  const limiterRunning = new Gauge({ name: `${P}limiter_running`, help: 'Intercom calls in flight', registers });
  const limiterRemaining = new Gauge({
    name: `${P}limiter_remaining_budget`,
    help: 'Requests left in the current rate window (-1 = unknown)',
    registers,
  });
  const outboxDepth = new Gauge({
    name: `${P}outbox_depth`,
    help: 'Pending outbox entries',
    labelNames: ['entity_type'] as const,
    registers,
  });
  const outboxOldest = new Gauge({
    name: `${P}outbox_oldest_pending_age_seconds`,
    help: 'Age of the oldest pending outbox entry (0 when empty)',
    registers,
  });
  const deadLetters = new Gauge({
    name: `${P}outbox_dead_letters`,
    help: 'Outbox entries that ran out of attempts and wait for an operator',
    labelNames: ['entity_type'] as const,
    registers,
  });
  const pullLag = new Gauge({
    name: `${P}pull_lag_seconds`,
    help: 'Seconds since the last successful pull of each stream finished (absent before the first one)',
    labelNames: ['stream'] as const,
    registers,
  });
  const watermarkAge = new Gauge({
    name: `${P}pull_watermark_age_seconds`,
    help: 'How far the incremental pull watermark (newest remote updated_at seen) trails now, per stream',
    labelNames: ['stream'] as const,
    registers,
  });
  const mappings = new Gauge({
    name: `${P}mappings`,
    help: 'Mapped entities by status (conflict and ambiguous need attention)',
    labelNames: ['entity_type', 'status'] as const,
    registers,
  });
  const conflicts = new Counter({
    name: `${P}conflicts_total`,
    help: 'Field conflicts resolved by CONFLICT_POLICY, by run kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const records = new Counter({
    name: `${P}records_total`,
    help: 'Per-record outcomes of runs',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const runSeconds = new Histogram({
    name: `${P}run_duration_seconds`,
    help: 'Duration of sync runs by kind and status',
    labelNames: ['kind', 'status'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers,
  });
  const webhooks = new Counter({
    name: `${P}webhooks_total`,
    help: 'Intercom webhook notifications by result',
    labelNames: ['result'] as const,
    registers,
  });
  const http = new Counter({
    name: `${P}http_requests_total`,
    help: 'Requests to this server by route and status',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const leader = new Gauge({
    name: `${P}leader`,
    help: '1 while this replica holds the leader lock',
    registers,
  });
  // Bounded: the label is one of the endpoint templates of src/intercom/endpoints.ts.
  const endpointDenied = new Gauge({
    name: `${P}intercom_endpoint_denied`,
    help: '1 per Intercom endpoint refused for a missing permission (work needing it waits; the rest syncs)',
    labelNames: ['endpoint', 'permission'] as const,
    registers,
  });
  const unreachable = new Gauge({
    name: `${P}intercom_unreachable_seconds`,
    help: 'Seconds since Intercom last answered, while calls fail with no answer, 5xx or a non-Intercom 403; 0 when reachable',
    registers,
  });
  const role = new Gauge({ name: `${P}role`, help: 'Current role of this replica', labelNames: ['role'] as const, registers });
  const authHalted = new Gauge({
    name: `${P}intercom_authorization_halted`,
    help: '1 while Intercom refuses the access token: every call halted until GET /me, re-checked on a back-off, is accepted',
    registers,
  });
  const dbUp = new Gauge({
    name: `${P}metrics_database_up`,
    help: '1 if the database gauges could be read for this scrape',
    registers,
  });

  // A series for every label value we know up front, so dashboards show 0 rather than "no data".
  for (const e of ['contact', 'company', 'contact_company']) {
    outboxDepth.set({ entity_type: e }, 0);
    deadLetters.set({ entity_type: e }, 0);
  }
  outboxOldest.set(0);
  authHalted.set(0);
  rateLimited.inc({ endpoint: 'any' }, 0);
  conflicts.inc({ kind: 'pull_contacts' }, 0);

  async function refreshDb(): Promise<void> {
    if (!sources.readDb) return;
    try {
      const r = await within(sources.readDb(), opts.dbTimeoutMs ?? 3000);
      if (r === 'timeout') throw new Error('database gauges timed out');
      outboxDepth.reset();
      deadLetters.reset();
      for (const e of ['contact', 'company', 'contact_company']) {
        outboxDepth.set({ entity_type: e }, 0);
        deadLetters.set({ entity_type: e }, 0);
      }
      let oldest = 0;
      for (const row of r.outbox) {
        if (row.status === 'pending') {
          outboxDepth.set({ entity_type: row.entity_type }, row.count);
          oldest = Math.max(oldest, row.oldest_age_seconds ?? 0);
        } else if (row.status === 'dead') deadLetters.set({ entity_type: row.entity_type }, row.count);
      }
      outboxOldest.set(oldest);
      pullLag.reset();
      watermarkAge.reset();
      for (const row of r.pullLag) {
        if (row.lag_seconds !== null) pullLag.set({ stream: row.stream }, row.lag_seconds);
        // A watermark ahead of the database's clock is no negative age: it reads 0 (the pull lowers such a watermark).
        if (row.watermark_age_seconds !== null) watermarkAge.set({ stream: row.stream }, Math.max(0, row.watermark_age_seconds));
      }
      mappings.reset();
      for (const row of r.mappings) mappings.set({ entity_type: row.entity_type, status: row.status }, row.count);
      dbUp.set(1);
    } catch (err) {
      dbUp.set(0);
      logger.warn({ err }, 'could not read database gauges for /metrics');
    }
  }

  function refreshProcess(): void {
    if (sources.limiterState) {
      const s = sources.limiterState();
      limiterQueued.set(s.queued);
      limiterRunning.set(s.running);
      limiterRemaining.set(s.reservoir ?? -1);
    }
    if (sources.intercomAvailability) {
      const { availability, unreachableSeconds } = sources.intercomAvailability();
      authHalted.set(availability.halted ? 1 : 0);
      endpointDenied.reset();
      for (const d of availability.denied) endpointDenied.set({ endpoint: d.endpoint, permission: d.permission ?? 'unknown' }, 1);
      unreachable.set(Math.round(unreachableSeconds));
    }
    if (sources.authHalted && !sources.intercomAvailability) authHalted.set(sources.authHalted() ? 1 : 0);
    if (sources.role) {
      const current = sources.role();
      leader.set(current === 'leader' ? 1 : 0);
      for (const r of ROLES) role.set({ role: r }, r === current ? 1 : 0);
    }
  }

  return {
    registry,
    recordRequest(r) {
      const status = r.status === null ? 'none' : String(r.status);
      requests.inc({ endpoint: r.endpoint, status, priority: r.priority });
      if (r.status === 429) rateLimited.inc({ endpoint: r.endpoint });
      requestSeconds.observe({ endpoint: r.endpoint }, r.durationMs / 1000);
    },
    recordRun(run) {
      if (run.durationSeconds !== null) runSeconds.observe({ kind: run.kind, status: run.status }, run.durationSeconds);
      for (const [outcome, n] of Object.entries(run.summary.counts)) {
        if (!n) continue;
        records.inc({ kind: run.kind, outcome }, n);
        if (outcome === 'conflict') conflicts.inc({ kind: run.kind }, n);
      }
    },
    recordWebhook(result) {
      webhooks.inc({ result });
    },
    recordHttp(route, status) {
      http.inc({ route, status: String(status) });
    },
    async render() {
      refreshProcess();
      await refreshDb();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
