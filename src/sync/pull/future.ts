/**
 * Records from the future. A watermark is the newest remote updated_at committed, and the next search starts just
 * below it: one contact stamped in the year 2100 (a bad import, a writer with a broken clock) would put the window
 * there, and no change made at today's dates would ever be pulled again while every run said "succeeded".
 *
 * So an updated_at later than Intercom's own now (the Date header of its answers, ServerClock) plus FUTURE_SKEW_SECONDS
 * cannot be believed. Such a record is recorded `invalid` with its value, and not applied: its updated_at is what
 * newest_wins, stale-read detection and the watermark all compare, and none of them can use this one. The rest of its
 * page is applied, and a watermark moves only as far as the newest believable updated_at. The next edit of that
 * record in Intercom stamps the edit's real time, and the pull then brings it in like any other change.
 *
 * A watermark already stored beyond the limit (written before this rule) is lowered when it is read: see
 * loadWatermark.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { StreamState } from '../../db/queries/sync-state.ts';
import type { Logger } from '../../logger.ts';
import { pullAudit, type ApplyContext } from './apply-context.ts';
import type { PullGatewayPort, PullStorePort } from './ports.ts';

/**
 * How far a remote updated_at may lie ahead of Intercom's now and still be believed: the Date header's whole seconds,
 * the answer's latency and clock drift between Intercom's own servers fit well inside it. Five minutes ahead is a
 * clock disagreement; a year ahead is not a time any edit happened at.
 */
export const FUTURE_SKEW_SECONDS = 300;

/** Unix seconds: the latest updated_at believed now (Intercom's now plus the skew). */
export function futureLimit(gateway: Pick<PullGatewayPort, 'serverClock'>): number {
  return Math.floor(gateway.serverClock().nowMs / 1000) + FUTURE_SKEW_SECONDS;
}

export function isFromFuture(updatedAt: number, limit: number): boolean {
  return updatedAt > limit;
}

/** The newest of these updated_at values that can be believed, and never less than `floor`. */
export function newestBelieved(stamps: Iterable<number>, limit: number, floor: number): number {
  let newest = floor;
  for (const t of stamps) if (t <= limit && t > newest) newest = t;
  return newest;
}

const iso = (unixSeconds: number) => {
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? String(unixSeconds) : d.toISOString();
};

/** The `invalid` audit row of a future-dated record: its value, the clock it was checked against and why. */
export function futureAudit(
  ctx: ApplyContext,
  r: { entity: 'contact' | 'company'; intercomId: string; localId: number | null; externalKey: string | null; updatedAt: number; limit: number },
): AuditEntry {
  const serverNow = r.limit - FUTURE_SKEW_SECONDS;
  const reason =
    `updated_at ${iso(r.updatedAt)} is more than ${FUTURE_SKEW_SECONDS} s ahead of Intercom's clock (${iso(serverNow)}): ` +
    'not applied, and no watermark moves past it; an edit in Intercom stamps a real time and brings the record in';
  return pullAudit(ctx, {
    entityType: r.entity,
    localId: r.localId,
    intercomId: r.intercomId,
    externalKey: r.externalKey,
    action: 'invalid',
    details: {
      // The key invalidAlreadyAudited looks up: one row per remote version, however often the record is read again.
      remote_updated_at: r.updatedAt,
      remote_updated_at_iso: iso(r.updatedAt),
      server_now: iso(serverNow),
      skew_seconds: FUTURE_SKEW_SECONDS,
      reason,
      error: `Intercom record from the future: ${reason}`,
    },
  });
}

export interface LoadedWatermark {
  /** The stream's watermark, lowered if it lay in the future; null when there is none. */
  watermark: Date | null;
  /** Set when the stored watermark was lowered. */
  repaired: { from: string; to: string } | null;
}

/**
 * Reads a pull stream's watermark. One stored beyond Intercom's now plus the skew (written before the rule above, or
 * while this host's clock was ahead) is lowered, logged and noted in the stream's details before it is used. It goes
 * back to when it was written (the row's updated_at), not to now: the pull that wrote it had read what existed up to
 * then, and since then every search started past it, so the changes made after it were never read. The next window
 * starts one lookback before that and reads them. Lowering a watermark only costs a re-read; records already held come
 * back unchanged.
 */
export async function loadWatermark(
  d: { gateway: Pick<PullGatewayPort, 'serverClock'>; store: Pick<PullStorePort, 'getStream' | 'setStream'>; logger: Logger },
  stream: string,
): Promise<LoadedWatermark> {
  const state: StreamState | null = await d.store.getStream(stream);
  const watermark = state?.watermark ?? null;
  if (!state || !watermark) return { watermark: null, repaired: null };
  const limit = futureLimit(d.gateway);
  const stored = Math.floor(watermark.getTime() / 1000);
  if (!isFromFuture(stored, limit)) return { watermark, repaired: null };
  const serverNow = limit - FUTURE_SKEW_SECONDS;
  const to = Math.min(serverNow, Math.floor(state.updated_at.getTime() / 1000));
  const repaired = { from: iso(stored), to: iso(to) };
  d.logger.warn(
    { stream, watermark: repaired.from, lowered_to: repaired.to, server_now: iso(serverNow), skew_seconds: FUTURE_SKEW_SECONDS },
    'stored watermark lies in the future: lowered to when it was written, so the changes made since are pulled',
  );
  await d.store.setStream(stream, {
    watermark: new Date(to * 1000),
    details: { watermark_repaired: { ...repaired, at: iso(serverNow) } },
  });
  return { watermark: new Date(to * 1000), repaired };
}
