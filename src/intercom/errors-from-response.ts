/**
 * Turns whatever intercom-client throws into our error vocabulary (src/errors.ts). The SDK's error subclasses
 * differ per endpoint, so we branch on the status code alone (STACK.md), and read Intercom's `error.list` body
 * (Intercom-OpenAPI descriptions/2.14, schema `error`) for the code, message and request_id an operator needs.
 */
import { IntercomError, IntercomTimeoutError } from 'intercom-client';
import {
  IntercomApiError,
  IntercomAuthError,
  IntercomPermissionError,
  RateLimitedError,
  type EntityKind,
} from '../errors.ts';

/** What the limiter needs from the X-RateLimit-* headers, already in local milliseconds. */
export interface RateHeaders {
  limit: number | null;
  remaining: number | null;
  resetAtMs: number | null;
}

export interface CallContext {
  method: string;
  endpoint: string;
  entity?: EntityKind | undefined;
  intercomId?: string | undefined;
  externalKey?: string | undefined;
  /** The permission the endpoint needs (endpoints.ts), named in a scoped refusal. */
  permission?: string | null | undefined;
}

/** The answer (or lack of one) of a single HTTP attempt. */
export interface AttemptOutcome {
  status: number | null;
  requestId: string | null;
  rate: RateHeaders;
}

type HeaderBag = { get(name: string): string | null } | undefined;

function toInt(v: string | null | undefined): number | null {
  if (v == null || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * X-RateLimit-Reset is unix seconds on the server's clock. When the server's clock disagrees with ours by more than
 * a window (a simulator with a shifted clock, a skewed host), the Date header tells us the offset. A reset that is
 * still implausible is dropped: better our own window estimate than a pause of hours.
 */
export function readRateHeaders(headers: HeaderBag, windowMs: number, now = Date.now()): RateHeaders {
  const limit = toInt(headers?.get('x-ratelimit-limit'));
  const remaining = toInt(headers?.get('x-ratelimit-remaining'));
  const resetSec = toInt(headers?.get('x-ratelimit-reset'));
  let resetAtMs: number | null = null;
  if (resetSec !== null) {
    const plausible = (ms: number) => ms > now - windowMs && ms <= now + windowMs + 1000;
    const asIs = resetSec * 1000;
    if (plausible(asIs)) resetAtMs = asIs;
    else {
      const serverDate = Date.parse(headers?.get('date') ?? '');
      if (Number.isFinite(serverDate)) {
        const shifted = asIs - (serverDate - now);
        if (plausible(shifted)) resetAtMs = shifted;
      }
    }
  }
  return { limit, remaining, resetAtMs };
}

export function requestIdFrom(headers: HeaderBag, body?: unknown): string | null {
  const fromBody = (body as { request_id?: unknown } | null | undefined)?.request_id;
  if (typeof fromBody === 'string' && fromBody !== '') return fromBody;
  return headers?.get('x-request-id') ?? headers?.get('request-id') ?? null;
}

/** First entry of an `error.list` body, or whatever text came back. */
export function errorDetail(body: unknown): { code: string | undefined; message: string | undefined } {
  if (typeof body === 'string') return { code: undefined, message: body.slice(0, 300) || undefined };
  const first = (body as { errors?: unknown } | null | undefined)?.errors;
  if (Array.isArray(first) && first.length > 0) {
    const e = first[0] as { code?: unknown; message?: unknown };
    return {
      code: typeof e.code === 'string' ? e.code : undefined,
      message: typeof e.message === 'string' ? e.message : undefined,
    };
  }
  return { code: undefined, message: undefined };
}

/** Status of an SDK error: undefined means no answer (timeout, refused, reset, dropped). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof IntercomError) {
    const s = err.statusCode;
    // The SDK reports "no response" as pseudo-statuses 0 and 499 on its raw response; neither came from Intercom.
    return s === undefined || s === 0 || s === 499 ? undefined : s;
  }
  return undefined;
}

export function outcomeOfError(err: unknown, windowMs: number, now = Date.now()): AttemptOutcome {
  const status = statusOf(err);
  const headers = err instanceof IntercomError ? err.rawResponse?.headers : undefined;
  const body = err instanceof IntercomError ? err.body : undefined;
  return {
    status: status ?? null,
    requestId: status === undefined ? null : requestIdFrom(headers, body),
    rate: status === undefined ? { limit: null, remaining: null, resetAtMs: null } : readRateHeaders(headers, windowMs, now),
  };
}

function noAnswerReason(err: unknown): string {
  if (err instanceof IntercomTimeoutError) return 'timeout';
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
    return `${err.message.split('\n')[0] ?? 'no answer'}${code}`;
  }
  return String(err);
}

/**
 * Whether an answer came from Intercom's API rather than something in front of it. Intercom's answers carry an
 * X-Request-Id and an `error.list` body; a load balancer's 403 is an HTML page with neither ("a HTML body - also
 * there are no other usual Intercom response headers (x-request-id, x-ratelimit-limit, etc.)",
 * https://community.intercom.com/api-webhooks-23/api-requests-are-returning-403-4656).
 */
export function isIntercomAnswer(headers: HeaderBag, body: unknown): boolean {
  if (headers?.get('x-request-id') || headers?.get('request-id')) return true;
  const b = body as { type?: unknown; errors?: unknown } | null | undefined;
  return typeof b === 'object' && b !== null && (b.type === 'error.list' || Array.isArray(b.errors));
}

/** Maps one failed attempt to the typed error callers see. */
export function toApiError(err: unknown, ctx: CallContext): IntercomApiError {
  if (err instanceof IntercomApiError) return err;
  const status = statusOf(err);
  const body = err instanceof IntercomError ? err.body : undefined;
  const headers = err instanceof IntercomError ? err.rawResponse?.headers : undefined;
  const { code, message } = errorDetail(body);
  const requestId = status === undefined ? undefined : (requestIdFrom(headers, body) ?? undefined);
  const details = {
    status,
    code,
    requestId,
    method: ctx.method,
    endpoint: ctx.endpoint,
    entity: ctx.entity,
    intercomId: ctx.intercomId,
    externalKey: ctx.externalKey,
  };
  const what =
    status === undefined
      ? `no answer: ${noAnswerReason(err)}`
      : `${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  const text = `Intercom ${ctx.endpoint} failed with ${what}${requestId ? ` (request_id ${requestId})` : ''}`;
  if (status === 401 || status === 403) {
    // Not Intercom speaking (an edge proxy's HTML page): says nothing about our token, and passes like a 5xx.
    if (!isIntercomAnswer(headers, body)) {
      return new IntercomApiError(`${text}; not an Intercom answer (no X-Request-Id, no error body): transient`, { ...details, retryable: true }, { cause: err });
    }
    // `token_unauthorized` names a permission this token lacks for this endpoint only; Intercom answers it as 401 or
    // 403 (unverified which, so both). A 403 from Intercom is likewise about this endpoint. Any other 401 is the
    // token itself ("Access Token Invalid"): nothing will work.
    if (code === 'token_unauthorized' || status === 403) {
      const permission = ctx.permission ?? null;
      const why = permission ? `; the token lacks the "${permission}" permission` : '';
      return new IntercomPermissionError(`${text}${why}`, details, permission, { cause: err });
    }
    return new IntercomAuthError(text, details, { cause: err });
  }
  if (status === 429) return new RateLimitedError(text, details, { cause: err });
  return new IntercomApiError(text, details, { cause: err });
}
