import type { Logger } from 'pino';
import { sleep } from '../sleep.ts';

/**
 * Start-up steps that talk to Postgres (migrations under their advisory lock) must outlast a database that is
 * restarting or whose backends an operator terminates: that is an outage to wait out, not a reason to exit. What
 * counts as one is what Postgres and node-postgres report for a backend that is gone or not yet accepting:
 * SQLSTATE class 08 (connection exception) and 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html), refused or reset sockets, and node-postgres's
 * own errors for a client whose connection died (https://github.com/brianc/node-postgres/blob/master/packages/pg/lib/client.js).
 * Anything else (bad credentials, a migration's SQL error) is not retried.
 */
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const RETRYABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET']);
const NODE_PG_CONNECTION_MESSAGES = [
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
];

export function isConnectionError(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (RETRYABLE_SQLSTATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code) || RETRYABLE_SOCKET_CODES.has(e.code))) {
    return true;
  }
  if (typeof e.message === 'string' && NODE_PG_CONNECTION_MESSAGES.some((m) => e.message === m)) return true;
  // Node reports a refused connection to every address of a host as an AggregateError; wrappers keep theirs in cause.
  if (Array.isArray(e.errors) && e.errors.some((x) => isConnectionError(x, depth + 1))) return true;
  return isConnectionError(e.cause, depth + 1);
}

export interface ConnectionRetryOptions {
  logger: Pick<Logger, 'warn'>;
  /** Names the step in the warnings. */
  what: string;
  /** Stops retrying (the last error is thrown), e.g. on a shutdown signal during start-up. */
  signal?: AbortSignal;
  /** Total time to keep retrying before the last error is thrown. Default 60 s. */
  maxMs?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** Runs `fn`, retrying it with a doubling, capped back-off while it fails with a connection error. */
export async function withConnectionRetry<T>(fn: () => Promise<T>, opts: ConnectionRetryOptions): Promise<T> {
  const deadline = Date.now() + (opts.maxMs ?? 60_000);
  let delay = opts.firstDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const remaining = deadline - Date.now();
      if (!isConnectionError(err) || opts.signal?.aborted || remaining <= 0) throw err;
      const wait = Math.min(delay, remaining);
      opts.logger.warn({ err, attempt, retryInMs: wait }, `${opts.what}: database connection failed; retrying`);
      await sleep(wait, opts.signal);
      if (opts.signal?.aborted) throw err;
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5000);
    }
  }
}
