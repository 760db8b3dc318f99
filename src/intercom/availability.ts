/**
 * What the gateway knows about reaching Intercom, and the rules that follow from it:
 * - a token refused everywhere (401 that is not `token_unauthorized`) halts every call; GET /me probes it again on a
 *   back-off, so a restored token recovers without a restart;
 * - an endpoint refused for a missing permission is disabled alone; one call probes it again on a back-off;
 * - no answer, 5xx and answers that did not come from Intercom (an edge proxy's HTML 403) start an outage clock that
 *   the next answer from Intercom stops; readiness and a metric report outages longer than a threshold.
 * Refusals raised here name the request the caller was about to send, and the refusal that caused them.
 */
import { IntercomAuthError, IntercomPermissionError } from '../errors.ts';

export interface EndpointDenial {
  /** 'POST /contacts', or '*' for the token itself. */
  endpoint: string;
  status: number | null;
  code: string | null;
  permission: string | null;
  message: string;
  requestId: string | null;
  since: Date;
  lastSeenAt: Date;
  nextProbeAt: Date;
}

export interface IntercomAvailability {
  /** The token is refused everywhere: nothing is sent but the GET /me probe. */
  halted: EndpointDenial | null;
  /** Endpoints refused for a missing permission while the token works elsewhere. */
  denied: EndpointDenial[];
  /** Start of the current run of transient failures with no answer from Intercom in between; null = reachable. */
  unreachableSince: Date | null;
}

export type AccessChange = { kind: 'denied'; denial: EndpointDenial } | { kind: 'cleared'; endpoint: string };

export interface AvailabilityOptions {
  /** First re-probe after a refusal; doubles per refusal up to probeCapMs. */
  probeBaseMs: number;
  probeCapMs: number;
  now?: () => number;
  onChange?: (c: AccessChange) => void;
}

export const TOKEN = '*';

type Gate = { kind: 'send'; probe: boolean } | { kind: 'refuse'; error: Error } | { kind: 'probe-token' };

