import { same, type Snapshot } from './snapshot.ts';

export type ConflictPolicy = 'newest_wins' | 'local_wins' | 'remote_wins';

export interface FieldConflict {
  /** Top-level field, or `custom_attributes.<key>`: custom attributes merge key by key. */
  field: string;
  base: unknown;
  local: unknown;
  remote: unknown;
  winner: 'local' | 'remote';
}

export interface MergeInput<S extends Snapshot> {
  /** Last agreed state; null when the two sides were never linked (every difference is then a conflict). */
  base: S | null;
  local: S;
  remote: S;
  policy: ConflictPolicy;
  /** Unix milliseconds of the last local write and of the remote update, for newest_wins. */
  localUpdatedAtMs: number;
  remoteUpdatedAtMs: number;
}

export interface MergeResult<S extends Snapshot> {
  merged: S;
  conflicts: FieldConflict[];
}


/**
 * Field-by-field three-way merge for an entity with a pending local change: a side that left a field at its base
 * value yields to the side that changed it; when both changed it to different values the policy decides.
 */
export function threeWayMerge<S extends Snapshot>(input: MergeInput<S>): MergeResult<S> {
  const { base, local, remote } = input;
  const conflicts: FieldConflict[] = [];
  // Ties go to Intercom: its timestamps are whole seconds, so "same second" cannot tell which came last.
  const newestSide: 'local' | 'remote' =
    input.policy === 'local_wins'
      ? 'local'
      : input.policy === 'remote_wins'
        ? 'remote'
        : input.localUpdatedAtMs > input.remoteUpdatedAtMs
          ? 'local'
          : 'remote';

  const pick = (field: string, b: unknown, l: unknown, r: unknown, hasBase: boolean): unknown => {
    if (same(l, r)) return r;
    if (hasBase && same(l, b)) return r;
    if (hasBase && same(r, b)) return l;
    conflicts.push({ field, base: hasBase ? (b ?? null) : null, local: l ?? null, remote: r ?? null, winner: newestSide });
    return newestSide === 'local' ? l : r;
  };

  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(remote) as (keyof S & string)[]) {
    if (key === 'custom_attributes') {
      merged[key] = mergeAttributes(
        (base?.[key] as Record<string, unknown> | undefined) ?? null,
        local[key] as Record<string, unknown>,
        remote[key] as Record<string, unknown>,
        pick,
      );
      continue;
    }
    merged[key] = pick(key, base?.[key], local[key], remote[key], base !== null);
  }
  return { merged: merged as S, conflicts };
}

function mergeAttributes(
  base: Record<string, unknown> | null,
  local: Record<string, unknown>,
  remote: Record<string, unknown>,
  pick: (field: string, b: unknown, l: unknown, r: unknown, hasBase: boolean) => unknown,
): Record<string, unknown> {
  const keys = [...new Set([...Object.keys(base ?? {}), ...Object.keys(local), ...Object.keys(remote)])].sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    // An absent key is the same as null (snapshots drop nulls), so "removed" is just another value.
    const v = pick(`custom_attributes.${k}`, base?.[k], local[k], remote[k], base !== null);
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}
