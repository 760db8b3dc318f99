/**
 * Bounded retries for the failures that are worth another try: 429, 5xx, timeouts and dropped connections.
 * Everything else (400/404/409/422, auth) surfaces at once. A 429 does not sleep here: the limiter is paused for
 * every caller until the window resets, so the next attempt simply queues behind that pause.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { IntercomApiError, IntercomAuthError } from '../errors.ts';

export interface RetryPolicy {
  maxRetries: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseMs: 500, capMs: 30_000 };

/** "Full jitter": uniform in [0, min(cap, base·2^attempt)], so a crowd of failed callers does not retry in step. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** attempt));
}

export function shouldRetry(err: unknown): boolean {
  if (err instanceof IntercomAuthError) return false;
  return err instanceof IntercomApiError && err.retryable;
}

export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: {
    onRetry?: (err: IntercomApiError, n: number, delayMs: number) => void;
    signal?: AbortSignal;
    /** A further condition on top of shouldRetry (the gateway's rule for writes). */
    shouldRetry?: (err: IntercomApiError) => boolean;
  } = {},
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!shouldRetry(err) || n >= policy.maxRetries) throw err;
      const apiErr = err as IntercomApiError;
      if (hooks.shouldRetry && !hooks.shouldRetry(apiErr)) throw err;
      const delay = apiErr.status === 429 ? 0 : backoffMs(n, policy);
      hooks.onRetry?.(apiErr, n + 1, delay);
      if (delay > 0) await sleep(delay, undefined, hooks.signal ? { signal: hooks.signal } : {});
    }
  }
}