export class Availability {
  private halt: (EndpointDenial & { refusals: number; error: IntercomAuthError }) | null = null;
  private readonly denials = new Map<string, EndpointDenial & { refusals: number; probing: boolean }>();
  private unreachableSince: number | null = null;
  /** Endpoints answered 2xx since start: a row a previous process left in Postgres is cleared on the first one. */
  private readonly confirmed = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly opts: AvailabilityOptions) {
    this.now = opts.now ?? Date.now;
  }

  snapshot(): IntercomAvailability {
    const strip = <T extends EndpointDenial>(d: T): EndpointDenial => ({
      endpoint: d.endpoint,
      status: d.status,
      code: d.code,
      permission: d.permission,
      message: d.message,
      requestId: d.requestId,
      since: d.since,
      lastSeenAt: d.lastSeenAt,
      nextProbeAt: d.nextProbeAt,
    });
    return {
      halted: this.halt ? strip(this.halt) : null,
      denied: [...this.denials.values()].map(strip),
      unreachableSince: this.unreachableSince === null ? null : new Date(this.unreachableSince),
    };
  }

  authError(): IntercomAuthError | null {
    return this.halt?.error ?? null;
  }

  /** Seconds Intercom has been unreachable (0 when it answers). */
  unreachableSeconds(): number {
    return this.unreachableSince === null ? 0 : Math.max(0, (this.now() - this.unreachableSince) / 1000);
  }

  /** Decides whether a call to `endpoint` may leave now. `isProbe` is true for GET /me, the token's probe. */
  gate(endpoint: string, method: string, isProbe: boolean): Gate {
    const now = this.now();
    if (this.halt) {
      if (now < this.halt.nextProbeAt.getTime()) return { kind: 'refuse', error: this.haltRefusal(endpoint, method) };
      return isProbe ? { kind: 'send', probe: true } : { kind: 'probe-token' };
    }
    const d = this.denials.get(endpoint);
    if (!d) return { kind: 'send', probe: false };
    if (d.probing || now < d.nextProbeAt.getTime()) return { kind: 'refuse', error: this.denialRefusal(d, method) };
    // One caller re-tries the endpoint; the others keep being refused until it knows.
    d.probing = true;
    return { kind: 'send', probe: true };
  }

  haltRefusal(endpoint: string, method: string): IntercomAuthError {
    const h = this.halt!;
    return new IntercomAuthError(
      `Intercom ${endpoint} not sent: Intercom refuses the access token since ${h.since.toISOString()} ` +
        `(${h.message}); next check with GET /me at ${h.nextProbeAt.toISOString()}`,
      { status: h.status ?? undefined, code: h.code ?? undefined, requestId: undefined, method, endpoint },
    );
  }

  private denialRefusal(d: EndpointDenial, method: string): IntercomPermissionError {
    return new IntercomPermissionError(
      `Intercom ${d.endpoint} not sent: refused for a missing permission since ${d.since.toISOString()}` +
        `${d.permission ? ` (needs "${d.permission}")` : ''}: ${d.message}; next try at ${d.nextProbeAt.toISOString()}`,
      { status: d.status ?? undefined, code: d.code ?? undefined, requestId: undefined, method, endpoint: d.endpoint },
      d.permission,
    );
  }

  private backoff(refusals: number): number {
    return Math.min(this.opts.probeCapMs, this.opts.probeBaseMs * 2 ** Math.min(refusals - 1, 20));
  }

  /** Intercom answered (any status with Intercom's headers or body): it is reachable. 2xx also clears a denial. */
  answered(endpoint: string, ok: boolean): void {
    this.unreachableSince = null;
    if (!ok) return;
    if (!this.halt && !this.confirmed.has(TOKEN)) {
      this.confirmed.add(TOKEN);
      this.emit({ kind: 'cleared', endpoint: TOKEN });
    }
    const d = this.denials.get(endpoint);
    if (d) {
      this.denials.delete(endpoint);
      this.emit({ kind: 'cleared', endpoint });
    } else if (!this.confirmed.has(endpoint)) {
      this.emit({ kind: 'cleared', endpoint });
    }
    this.confirmed.add(endpoint);
  }

  /** No answer, a 5xx, or an answer not from Intercom. */
  unanswered(): void {
    this.unreachableSince ??= this.now();
  }

  /** A probe that failed without an answer leaves the endpoint as it was, free for the next caller to try. */
  probeUnsettled(endpoint: string): void {
    const d = this.denials.get(endpoint);
    if (d) d.probing = false;
  }

  denied(err: IntercomPermissionError): void {
    const now = this.now();
    const prev = this.denials.get(err.endpoint);
    const refusals = (prev?.refusals ?? 0) + 1;
    const d = {
      endpoint: err.endpoint,
      status: err.status ?? null,
      code: err.code ?? null,
      permission: err.permission,
      message: err.message,
      requestId: err.requestId ?? null,
      since: prev?.since ?? new Date(now),
      lastSeenAt: new Date(now),
      nextProbeAt: new Date(now + this.backoff(refusals)),
      refusals,
      probing: false,
    };
    this.denials.set(err.endpoint, d);
    this.confirmed.delete(err.endpoint);
    this.emit({ kind: 'denied', denial: d });
  }

  halted(err: IntercomAuthError): void {
    const now = this.now();
    const refusals = (this.halt?.refusals ?? 0) + 1;
    this.halt = {
      endpoint: TOKEN,
      status: err.status ?? null,
      code: err.code ?? null,
      permission: null,
      message: this.halt?.message ?? err.message,
      requestId: err.requestId ?? null,
      since: this.halt?.since ?? new Date(now),
      lastSeenAt: new Date(now),
      nextProbeAt: new Date(now + this.backoff(refusals)),
      refusals,
      error: this.halt?.error ?? err,
    };
    this.emit({ kind: 'denied', denial: this.halt });
  }

  /** GET /me was accepted: the token works again. */
  tokenAccepted(): void {
    if (!this.halt) return;
    this.halt = null;
    this.emit({ kind: 'cleared', endpoint: TOKEN });
  }

  private emit(c: AccessChange): void {
    try {
      this.opts.onChange?.(c);
    } catch {
      // An observer (metrics, Postgres) must never break a call.
    }
  }
}
