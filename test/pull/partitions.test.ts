import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttributeRegistry } from '../../src/simulator/attributes.ts';
import type { ContactData } from '../../src/simulator/model.ts';
import { compileQuery } from '../../src/simulator/search-query.ts';
import { startOfLocalDay as simStartOfDay } from '../../src/simulator/timezone.ts';
import { partitionQuery, splitPartition, type Partition } from '../../src/sync/pull/partitions.ts';

// Partitions are judged by the simulator's own search (its independent copy of Intercom's day semantics), not by
// the code that built them: every record the parent query matches must be matched by exactly one part.
const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Santiago', 'Australia/Lord_Howe', 'Pacific/Apia', 'Asia/Kathmandu'];
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const attributes = new AttributeRegistry(() => 0);
const HEX = '0123456789abcdef';

function record(id: string, field: Partition['field'], t: number): ContactData {
  return { id, created_at: t, updated_at: t } as unknown as ContactData;
}

/** The parent's own query; a partition open on both sides matches everything. */
function matcher(p: Partition, tz: string): (c: ContactData) => boolean {
  const q = partitionQuery(p);
  return q === null ? () => true : compileQuery(q, attributes, tz);
}

describe('search partitions', () => {
  it(`split into parts that are disjoint and cover the parent exactly, at day boundaries in any time zone (seed ${SEED})`, () => {
    const day = 86_400;
    const arb = fc.record({
      tz: fc.constantFrom(...ZONES),
      field: fc.constantFrom('created_at' as const, 'updated_at' as const),
      base: fc.integer({ min: 1_500_000_000, max: 1_850_000_000 }),
      spanDays: fc.integer({ min: 0, max: 400 }),
      parts: fc.integer({ min: 2, max: 12 }),
      openFrom: fc.boolean(),
      openTo: fc.boolean(),
      // Records on and around local midnights (±2 s), and anywhere.
      offsets: fc.array(fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: 0, max: day - 1 })), { minLength: 1, maxLength: 40 }),
      dayPicks: fc.array(fc.integer({ min: -2, max: 402 }), { minLength: 1, maxLength: 40 }),
      suffixes: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 40 }),
      depth: fc.integer({ min: 1, max: 2 }),
      // A descending page's oldest record (denseFrom), days into the span, or none; and the partition's page count.
      denseDay: fc.option(fc.integer({ min: -2, max: 402 })),
      denseOffset: fc.integer({ min: -2, max: day - 1 }),
      pages: fc.option(fc.integer({ min: 1, max: 200 })),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const from = simStartOfDay(a.base, a.tz);
        const to = simStartOfDay(from + a.spanDays * day + 3 * 3600, a.tz);
        const parent: Partition = { field: a.field, from: a.openFrom ? null : from, to: a.openTo || to <= from ? null : to, suffix: '' };
        // Leaves of a random split tree: day ranges first, id suffixes once a part is a single day.
        let leaves: Partition[] = [parent];
        for (let d = 0; d < a.depth; d++) {
          const dense = a.denseDay === null ? {} : { denseFrom: simStartOfDay(from + a.denseDay * day, a.tz) + a.denseOffset };
          const pages = a.pages === null ? {} : { pages: a.pages };
          leaves = leaves.flatMap((p) => splitPartition(p, a.parts, { lo: from, hi: to, timezone: a.tz, hexIds: true, ...dense, ...pages }) ?? [p]);
        }
        const matchers = leaves.map((p) => matcher(p, a.tz));
        const inParent = matcher(parent, a.tz);
        for (let i = 0; i < a.offsets.length; i++) {
          const dayStart = simStartOfDay(from + (a.dayPicks[i % a.dayPicks.length]! * day), a.tz);
          const t = dayStart + a.offsets[i]!;
          const id = `${'0'.repeat(21)}${HEX[a.suffixes[i % a.suffixes.length]!]!}${HEX[i % 16]!}${HEX[(i * 7) % 16]!}`;
          const c = record(id, a.field, t);
          const hits = matchers.filter((m) => m(c)).length;
          expect(hits, `${a.tz} t=${t} ${leaves.length} parts`).toBe(inParent(c) ? 1 : 0);
        }
      }),
      { numRuns: 150, seed: SEED },
    );
  });

  it('cuts a single day by id suffix only when ids are hex, and never past three digits', () => {
    const tz = 'Asia/Kolkata';
    const from = simStartOfDay(1_750_000_000, tz);
    const oneDay: Partition = { field: 'updated_at', from, to: simStartOfDay(from + 30 * 3600, tz), suffix: '' };
    expect(splitPartition(oneDay, 8, { lo: from, hi: from, timezone: tz, hexIds: false })).toBeNull();
    const parts = splitPartition(oneDay, 8, { lo: from, hi: from, timezone: tz, hexIds: true })!;
    expect(parts.map((p) => p.suffix)).toEqual([...HEX]);
    expect(splitPartition({ ...oneDay, suffix: 'abc' }, 8, { lo: from, hi: from, timezone: tz, hexIds: true })).toBeNull();
  });
});
