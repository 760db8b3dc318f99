import type pg from 'pg';
import { ident } from '../migrate.ts';
import { statusQueries, type MinuteCount } from './status.ts';

export interface ApiRequestRecord {
  method: string;
  /** Template such as 'GET /contacts/{id}', never a concrete path. */
  endpoint: string;
  /** null = no answer (timeout, dropped connection); stored as 0. */
  status: number | null;
  durationMs: number;
  requestId: string | null;
  priority: string;
  at: Date;
}

export interface ApiUsageRecorder {
  /** Never throws and never waits: it runs on the gateway's hot path. */
  record(r: ApiRequestRecord): void;
  flush(): Promise<void>;
  /** Stops the timer and writes what is buffered; idempotent. */
  close(): Promise<void>;
}

export interface ApiUsageRecorderOptions {
  flushIntervalMs?: number;
  /**
   * Also keep the status page's per-minute series (status_samples): requests and 429s per minute, and the outbox
   * depth sampled once a minute. Default true.
   */
  statusSamples?: boolean;
  onError?: (err: unknown) => void;
}

interface Bucket {
  hour: Date;
  endpoint: string;
  status: number;
  priority: string;
  requests: number;
  totalMs: number;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/**
 * Counts Intercom requests per (hour, endpoint, status, priority) in memory and adds the counts to api_usage every
 * few seconds: one upsert per flush instead of one write per request, so recording costs the database nothing
 * noticeable even at the full rate limit. A failed flush keeps its counts for the next one.
 */
export function createApiUsageRecorder(pool: pg.Pool, schema: string, opts: ApiUsageRecorderOptions = {}): ApiUsageRecorder {
  const t = `${ident(schema)}.api_usage`;
  let buffer = new Map<string, Bucket>();
  const sampling = opts.statusSamples !== false;
  const status = statusQueries(schema);
  let minutes = new Map<number, MinuteCount>();
  let sampledMinute = 0;
  let prunedHour = 0;
  let flushing: Promise<void> = Promise.resolve();
  let closed: Promise<void> | undefined;

  const add = (into: Map<string, Bucket>, b: Bucket) => {
    const key = `${b.hour.getTime()}\u0000${b.endpoint}\u0000${b.status}\u0000${b.priority}`;
    const existing = into.get(key);
    if (existing) {
      existing.requests += b.requests;
      existing.totalMs += b.totalMs;
    } else into.set(key, { ...b });
  };

  const writeSamples = async (): Promise<void> => {
    if (!sampling) return;
    if (minutes.size > 0) {
      const batch = minutes;
      minutes = new Map();
      try {
        await status.addRequests(pool, [...batch.values()]);
      } catch (err) {
        for (const [k, c] of batch) {
          const m = minutes.get(k);
          if (m) {
            m.requests += c.requests;
            m.rateLimited += c.rateLimited;
          } else minutes.set(k, c);
        }
        throw err;
      }
    }
    const now = Date.now();
    if (Math.floor(now / MINUTE_MS) !== sampledMinute) {
      await status.sampleOutbox(pool);
      sampledMinute = Math.floor(now / MINUTE_MS);
    }
    if (Math.floor(now / HOUR_MS) !== prunedHour) {
      await status.prune(pool);
      prunedHour = Math.floor(now / HOUR_MS);
    }
  };

  // The usage table and the samples are written independently: a failure of one keeps its counts and does not
  // hold back the other.
  const write = async (): Promise<void> => {
    const results = await Promise.allSettled([writeUsage(), writeSamples()]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  const writeUsage = async (): Promise<void> => {
    if (buffer.size === 0) return;
    const batch = buffer;
    buffer = new Map();
    const values: unknown[] = [];
    // Keys are unique within the batch, which ON CONFLICT DO UPDATE requires of one statement.
    const tuples = [...batch.values()].map((b, i) => {
      values.push(b.hour, b.endpoint, b.status, b.priority, b.requests, Math.round(b.totalMs));
      const o = i * 6;
      return `($${o + 1}::timestamptz, $${o + 2}, $${o + 3}::int, $${o + 4}, $${o + 5}::int, $${o + 6}::bigint)`;
    });
    try {
      await pool.query(
        `INSERT INTO ${t} AS u (hour, endpoint, status, priority, requests, total_ms) VALUES ${tuples.join(', ')}
         ON CONFLICT ON CONSTRAINT api_usage_pkey DO UPDATE SET
           requests = u.requests + EXCLUDED.requests, total_ms = u.total_ms + EXCLUDED.total_ms`,
        values,
      );
    } catch (err) {
      for (const b of batch.values()) add(buffer, b);
      throw err;
    }
  };

  // Flushes run one after another so two never race to upsert the same keys out of order.
  const flush = (): Promise<void> => {
    const next = flushing.then(write);
    flushing = next.catch(() => undefined);
    return next;
  };

  const timer = setInterval(() => {
    flush().catch((err: unknown) => opts.onError?.(err));
  }, opts.flushIntervalMs ?? 5_000);
  timer.unref();

  return {
    record(r) {
      if (closed) return;
      if (sampling) {
        const key = Math.floor(r.at.getTime() / MINUTE_MS);
        const m = minutes.get(key) ?? { minute: new Date(key * MINUTE_MS), requests: 0, rateLimited: 0 };
        m.requests += 1;
        if (r.status === 429) m.rateLimited += 1;
        minutes.set(key, m);
      }
      add(buffer, {
        hour: new Date(Math.floor(r.at.getTime() / HOUR_MS) * HOUR_MS),
        endpoint: r.endpoint,
        status: r.status ?? 0,
        priority: r.priority,
        requests: 1,
        totalMs: Math.max(0, r.durationMs),
      });
    },
    flush,
    close: () =>
      (closed ??= (async () => {
        clearInterval(timer);
        await flush();
      })()),
  };
}
