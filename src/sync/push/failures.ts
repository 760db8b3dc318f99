/**
 * What a failed entry becomes. One table, mirroring src/errors.ts: a refused token stops the loop (the gateway
 * re-probes it); an endpoint refused for a missing permission parks only the entries that need it, without counting
 * attempts; rows Intercom (or our validation) refuses go dead at once with the reason. Transient failures (no answer,
 * timeouts, 429, 5xx, a load balancer's 403, the shared limiter's Redis down) NEVER dead-letter: an outage of any
 * length only delays changes, backing off to a cap, and they resume by themselves: a dead letter needs a person, and
 * an outage is not the row's fault. Anything else that may pass later (an unexpected answer body, a database error, a bug) is retried until MAX_ATTEMPTS.
 */
import {
  AmbiguousIdentityError,
  IntercomApiError,
  IntercomAuthError,
  IntercomPermissionError,
  RateLimiterUnavailableError,
  ValidationError,
} from '../../errors.ts';

export type Verdict =
  | { kind: 'halt'; error: IntercomAuthError }
  | { kind: 'denied'; message: string; details: Record<string, unknown> }
  | { kind: 'transient'; message: string; details: Record<string, unknown> }
  | { kind: 'retry'; message: string; details: Record<string, unknown> }
  | { kind: 'dead'; action: 'invalid' | 'dead'; message: string; details: Record<string, unknown>; ambiguous: boolean };

function detailsOf(err: unknown): Record<string, unknown> {
  if (err instanceof IntercomApiError) return err.toJSON();
  if (err instanceof ValidationError) return { name: err.name, field: err.field, problem: err.problem };
  if (err instanceof AmbiguousIdentityError) return { name: err.name, candidates: [...err.candidates] };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { message: String(err) };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function classify(err: unknown): Verdict {
  if (err instanceof IntercomAuthError) return { kind: 'halt', error: err };
  const details = detailsOf(err);
  if (err instanceof IntercomPermissionError) return { kind: 'denied', message: err.message, details };
  if ((err instanceof IntercomApiError && err.retryable) || err instanceof RateLimiterUnavailableError) {
    return { kind: 'transient', message: messageOf(err), details };
  }
  if (err instanceof ValidationError) return { kind: 'dead', action: 'invalid', message: err.message, details, ambiguous: false };
  if (err instanceof AmbiguousIdentityError) return { kind: 'dead', action: 'dead', message: err.message, details, ambiguous: true };
  if (err instanceof IntercomApiError && !err.retryable) {
    // 400/404/409/422: Intercom's own words are the reason (they name the field).
    return { kind: 'dead', action: err.status === 400 || err.status === 422 ? 'invalid' : 'dead', message: err.message, details, ambiguous: false };
  }
  // Everything else may pass later: a 429/5xx after the gateway's own retries, a lost connection, a deadlock, or a
  // bug. Retrying costs little and MAX_ATTEMPTS bounds it, so no table of "retryable" database errors is consulted.
  return { kind: 'retry', message: messageOf(err), details };
}

/** Default cap of the retry back-off (RETRY_MAX_DELAY_SECONDS): a recovered Intercom is used within 5 minutes. */
export const DEFAULT_RETRY_CAP_MS = 5 * 60_000;

/** Exponential backoff with jitter in [½, 1]: 2 s, 4 s, 8 s … capped (5 minutes by default). */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number = Math.random, capMs = DEFAULT_RETRY_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempts, 20));
  return Math.round(ceiling * (0.5 + random() / 2));
}
