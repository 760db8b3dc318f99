/**
 * Intercom's clock, as its answers tell it. Every HTTP answer from an origin server with a clock carries a Date header
 * (RFC 9110 §6.6.1, https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1): the gateway notes the offset between it
 * and this process's clock on each answer, so the pull can tell a record's updated_at that lies ahead of Intercom's
 * own now (a bad import, a skewed writer) from one that is merely newer than this host's clock.
 */

export interface ServerClock {
  /** Unix ms: Intercom's now, as the latest answer's Date header puts it; this process's clock until one arrives. */
  nowMs: number;
  /** Where nowMs comes from: 'intercom' once an answer carried a readable Date header, else 'local'. */
  source: 'intercom' | 'local';
}

type HeaderBag = { get(name: string): string | null } | undefined;

export class ServerClockTracker {
  /** Intercom's Date minus this process's clock when the answer arrived; null before any readable Date. */
  private offsetMs: number | null = null;

  constructor(private readonly localNow: () => number = Date.now) {}

  /** Notes the Date header of one answer (any status). An answer without one leaves the last offset in place. */
  observe(headers: HeaderBag): void {
    const raw = headers?.get('date');
    if (!raw) return;
    const serverMs = Date.parse(raw);
    if (!Number.isFinite(serverMs)) return;
    this.offsetMs = serverMs - this.localNow();
  }

  read(): ServerClock {
    const local = this.localNow();
    return this.offsetMs === null ? { nowMs: local, source: 'local' } : { nowMs: local + this.offsetMs, source: 'intercom' };
  }
}
