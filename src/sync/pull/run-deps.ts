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
