import type { Logger } from '../../logger.ts';
import type { ApplyContext } from './apply-context.ts';
import type { PullGatewayPort, PullStorePort } from './ports.ts';

/** What one run's helpers share: the counted gateway, the store and the apply context. */
export interface RunDeps {
  gateway: PullGatewayPort;
  store: PullStorePort;
  ctx: ApplyContext;
  logger: Logger;
}

export function isNotFound(err: unknown): boolean {
  return (err as { status?: unknown } | null)?.status === 404;
}
