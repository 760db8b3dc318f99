import { fieldChanges, type Snapshot } from '../snapshot.ts';
import { threeWayMerge, type ConflictPolicy, type FieldConflict } from '../three-way-merge.ts';

export interface Reconciled<S extends Snapshot> {
  /** What the local row should hold after the pull. */
  target: S;
  /** Local row before → after, only changed fields (the audit form). */
  changes: Record<string, { before: unknown; after: unknown }>;
  conflicts: FieldConflict[];
  /**
   * Fields Intercom changed since the base to exactly the value of the pending local change: our own push reached
   * Intercom but its process ended before recording it. Base → remote, for the audit log.
   */
  alreadyPushed: Record<string, { before: unknown; after: unknown }>;
}

/**
 * The pull's decision for one entity (ARCHITECTURE "Snapshots and three-way merge"): without a pending local change
 * the remote state simply replaces the local one; with one, fields are merged against the base snapshot.
 */
export function reconcile<S extends Snapshot>(opts: {
  local: S;
  remote: S;
  base: S | null;
  pendingLocalChange: boolean;
  policy: ConflictPolicy;
  localUpdatedAtMs: number;
  remoteUpdatedAtMs: number;
}): Reconciled<S> {
  if (!opts.pendingLocalChange) {
    return { target: opts.remote, changes: fieldChanges(opts.local, opts.remote), conflicts: [], alreadyPushed: {} };
  }
  const { merged, conflicts } = threeWayMerge({
    base: opts.base,
    local: opts.local,
    remote: opts.remote,
    policy: opts.policy,
    localUpdatedAtMs: opts.localUpdatedAtMs,
    remoteUpdatedAtMs: opts.remoteUpdatedAtMs,
  });
  const alreadyPushed: Record<string, { before: unknown; after: unknown }> = {};
  if (opts.base) {
    const remoteMoved = fieldChanges(opts.base, opts.remote);
    const localDiffers = fieldChanges(opts.local, opts.remote);
    for (const [k, v] of Object.entries(remoteMoved)) if (!(k in localDiffers)) alreadyPushed[k] = v;
  }
  return { target: merged, changes: fieldChanges(opts.local, merged), conflicts, alreadyPushed };
}

/** The subset of `target` that differs from the local row, ready for an UPDATE. */
export function patchOf<S extends Snapshot>(target: S, changes: Record<string, unknown>): Partial<S> {
  const out: Partial<S> = {};
  for (const k of Object.keys(changes) as (keyof S)[]) out[k] = target[k];
  return out;
}
