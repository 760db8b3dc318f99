import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numberProblem, parseJsonExact, stringifyJsonExact, UncarriableNumber } from '../../src/json-numbers.ts';
import { contactFromLocal, type LocalContactRow } from '../../src/sync/snapshot.ts';
import type { CustomAttributeValue } from '../../src/intercom/payloads.ts';
import { contactWrite } from '../../src/sync/push/diff.ts';
import { validateCompanyWrite, validateContactWrite } from '../../src/sync/validate.ts';

/**
 * The jsonb reader of data rows: numbers a double carries read as JSON.parse reads them, the others kept as their
 * text, refused by the validator by name and written back byte for byte.
 */
const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`json-numbers property seed: ${seed} (FC_SEED=${seed} to replay)`);

const BIG = `1${'0'.repeat(400)}`;
const TINY = `0.${'0'.repeat(399)}1`;

describe('numberProblem', () => {
  it('draws the line where a double stops carrying the number', () => {
    const cases: [string, ReturnType<typeof numberProblem>][] = [
      ['0', null],
      ['-0', null],
      ['0.000', null],
      ['0e400', null],
      ['1.7976931348623157e308', null], // the largest double
      ['179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000', null],
      ['1.8e308', 'overflow'],
      ['-1.8e308', 'overflow'],
      ['1e400', 'overflow'],
      [BIG, 'overflow'],
      ['2.2250738585072014e-308', null], // the smallest normal double
      ['2.225073858507201e-308', null], // subnormal, and the double reads back as this very number
      ['2.2250738585072011e-308', 'underflow'], // subnormal: it reads back as 2.225073858507201e-308
      ['5e-324', null], // the smallest double
      [`0.${'0'.repeat(323)}5`, null], // the same, as Postgres writes it
      ['2.5e-324', 'underflow'], // becomes 5e-324
      ['1.23456789e-320', 'underflow'], // becomes 1.2347e-320
      ['1e-400', 'underflow'],
      ['-1e-400', 'underflow'],
      [TINY, 'underflow'],
      ['0.1000000000000000000001', null], // more digits than a double: the nearest double, deliberately
      ['9007199254740993', null], // beyond 2^53: the validator's own integer rule refuses it
    ];
    for (const [token, problem] of cases) expect({ token, problem: numberProblem(token) }).toEqual({ token, problem });
  });
});

describe('parseJsonExact and stringifyJsonExact', () => {
  it('read what JSON carries exactly as JSON.parse does (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        expect(parseJsonExact(text)).toEqual(JSON.parse(text));
        expect(stringifyJsonExact(JSON.parse(text))).toBe(text);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('keep every uncarriable number, wherever it stands, and write the text back byte for byte (property)', () => {
    type Raw = { raw: string };
    const uncarriable = fc.constantFrom('1e400', '-1e400', '1e-400', '-2.5e-330', '1.8e308', '1e-324', '1.23456789e-320', BIG, `-${TINY}`);
    const leaf = fc.oneof(
      uncarriable.map((raw): Raw => ({ raw })),
      fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null)),
      // Strings that look like the numbers must stay strings.
      uncarriable,
    );
    const key = fc.string({ maxLength: 6 }).map((k) => `k${k}`); // not array-index-like: JSON.parse keeps their order
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('tree'), { maxLength: 4 }),
      object: fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
    }));
    const isRaw = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).join() === 'raw';
    const write = (v: unknown): string => {
      if (isRaw(v)) return v.raw;
      if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
      if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`).join(',')}}`;
      return JSON.stringify(v);
    };
    const count = (v: unknown): number =>
      isRaw(v) ? 1 : v && typeof v === 'object' ? Object.values(v).reduce((n: number, x) => n + count(x), 0) : 0;
    const markers = (v: unknown): UncarriableNumber[] =>
      v instanceof UncarriableNumber ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(markers) : [];
    fc.assert(
      fc.property(fc.dictionary(key, tree, { maxKeys: 5 }), (o) => {
        const text = write(o);
        const parsed = parseJsonExact(text);
        expect(markers(parsed)).toHaveLength(count(o));
        expect(stringifyJsonExact(parsed)).toBe(text);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('show an uncarriable number in bounded scientific notation', () => {
    const parsed = parseJsonExact(`{"a": ${BIG}, "b": -${TINY}, "c": 123456789012345678901234567890e300}`) as Record<string, UncarriableNumber>;
    expect(parsed.a!.scientific).toBe('1e+400');
    expect(parsed.b!.scientific).toBe('-1e-400');
    expect(parsed.c!.scientific).toBe('1.2345678901234567…e+329');
    expect(JSON.stringify(parsed.a)).toBe('{"uncarriable_number":"1e+400"}');
  });
});

describe('the push refuses them by name', () => {
  const [big, tiny] = [new UncarriableNumber(BIG, 'overflow'), new UncarriableNumber(TINY, 'underflow')];
  // What a row read from Postgres carries at run time: the write types declare JSON primitives only.
  const attrs = (o: Record<string, unknown>) => o as Record<string, CustomAttributeValue>;

  it('in the validator, naming row and attribute', () => {
    expect(validateContactWrite(7, { custom_attributes: attrs({ score: big }) })?.message).toBe(
      'contact 7: custom_attributes.score is 1e+400, which overflows a double (beyond ±1.7976931348623157e+308): read as JSON it would become Infinity and be dropped; store it as a string',
    );
    expect(validateCompanyWrite(8, { company_id: 'c', custom_attributes: attrs({ revenue: tiny }) })?.message).toBe(
      'company 8: custom_attributes.revenue is 1e-400, which underflows a double (not zero, but closer to it than ±2.2250738585072014e-308): read as JSON it would become 0 or lose digits; store it as a string',
    );
  });

  it('through the snapshot and the diff, which carry the number to the validator instead of dropping it', () => {
    const row = { external_id: 'u', role: 'user', email: null, phone: null, name: null, owner_id: null, unsubscribed_from_emails: false,
      signed_up_at: null, last_seen_at: null, custom_attributes: { score: big, plan_name: 'pro' } } as unknown as LocalContactRow;
    const local = contactFromLocal(row);
    expect(local.custom_attributes.score).toBe(big);
    const body = contactWrite({ ...local, custom_attributes: { plan_name: 'pro' } }, local);
    expect(body?.custom_attributes).toEqual({ score: big });
    expect(validateContactWrite(1, body!)?.field).toBe('custom_attributes.score');
  });
});
