import type { Logger } from '../../logger.ts';
import type { ApplyContext } from './apply-context.ts';
import type { PullGatewayPort, PullStorePort } from './ports.ts';

/** What one run's helpers share: the counted gateway, the store and the apply context. */
export interface RunDeps {
  gateway: PullGatewayPort;
  store: PullStorePort;
  ctx: ApplyContext;
  logger: Logger;
  /** Requests to keep in flight for this run's searches (the gateway's Little's-law target). */
  inFlight: () => number;
  /** The workspace time zone (where Intercom's search days begin), kept in sync_state. */
  timezone: () => Promise<string>;
}

export function isNotFound(err: unknown): boolean {
  return (err as { status?: unknown } | null)?.status === 404;
}

/**
 * A list or search cursor Intercom no longer accepts: 400 "Invalid starting_after param. Please try again using a
 * starting_after value from a paginated response" (https://developers.intercom.com/docs/references/2.4/rest-api/contacts/list-contacts/,
 * "Example Errors"). Cursors go stale after a while idle; the pass restarts from its last committed position.
 */
export function isExpiredCursor(err: unknown): boolean {
  const e = err as { status?: unknown; message?: unknown } | null;
  return e?.status === 400 && typeof e.message === 'string' && /starting_after/i.test(e.message);
}

/** How many times one pass restarts on an expired cursor before the run fails (and the next run starts afresh). */
export const MAX_CURSOR_RESTARTS = 5;
