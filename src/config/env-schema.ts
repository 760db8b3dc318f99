import { z } from 'zod';

/**
 * Every environment variable intercom-sync reads, with its default. This table is the product's configuration
 * interface: the README documents it and changing a name or a default is a breaking change.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

const cronExpr = z
  .string()
  .refine((v) => /^\s*(\S+\s+){4,5}\S+\s*$/.test(v), 'must be a cron expression with 5 or 6 fields');

export const envSchema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  INTERCOM_ACCESS_TOKEN: z.string().min(1, 'must not be empty').optional(),
  INTERCOM_BASE_URL: z.url().default('https://api.intercom.io'),
  INTERCOM_API_VERSION: z.string().regex(/^\d+\.\d+$/, 'must look like 2.14').default('2.14'),
  INTERCOM_RATE_LIMIT_PER_MINUTE: positiveInt.default(500),
  INTERCOM_TIMEOUT_SECONDS: positiveInt.default(30),
  INTERCOM_MAX_RETRIES: nonNegativeInt.default(5),
  INTERCOM_CLIENT_SECRET: z.string().min(1).optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  SYNC_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    // pg_* and information_schema belong to Postgres (pg_dump skips them, so backups would miss every table);
    // public is shared with the application, whose objects our migrations must never meet.
    .refine(
      (v) => !/^pg_/.test(v) && v !== 'information_schema' && v !== 'public',
      'must not be a system or shared schema (pg_*, information_schema, public); use a schema of its own, e.g. intercom',
    )
    .default('intercom'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PII: bool.default(false),
  CONFLICT_POLICY: z.enum(['newest_wins', 'local_wins', 'remote_wins']).default('newest_wins'),
  DELETE_MODE: z.enum(['archive', 'delete', 'ignore']).default('archive'),
  AUTO_CREATE_ATTRIBUTES: bool.default(false),
  MAX_ATTEMPTS: positiveInt.default(10),
  RETRY_MAX_DELAY_SECONDS: positiveInt.default(300),
  INTERCOM_UNREACHABLE_ALERT_SECONDS: positiveInt.default(300),
  PULL_LOOKBACK_SECONDS: nonNegativeInt.default(900),
  CREATE_LOOKUP_DELAY_SECONDS: nonNegativeInt.default(300),
  WRITE_DOUBT_WINDOW_SECONDS: positiveInt.default(900),
  PUSH_BATCH_SIZE: positiveInt.default(50),
  PUSH_CONCURRENCY: positiveInt.default(64),
  CONTACTS_PULL_CRON: cronExpr.default('*/1 * * * *'),
  COMPANIES_PULL_CRON: cronExpr.default('*/15 * * * *'),
  OUTBOX_SWEEP_CRON: cronExpr.default('*/10 * * * * *'),
  VERIFY_CRON: cronExpr.default('0 3 * * *'),
  VERIFY_BUDGET_PER_RUN: nonNegativeInt.default(2000),
  HTTP_PORT: nonNegativeInt.max(65535).default(8080),
  HTTP_HOST: z.string().default('0.0.0.0'),
  STATUS_PAGE: z.enum(['on', 'off']).default('on'),
  STATUS_PAGE_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // The status page and /metrics read through a pool of their own, so a flood of them never waits on the sync's.
  HTTP_DB_CONNECTIONS: positiveInt.max(20).default(2),
  // Intercom's notifications are a few KB; these bound what an unauthenticated client can make us hold (README).
  WEBHOOK_MAX_BODY_BYTES: positiveInt.max(16 * 1024 * 1024).default(256 * 1024),
  WEBHOOK_MAX_CONCURRENT: positiveInt.max(10_000).default(32),
  WEBHOOK_BODY_TIMEOUT_SECONDS: positiveInt.max(300).default(10),
  LEADER_LOCK_RETRY_SECONDS: positiveInt.default(5),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt.default(25),
  EMBEDDED_PG_PORT: nonNegativeInt.max(65535).default(0),
  EMBEDDED_DATA_DIR: z.string().optional(),
});

export type RawEnv = z.infer<typeof envSchema>;
