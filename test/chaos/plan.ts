import fc from 'fast-check';

/**
 * The chaos plan: an interleaving of local writes, remote (Intercom-user) edits, faults and pauses, drawn by
 * fast-check from one seed so a failing run replays exactly (CHAOS_SEED). Targets are indices taken modulo the
 * entities that exist when the step runs, so every drawn plan is executable.
 */
export type ContactField = 'name' | 'plan_name';

/**
 * Faults on top of the realistic profile's own harshness:
 * - `burst-429`, `5xx`, `drop`: refused before Intercom handles the request (nothing applied);
 * - `lost-create`: POST /contacts applied, then the connection dropped (or a 502 answered) — a blind retry of
 *   the create would duplicate the contact (docs/simulator.md, "Lost answers");
 * - `lost-put`: PUT /contacts/{id} applied at once, its answer held past INTERCOM_TIMEOUT_SECONDS (`after_apply`);
 * - `late-put`: PUT /contacts/{id} held past the client's timeout and applied only then, possibly after a newer
 *   PUT succeeded (the late write must be recognised as our echo, not a remote edit: docs/guarantees.md,
 *   "Late writes").
 */
export type FaultKind = 'burst-429' | '5xx' | 'drop' | 'lost-create' | 'lost-put' | 'late-put';

export type Step =
  | { kind: 'local-update'; target: number; field: ContactField }
  | { kind: 'remote-update'; target: number; field: ContactField }
  | { kind: 'local-company-update'; target: number }
  | { kind: 'remote-company-update'; target: number }
  | { kind: 'local-create'; role: 'user' | 'lead'; withExternalId: boolean }
  | { kind: 'remote-create' }
  /** Hard DELETE of a user row with an external_id, then (after gapMs) INSERT of a new row with the same key. */
  | { kind: 'local-recreate'; target: number; gapMs: number }
  /** UPDATE … SET deleted_at = now(). */
  | { kind: 'local-soft-delete'; target: number }
  /** A soft-deleted row comes back: UPDATE … SET deleted_at = NULL. */
  | { kind: 'local-undelete'; target: number }
  | { kind: 'fault'; fault: FaultKind }
  /** For `ms`, every list/search cursor and scroll_param handed out counts as expired. */
  | { kind: 'idle-expiry'; ms: number }
  | { kind: 'kill-daemon'; downMs: number }
  | { kind: 'terminate-backends' }
  | { kind: 'pause'; ms: number };

const target = fc.nat({ max: 1_000 });
const field = fc.constantFrom<ContactField>('name', 'plan_name');

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('local-update' as const), target, field }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('remote-update' as const), target, field }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('local-company-update' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remote-company-update' as const), target }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('local-create' as const), role: fc.constant('user' as const), withExternalId: fc.boolean() }),
      // Leads carry an email only: Intercom does not deduplicate them, so a retried create would be a second lead.
      fc.record({ kind: fc.constant('local-create' as const), role: fc.constant('lead' as const), withExternalId: fc.constant(false) }),
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remote-create' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('local-recreate' as const), target, gapMs: fc.integer({ min: 0, max: 2_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('local-soft-delete' as const), target }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('local-undelete' as const), target }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      fault: fc.constantFrom<FaultKind>('burst-429', '5xx', 'drop', 'lost-create', 'lost-put', 'late-put'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('idle-expiry' as const), ms: fc.integer({ min: 500, max: 2_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill-daemon' as const), downMs: fc.integer({ min: 0, max: 1_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate-backends' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 50, max: 1_200 }) }) },
);

/**
 * About 30 s of chaos: enough steps to overlap every kind of fault with writes on both sides. Every plan holds at
 * least one kill, one backend termination, one lost create answer, one late PUT, one re-create, one soft delete
 * and one lead created locally, wherever fast-check puts them.
 */
const mandatory: Step[] = [
  { kind: 'terminate-backends' },
  { kind: 'fault', fault: 'lost-create' },
  { kind: 'fault', fault: 'late-put' },
  { kind: 'fault', fault: 'lost-put' },
  { kind: 'local-create', role: 'lead', withExternalId: false },
  { kind: 'local-soft-delete', target: 0 },
];

export const planArbitrary: fc.Arbitrary<Step[]> = fc
  .array(step, { minLength: 45, maxLength: 60 })
  .chain((steps) =>
    fc
      .tuple(
        fc.array(fc.nat({ max: steps.length }), { minLength: mandatory.length + 2, maxLength: mandatory.length + 2 }),
        fc.integer({ min: 0, max: 1_500 }),
        target,
        target,
        fc.integer({ min: 0, max: 2_500 }),
      )
      .map(([at, downMs, softTarget, recreateTarget, gapMs]) => {
        const out = [...steps];
        const extra: Step[] = [
          ...mandatory.map((s) => (s.kind === 'local-soft-delete' ? { ...s, target: softTarget } : s)),
          { kind: 'kill-daemon', downMs },
          { kind: 'local-recreate', target: recreateTarget, gapMs },
        ];
        extra.forEach((s, j) => out.splice(Math.min(at[j]!, out.length), 0, s));
        return out;
      }),
  );
