import { describe, expect, it } from 'vitest';
import { EMAIL_REFUSED_CLASS_JS, EMAIL_REFUSED_RANGES } from '../../src/email-shape.ts';

/**
 * The refused characters are spelled out as code point ranges because Postgres has no \p{…}. This holds the list to
 * Unicode's categories Cc, Cf, Zs, Zl and Zp as the running Node knows them: a Unicode update that adds a format
 * character fails here, naming it, instead of letting it through unnoticed.
 */
const CATEGORIES = /[\p{Cc}\p{Cf}\p{Z}]/u;
const refusedRe = new RegExp(EMAIL_REFUSED_CLASS_JS, 'u');

describe('the refused email characters', () => {
  it(`are exactly Unicode's Cc, Cf, Zs, Zl and Zp (Unicode ${process.versions.unicode})`, () => {
    const inList = (cp: number) => EMAIL_REFUSED_RANGES.some(([a, b]) => cp >= a && cp <= b);
    const missing: string[] = [];
    const extra: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // surrogates: no string of text holds one alone
      const ch = String.fromCodePoint(cp);
      const category = CATEGORIES.test(ch);
      if (category && !inList(cp)) missing.push(cp.toString(16));
      if (!category && inList(cp)) extra.push(cp.toString(16));
      // And the rendered class says what the list says.
      if (refusedRe.test(ch) !== inList(cp)) throw new Error(`EMAIL_REFUSED_CLASS_JS disagrees with the ranges at U+${cp.toString(16)}`);
    }
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  });

  it('are listed in order, without overlap', () => {
    for (const [i, [a, b]] of EMAIL_REFUSED_RANGES.entries()) {
      expect(a).toBeLessThanOrEqual(b);
      if (i > 0) expect(a).toBeGreaterThan(EMAIL_REFUSED_RANGES[i - 1]![1] + 1);
    }
  });
});
