import fc from 'fast-check';

/**
 * The chaos plan: an interleaving of local writes, remote (Intercom-user) edits, faults and pauses, drawn by
 * fast-check from one seed so a failing run replays exactly (CHAOS_SEED). Targets are indices taken modulo the
 * entities that exist when the step runs, so every drawn plan is executable.
 */
export type ContactField = 'name' | 'plan_name';

export type Step =
  | { kind: 'local-update'; target: number; field: ContactField }
  | { kind: 'remote-update'; target: number; field: ContactField }
  | { kind: 'local-company-update'; target: number }
  | { kind: 'remote-company-update'; target: number }
  | { kind: 'local-create'; withExternalId: boolean }
  | { kind: 'remote-create' }
  | { kind: 'fault'; fault: 'burst-429' | '5xx' | 'drop' }
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
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('local-create' as const), withExternalId: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remote-create' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: fc.constantFrom('burst-429' as const, '5xx' as const, 'drop' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill-daemon' as const), downMs: fc.integer({ min: 0, max: 1_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate-backends' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 50, max: 1_200 }) }) },
);

/** About 25 s of chaos: enough steps to overlap every kind of fault with writes on both sides. */
export const planArbitrary: fc.Arbitrary<Step[]> = fc
  .array(step, { minLength: 45, maxLength: 60 })
  // At least one kill and one backend termination per run, wherever fast-check puts them.
  .chain((steps) =>
    fc.tuple(fc.nat({ max: steps.length }), fc.nat({ max: steps.length }), fc.integer({ min: 0, max: 1_500 })).map(([k, t, downMs]) => {
      const out = [...steps];
      out.splice(k, 0, { kind: 'kill-daemon', downMs });
      out.splice(t, 0, { kind: 'terminate-backends' });
      return out;
    }),
  );
