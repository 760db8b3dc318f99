/**
 * The one definition of an email address's shape, shared by the `contacts_email_format_check` constraint
 * (src/db/schema.ts) and the push validator (src/sync/validate.ts) so that the two cannot disagree.
 *
 * An address is `local@domain.tld` (no part empty, one @) and holds no character of the Unicode general categories
 * Cc (controls, U+0085 included), Cf (format: soft hyphen U+00AD, zero-width space U+200B and joiners, word joiner
 * U+2060, bidi embeddings, overrides and isolates U+202A..U+202E and U+2066..U+2069, BOM U+FEFF, tags…), Zs (every
 * space separator), Zl or Zp (U+2028, U+2029). None belongs in an address: RFC 5322's atext (section 3.2.3) holds no
 * control or space, and an invisible character makes two different addresses look the same to whoever reads them.
 * Every character of JavaScript's `\s` (https://tc39.es/ecma262/#sec-white-space) is among them.
 *
 * The set is spelled out as code point ranges rather than a class such as Postgres' [:space:] or [:cntrl:], whose
 * members depend on the database's locale, or JavaScript's \p{Cf}, which Postgres' regular expressions lack. The
 * ranges are Unicode 17.0's (test/bad-input/email-check.test.ts compares them with the running Node's \p{Cc},
 * \p{Cf} and \p{Z} over every code point). Each is rendered once for Postgres (\uXXXX, \UXXXXXXXX:
 * https://www.postgresql.org/docs/current/functions-matching.html#POSIX-ESCAPE-SEQUENCES) and once for a JavaScript
 * RegExp with the `u` flag (\u{X}).
 */
export const EMAIL_REFUSED_RANGES: readonly (readonly [number, number])[] = [
  [0x0000, 0x0020], // C0 controls (tab, line feed…), space
  [0x007f, 0x00a0], // DEL, C1 controls (U+0085 next line), no-break space
  [0x00ad, 0x00ad], // soft hyphen
  [0x0600, 0x0605], // Arabic number signs
  [0x061c, 0x061c], // Arabic letter mark
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x0890, 0x0891],
  [0x08e2, 0x08e2],
  [0x1680, 0x1680], // Ogham space mark
  [0x180e, 0x180e], // Mongolian vowel separator
  [0x2000, 0x200f], // en quad … hair space, zero-width space, ZWNJ, ZWJ, LRM, RLM
  [0x2028, 0x202f], // line and paragraph separators, bidi embeddings and overrides U+202A..U+202E, narrow no-break space
  [0x205f, 0x2064], // medium mathematical space, word joiner U+2060, invisible operators
  [0x2066, 0x206f], // bidi isolates U+2066..U+2069, deprecated format characters
  [0x3000, 0x3000], // ideographic space
  [0xfeff, 0xfeff], // byte order mark / zero-width no-break space
  [0xfff9, 0xfffb], // interlinear annotation
  [0x110bd, 0x110bd],
  [0x110cd, 0x110cd],
  [0x13430, 0x1343f], // Egyptian hieroglyph format controls
  [0x1bca0, 0x1bca3], // shorthand format controls
  [0x1d173, 0x1d17a], // musical symbol format controls
  [0xe0001, 0xe0001], // language tag
  [0xe0020, 0xe007f], // tag characters
];

const hex = (cp: number, width: number) => cp.toString(16).padStart(width, '0');
const classOf = (escape: (cp: number) => string) =>
  EMAIL_REFUSED_RANGES.map(([a, b]) => (a === b ? escape(a) : `${escape(a)}-${escape(b)}`)).join('');

/** The refused characters as a Postgres bracket expression. */
export const EMAIL_REFUSED_CLASS_SQL = `[${classOf((cp) => (cp > 0xffff ? `\\U${hex(cp, 8)}` : `\\u${hex(cp, 4)}`))}]`;
/** The refused characters as a JavaScript character class, for a RegExp with the `u` flag. */
export const EMAIL_REFUSED_CLASS_JS = `[${classOf((cp) => `\\u{${hex(cp, 4)}}`)}]`;

/**
 * local@domain.tld: none of the parts empty or holding a second @. The same text in both dialects. Together with "no
 * refused character anywhere" it is exactly `^[^@X]+@[^@X]+\.[^@X]+$` (X the refused class), said once instead of
 * three times.
 */
export const EMAIL_SHAPE_PATTERN = String.raw`^[^@]+@[^@]+\.[^@]+$`;

