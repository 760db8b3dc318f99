import { describe, expect, it } from 'vitest';
import { parseSeeds, readRunOutput, renderTable, replaceTable, TABLE_END, TABLE_START } from './seed-table.ts';

describe('npm run chaos: seed ranges and the guarantees table', () => {
  it('parses ranges and lists, each seed once, and refuses nonsense', () => {
    expect(parseSeeds('1-5')).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds('3, 1-2,3,9')).toEqual([3, 1, 2, 9]);
    expect(() => parseSeeds('5-1')).toThrow(/backwards/);
    expect(() => parseSeeds('a')).toThrow(/not a seed/);
    expect(() => parseSeeds('')).toThrow();
  });

  it('reads the settle time and the first problem of a failed run, colours stripped', () => {
    const out = [
      '[chaos] seed 4: initial sync of 160 contacts settled in 3.0 s',
      '\u001b[22m[chaos] seed 4: 50 steps, …; settled in 12.5 s; dead letters 1',
      'Caused by: Error: did not converge (replay with CHAOS_SEED=4):',
      'outbox: dead letter for valid input: contact 9 after 1 attempts: boom | pipe',
      'contact x: missing in Intercom',
    ].join('\n');
    expect(readRunOutput(out)).toEqual({ settledS: 12.5, problem: 'outbox: dead letter for valid input: contact 9 after 1 attempts: boom | pipe' });
    expect(readRunOutput('initial sync did not settle (replay with CHAOS_SEED=2):\n\ncontact a: missing locally\n').problem).toBe('contact a: missing locally');
    expect(readRunOutput('[chaos] seed 1: 3 steps; settled in 0.0 s; dead letters 0\n ✓ converges').problem).toBeNull();
  });

  it('replaces the table between the markers and nothing else', () => {
    const t1 = renderTable([{ seed: 1, passed: false, wallMs: 61_000, settledS: null, problem: 'a | b' }], {
      date: '2026-12-01',
      commit: 'abc',
      command: 'npm run chaos -- --seeds 1-2',
      planned: 2,
    });
    expect(t1).toContain('0 of 1 passed** (1 of 2 seeds run so far)');
    expect(t1).toContain('| 1 | **fail** | 61 | — | a \\| b |');
    const doc = replaceTable('# Title\n\nbefore\n', t1);
    expect(doc.startsWith('# Title\n\nbefore\n\n' + TABLE_START)).toBe(true);
    const t2 = renderTable([{ seed: 7, passed: true, wallMs: 30_000, settledS: 4, problem: null }], {
      date: '2026-12-02',
      commit: 'def',
      command: 'npm run chaos -- --seeds 7',
      planned: 1,
    });
    const doc2 = replaceTable(`${doc}after\n`, t2);
    expect(doc2).toBe(`# Title\n\nbefore\n\n${t2}\nafter\n`);
    expect(doc2.split(TABLE_START)).toHaveLength(2);
    expect(doc2.split(TABLE_END)).toHaveLength(2);
    expect(doc2).not.toContain('seed 1');
  });
});
