import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { envSchema, type RawEnv } from './env-schema.ts';

/** The typed, frozen configuration. Nothing below the entry points reads process.env. */
export interface Config {
  databaseUrl: string | undefined;
  intercom: {
    accessToken: string | undefined;
    baseUrl: string;
    apiVersion: string;
    ratePerMinute: number;
    timeoutSeconds: number;
    maxRetries: number;
    clientSecret: string | undefined;
    /** /readyz and the metric report Intercom unreachable past this many seconds. */
    unreachableAlertSeconds: number;
  };
  redisUrl: string | undefined;
  schema: string;
  log: { level: RawEnv['LOG_LEVEL']; pii: boolean };
  sync: {
    conflictPolicy: RawEnv['CONFLICT_POLICY'];
    deleteMode: RawEnv['DELETE_MODE'];
    autoCreateAttributes: boolean;
    maxAttempts: number;
    /** Cap of the push retry back-off; transient failures retry at this pace forever. */
    retryMaxDelaySeconds: number;
    pullLookbackSeconds: number;
    /** How long a create in doubt waits before an email search may prove it absent (search indexing lag). */
    createLookupDelaySeconds: number;
    /** How long a write whose answer was lost is remembered as possibly applying late. */
    writeDoubtWindowSeconds: number;
    pushBatchSize: number;
    pushConcurrency: number;
    verifyBudgetPerRun: number;
  };
  schedule: { contactsPull: string; companiesPull: string; outboxSweep: string; verify: string };
  http: {
    port: number;
    host: string;
    /** The status page's and /metrics' own connections (each serves at most twice as many requests at once). */
    dbConnections: number;
    webhook: { maxBodyBytes: number; maxConcurrent: number; bodyTimeoutSeconds: number };
  };
  /** The HTML status page at `/` (src/http/status-page.ts); token = required bearer token or `?token=`. */
  statusPage: { enabled: boolean; token: string | undefined };
  daemon: { leaderRetrySeconds: number; shutdownTimeoutSeconds: number };
  embedded: { pgPort: number; dataDir: string | undefined };
}

export function parseConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // Empty strings come from `FOO=` in env files; treat them as unset so defaults apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error));
  const e = parsed.data;
  return deepFreeze({
    databaseUrl: e.DATABASE_URL,
    intercom: {
      accessToken: e.INTERCOM_ACCESS_TOKEN,
      baseUrl: e.INTERCOM_BASE_URL.replace(/\/+$/, ''),
      apiVersion: e.INTERCOM_API_VERSION,
      ratePerMinute: e.INTERCOM_RATE_LIMIT_PER_MINUTE,
      timeoutSeconds: e.INTERCOM_TIMEOUT_SECONDS,
      maxRetries: e.INTERCOM_MAX_RETRIES,
      clientSecret: e.INTERCOM_CLIENT_SECRET,
      unreachableAlertSeconds: e.INTERCOM_UNREACHABLE_ALERT_SECONDS,
    },
    redisUrl: e.REDIS_URL,
    schema: e.SYNC_SCHEMA,
    log: { level: e.LOG_LEVEL, pii: e.LOG_PII },
    sync: {
      conflictPolicy: e.CONFLICT_POLICY,
      deleteMode: e.DELETE_MODE,
      autoCreateAttributes: e.AUTO_CREATE_ATTRIBUTES,
      maxAttempts: e.MAX_ATTEMPTS,
      retryMaxDelaySeconds: e.RETRY_MAX_DELAY_SECONDS,
      pullLookbackSeconds: e.PULL_LOOKBACK_SECONDS,
      createLookupDelaySeconds: e.CREATE_LOOKUP_DELAY_SECONDS,
      writeDoubtWindowSeconds: e.WRITE_DOUBT_WINDOW_SECONDS,
      pushBatchSize: e.PUSH_BATCH_SIZE,
      pushConcurrency: e.PUSH_CONCURRENCY,
      verifyBudgetPerRun: e.VERIFY_BUDGET_PER_RUN,
    },
    schedule: {
      contactsPull: e.CONTACTS_PULL_CRON,
      companiesPull: e.COMPANIES_PULL_CRON,
      outboxSweep: e.OUTBOX_SWEEP_CRON,
      verify: e.VERIFY_CRON,
    },
    http: {
      port: e.HTTP_PORT,
      host: e.HTTP_HOST,
      dbConnections: e.HTTP_DB_CONNECTIONS,
      webhook: {
        maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
        maxConcurrent: e.WEBHOOK_MAX_CONCURRENT,
        bodyTimeoutSeconds: e.WEBHOOK_BODY_TIMEOUT_SECONDS,
      },
    },
    statusPage: { enabled: e.STATUS_PAGE === 'on', token: e.STATUS_PAGE_TOKEN },
    daemon: { leaderRetrySeconds: e.LEADER_LOCK_RETRY_SECONDS, shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS },
    embedded: { pgPort: e.EMBEDDED_PG_PORT, dataDir: e.EMBEDDED_DATA_DIR },
  });
}

function describeIssues(error: z.ZodError): { variable: string; problem: string }[] {
  // Messages never echo the received value: a token pasted into the wrong variable must not reach the logs.
  return error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? '(environment)'),
    problem: issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message,
  }));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
