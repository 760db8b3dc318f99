/**
 * JSON numbers JavaScript cannot carry, kept as written.
 *
 * Postgres stores a jsonb number as an exact `numeric` (https://www.postgresql.org/docs/current/datatype-json.html),
 * so an application's plain SQL can store `1e400` or `1e-400` in custom_attributes. JSON.parse reads every
 * number as an IEEE 754 double (https://tc39.es/ecma262/#sec-json.parse): `1e400` becomes Infinity, which
 * JSON.stringify writes as null, so the attribute silently left the write; `1e-400` becomes 0 and was sent as 0.
 * Below the smallest normal double (2^-1022 ≈ 2.2250738585072014e-308) a double keeps fewer than 53 significant bits
 * (5e-324 keeps one), so a number there is refused too unless it reads back as itself.
 *
 * What stays accepted, deliberately: a fraction with more digits than a double holds is read as the nearest double
 * (within 2^-53 relative), which is what any JSON client, ours included, sends for it to a `float` attribute. Integers
 * beyond 2^53 parse to an unsafe integer, which the validator refuses on its own (src/sync/validate.ts).
 *
 * parseJsonExact reads an uncarriable number as an UncarriableNumber holding its text; the validator refuses it by
 * name, and stringifyJsonExact writes it back byte for byte, so a row the pull merges around keeps its value.
 */
import { randomUUID } from 'node:crypto';

export type NumberProblem = 'overflow' | 'underflow';

const MIN_NORMAL = 2 ** -1022;
const MAX_SIGNIFICANT = 17;

export class UncarriableNumber {
  constructor(
    /** The number exactly as the JSON text spelled it (Postgres writes jsonb numbers without exponent). */
    readonly text: string,
    readonly problem: NumberProblem,
  ) {}

  /** The number in scientific notation, significant digits cut at 17: `1e+400`, `-1.5e-400`. Bounded, unlike text. */
  get scientific(): string {
    const { negative, digits, exp } = decimalOf(this.text);
    if (digits === '') return '0';
    const shown = digits.length > MAX_SIGNIFICANT ? `${digits.slice(0, MAX_SIGNIFICANT)}…` : digits;
    return `${negative ? '-' : ''}${shown[0]}${shown.length > 1 ? `.${shown.slice(1)}` : ''}e${exp >= 0 ? '+' : ''}${exp}`;
  }

  /** What a snapshot comparison, an audit row or a log line shows: never equal to a number or a string. */
  toJSON(): { uncarriable_number: string } {
    return { uncarriable_number: this.scientific };
  }
}

/** A decimal number's sign, significant digits (no leading or trailing zero; '' for zero) and decimal exponent. */
function decimalOf(text: string): { negative: boolean; digits: string; exp: number } {
  const [mantissa = '', exponent = '0'] = text.replace(/^[-+]/, '').split(/[eE]/);
  const [int = '', frac = ''] = mantissa.split('.');
  const all = int + frac;
  const first = all.search(/[1-9]/);
  if (first < 0) return { negative: false, digits: '', exp: 0 };
  return { negative: text.startsWith('-'), digits: all.slice(first).replace(/0+$/, ''), exp: Number(exponent) + int.length - 1 - first };
}

const sameDecimal = (a: string, b: string) => {
  const [x, y] = [decimalOf(a), decimalOf(b)];
  return x.negative === y.negative && x.digits === y.digits && x.exp === y.exp;
};

/**
 * Why a JSON number token cannot be carried by a double, or null. Number() rounds as JSON.parse does. Below the
 * smallest normal double a number is carried only if it reads back as itself (5e-324 does; 2.5e-324 becomes 5e-324).
 */
export function numberProblem(token: string): NumberProblem | null {
  const v = Number(token);
  if (!Number.isFinite(v)) return 'overflow';
  if (v === 0) return decimalOf(token).digits === '' ? null : 'underflow';
  return Math.abs(v) < MIN_NORMAL && !sameDecimal(token, String(v)) ? 'underflow' : null;
}

// A number can only fall outside the normal doubles (beyond 1.8e308 or under 2.2e-308) with at least 200 digits in a
// row or an exponent of three digits: with at most 199 digits before and after the point and |exponent| ≤ 99 its
// magnitude stays within 1e-299..1e298. Text without either is read by JSON.parse alone. The lookbehind starts a try
// only where a run of digits starts, so the test stays linear on text full of numbers.
const SUSPECT = /(?<!\d)\d{200}|[eE][+-]?\d{3}/;
// Strings (the unrolled form, linear) and numbers; JSON.parse has accepted the text, so nothing else holds a digit.
const TOKENS = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** JSON.parse, except that a number a double cannot carry is read as an UncarriableNumber holding its text. */
export function parseJsonExact(text: string): unknown {
  if (!SUSPECT.test(text)) return JSON.parse(text) as unknown;
  const found: UncarriableNumber[] = [];
  const tag = `\u0000${randomUUID()}:`;
  const marked = text.replace(TOKENS, (t) => {
    if (t.startsWith('"')) return t;
    const problem = numberProblem(t);
    if (!problem) return t;
    found.push(new UncarriableNumber(t, problem));
    return JSON.stringify(`${tag}${found.length - 1}`);
  });
  if (found.length === 0) return JSON.parse(text) as unknown;
  return JSON.parse(marked, (_key, v: unknown) =>
    typeof v === 'string' && v.startsWith(tag) ? found[Number(v.slice(tag.length))] : v,
  );
}

/** JSON.stringify, except that an UncarriableNumber is written as its own text, so it round-trips exactly. */
export function stringifyJsonExact(value: unknown): string {
  const found: UncarriableNumber[] = [];
  let tag = '';
  // toJSON runs before a replacer sees a value, so the holder is asked for the original.
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    if (!(original instanceof UncarriableNumber)) return v;
    tag ||= `uncarriable-${randomUUID()}-`;
    found.push(original);
    return `${tag}${found.length - 1}`;
  });
  if (found.length === 0) return json;
  return json.replace(new RegExp(`"${tag}(\\d+)"`, 'g'), (_m, i: string) => found[Number(i)]!.text);
}
