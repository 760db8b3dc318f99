/**
 * The small error vocabulary of intercom-sync. Every error an operator may see carries what they need to act:
 * the entity, its ids, Intercom's request_id and status, and whether retrying can help (`retryable`, set here from
 * the HTTP status so the gateway's retry loop and the push's verdict in src/sync/push/failures.ts agree).
 */

export type EntityKind = 'contact' | 'company' | 'contact_company';

export abstract class SyncError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One or more environment variables are missing or invalid. Lists every offender, never their secret values. */
export class ConfigError extends SyncError {
  readonly retryable = false;
  constructor(readonly issues: readonly { variable: string; problem: string }[]) {
    super(
      `Invalid configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.problem}`).join('\n')}`,
    );
  }
}

export interface IntercomErrorDetails {
  status: number | undefined;
  code: string | undefined;
  requestId: string | undefined;
  method: string;
  endpoint: string;
  entity?: EntityKind | undefined;
  intercomId?: string | undefined;
  externalKey?: string | undefined;
  /** Overrides the status-based verdict: an HTML 403 from a load balancer is transient although 403 is not. */
  retryable?: boolean | undefined;
}

/** A non-2xx answer (or no answer) from Intercom. */
export class IntercomApiError extends SyncError {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly endpoint: string;
  readonly entity: EntityKind | undefined;
  readonly intercomId: string | undefined;
  readonly externalKey: string | undefined;
  readonly retryable: boolean;

  constructor(message: string, details: IntercomErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.method = details.method;
    this.endpoint = details.endpoint;
    this.entity = details.entity;
    this.intercomId = details.intercomId;
    this.externalKey = details.externalKey;
    this.retryable = details.retryable ?? isRetryableStatus(details.status);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      requestId: this.requestId,
      method: this.method,
      endpoint: this.endpoint,
      entity: this.entity,
      intercomId: this.intercomId,
      externalKey: this.externalKey,
      retryable: this.retryable,
    };
  }
}

/** 429 after our own retries ran out. */
export class RateLimitedError extends IntercomApiError {}

/**
 * 401 on everything: Intercom refuses the token itself. Every call stops until a probe (GET /me) is accepted again;
 * retrying one call cannot help.
 */
export class IntercomAuthError extends IntercomApiError {
  override readonly retryable = false;
}

/**
 * One endpoint refused for a missing permission (`token_unauthorized`, 401 or 403 with Intercom's error body) while
 * the token works elsewhere. Only the work that needs this endpoint waits; the gateway probes it again on a back-off.
 * https://community.intercom.com/messages-series-11/messages-api-endpoint-access-8951
 */
export class IntercomPermissionError extends IntercomApiError {
  override readonly retryable = false;
  constructor(
    message: string,
    details: IntercomErrorDetails,
    /** The Intercom permission the endpoint needs, as the Developer Hub names it; null when we do not know it. */
    readonly permission: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), permission: this.permission };
  }
}

/** Intercom answered 2xx with a body we could not parse into the shape we rely on. */
export class IntercomPayloadError extends SyncError {
  readonly retryable = true;
  constructor(
    message: string,
    readonly endpoint: string,
    readonly requestId: string | undefined,
    options?: { cause?: unknown; identity?: RecordIdentity | null },
  ) {
    super(message, options);
    this.identity = options?.identity ?? null;
  }
  /** What could still be read of the record (its id above all), when the body was an object with an id. */
  readonly identity: RecordIdentity | null;
}

/** The identity fields of a record whose full shape did not parse (payloads.ts readableIdentity). */
export interface RecordIdentity {
  id: string;
  externalId: string | null;
  email: string | null;
  updatedAt: number | null;
  /** Present only when readable (a role the 2.14 description lists; a boolean). */
  role?: 'user' | 'lead';
  archived?: boolean;
}

/** The shared (Redis) rate limiter cannot be reached: no request may leave, but the next tick may succeed. */
export class RateLimiterUnavailableError extends SyncError {
  readonly retryable = true;
}

/** A local row Intercom would reject: names the row and the field so the operator can fix it. */
export class ValidationError extends SyncError {
  readonly retryable = false;
  constructor(
    readonly entity: EntityKind,
    readonly localId: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${entity} ${localId}: ${field} ${problem}`);
  }
}

/** Two identities claim one entity and we refuse to guess (several candidates for one external key). */
export class AmbiguousIdentityError extends SyncError {
  readonly retryable = false;
  constructor(
    readonly entity: EntityKind,
    readonly localId: string,
    readonly candidates: readonly string[],
    reason: string,
  ) {
    super(`${entity} ${localId}: ${reason} (candidates: ${candidates.join(', ')})`);
  }
}

const RETRYABLE_HTTP = new Set([408, 425, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number | undefined): boolean {
  // No status means no answer at all: timeout, reset or refused connection. Those are worth another try.
  return status === undefined || RETRYABLE_HTTP.has(status);
}

/** Error codes of a connection that was never established: the request cannot have left this host. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/**
 * Whether Intercom may have applied (or may still apply) a write that ended in this error. Only answers that prove
 * the contrary say no: a 4xx (Intercom refused it; 429 included) or a connection that was never established. A
 * timeout, a dropped connection and a 5xx may all come after the write was applied, and a 2xx whose body we could not
 * read certainly was (a request the client gave up on is still executed by the server, and Intercom takes no
 * idempotency key: docs/guarantees.md, "Writes in doubt").
 */
export function writeMayHaveApplied(err: unknown): boolean {
  if (err instanceof IntercomPayloadError) return true;
  if (!(err instanceof IntercomApiError)) return false;
  if (err.status !== undefined) return err.status >= 500;
  return !causeCodes(err).some((c) => NOT_SENT_CODES.has(c));
}

/** The SQLSTATE of a pg error; drizzle wraps pg errors, so the cause chain is searched too. */
export function pgCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A sync_state row whose saved progress this version cannot read: names the stream and how to start it over. */
export class SyncStateError extends SyncError {
  readonly retryable = false;
  constructor(
    readonly stream: string,
    readonly problem: string,
    readonly remedy: string,
  ) {
    super(`sync_state row ${stream}: ${problem}; ${remedy}`);
  }
}
