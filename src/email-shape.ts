/**
 * The one definition of an email address's shape, shared by the `contacts_email_format_check` constraint
 * (src/db/schema.ts) and the push validator (src/sync/validate.ts) so that the two cannot disagree.
 *
 * "No whitespace" used to be `[:space:]` in Postgres and `\s` in JavaScript, which are different sets: Postgres
 * takes its class from the database's locale, JavaScript from Unicode (ECMA-262 WhiteSpace and LineTerminator,
 * https://tc39.es/ecma262/#sec-white-space), so a no-break space (U+00A0) passed the constraint and failed the
 * validator. The set is therefore spelled out, code point by code point, as JavaScript's `\s` is defined. The escapes
 * below mean the same in a JavaScript RegExp and in a Postgres advanced regular expression (\t \n \v \f \r and \uXXXX,
 * https://www.postgresql.org/docs/current/functions-matching.html#POSIX-ESCAPE-SEQUENCES).
 */
export const EMAIL_WHITESPACE_CLASS = String.raw`\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;
export const EMAIL_EXCLUDED_CLASS = `@${EMAIL_WHITESPACE_CLASS}`;

/** local@domain.tld, none of the parts empty or holding whitespace or a second @. */
export const EMAIL_PATTERN = String.raw`^[^${EMAIL_EXCLUDED_CLASS}]+@[^${EMAIL_EXCLUDED_CLASS}]+\.[^${EMAIL_EXCLUDED_CLASS}]+$`;
