import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidEmail, validateContactWrite } from '../../src/sync/validate.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

/**
 * The `contacts_email_format_check` constraint and the push validator must agree on every string: an address the
 * database accepts and the validator refuses becomes a dead letter nobody can fix by writing it again (as a no-break
 * space did: it passed Postgres' [:space:] and failed JavaScript's \s). The constraint is exercised as
 * applications meet it, by INSERT, not by re-evaluating its pattern.
 */
let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query('BEGIN');
});

afterAll(async () => {
  await client?.query('ROLLBACK').catch(() => undefined);
  await client?.end();
  await db?.drop();
});

/** false when refused: the constraint's name, or null when Postgres text cannot hold the string at all (NUL). */
async function databaseRefusal(email: string): Promise<string | null | false> {
  await client.query('SAVEPOINT probe');
  try {
    await client.query(`INSERT INTO intercom.contacts (external_id, email) VALUES (gen_random_uuid()::text, $1)`, [email]);
    return false;
  } catch (err) {
    const { code, constraint } = err as { code?: string; constraint?: string };
    // 23514: a check refused it; 22021: Postgres text cannot hold it at all (NUL).
    if (code === '23514') return constraint ?? '';
    if (code === '22021') return null;
    throw err;
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT probe');
  }
}

async function databaseAccepts(email: string): Promise<boolean> {
  return (await databaseRefusal(email)) === false;
}

const hex = (ch: string) => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

// Invisible, control and format characters (Unicode categories Cc, Cf, Zs, Zl, Zp) an address must not hold: the
// five an attack slipped past both sides (zero-width space, word joiner, soft hyphen, right-to-left override, next
// line), then more of each category, astral ones included (a tag character, a musical and a hieroglyph format control).
const INVISIBLE = [
  ...'\u200b\u2060\u00ad\u202e\u0085',
  ...'\u200c\u200d\u200e\u200f\u202a\u202c\u2066\u2069\u206f\u061c\u180e\u0600\u06dd\u08e2\ufff9\ufeff',
  ...'\u0001\u001f\u007f\u0080\u009f\u2028\u2029\u3000\u205f\u1680\u00a0',
  ...['\u{e0041}', '\u{e0001}', '\u{1d173}', '\u{13430}', '\u{1bca0}', '\u{110bd}'],
];
// Every code point JavaScript's \s matches, the ones Postgres locales tend to count as space, the invisible ones
// above, and neighbours that are allowed (unassigned U+2065, visible U+00AC, U+2010, U+FFFC, U+E0080) so that either
// side refusing too much shows as well.
const ODD = [
  ...'\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff',
  ...INVISIBLE,
  ...'\u00ac\u00ae\u2010\u2065\u2070\ufffc\ufffd@.é漢😀',
  '\u{e0080}',
  '\u{1d17b}',
];
const part = fc.array(fc.oneof(fc.constantFrom(...ODD), fc.constantFrom('a', 'b', 'z', '0', '_', '+', '-'), fc.string({ unit: 'grapheme', maxLength: 2 })), { minLength: 0, maxLength: 6 }).map((cs) => cs.join(''));
const candidate = fc.oneof(
  fc.tuple(part, part, part).map(([l, d, t]) => `${l}@${d}.${t}`),
  fc.tuple(part, part).map(([l, d]) => `${l}@${d}`),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

describe('invisible, control and format characters in an email', () => {
  it('are refused by the constraint, by name, and by the validator, naming the character, wherever they stand', async () => {
    for (const ch of INVISIBLE) {
      for (const email of [`a${ch}b@example.com`, `ab@exa${ch}mple.com`, `ab@example.c${ch}om`, `${ch}ab@example.com`, `ab@example.com${ch}`]) {
        const what = `${hex(ch)} in ${JSON.stringify(email)}`;
        expect(await databaseRefusal(email), what).toBe('contacts_email_format_check');
        expect(isValidEmail(email), what).toBe(false);
        const err = validateContactWrite(9, { email });
        expect(err?.field, what).toBe('email');
        expect(err?.message, what).toContain(hex(ch));
      }
    }
  });

  it('leave visible neighbours alone', async () => {
    for (const ch of ['\u00ac', '\u2010', 'é', '漢', '😀', '\u{1d17b}']) {
      const email = `a${ch}b@example.com`;
      expect(await databaseAccepts(email), hex(ch)).toBe(true);
      expect(isValidEmail(email), hex(ch)).toBe(true);
    }
  });

  it('constraint and validator agree on valid addresses with such characters inserted (property)', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    console.log(`email-check insertion property seed: ${seed} (FC_SEED=${seed} to replay)`);
    const label = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,7}$/);
    const address = fc.tuple(label, label, fc.stringMatching(/^[a-z]{2,4}$/)).map(([l, d, t]) => `${l}@${d}.${t}`);
    const insertion = fc.tuple(fc.nat(), fc.constantFrom(...ODD));
    await fc.assert(
      fc.asyncProperty(address, fc.array(insertion, { maxLength: 3 }), async (base, inserts) => {
        const cps = [...base];
        for (const [at, ch] of inserts) cps.splice(at % (cps.length + 1), 0, ch);
        const email = cps.join('');
        expect({ email, db: await databaseAccepts(email) }).toEqual({ email, db: isValidEmail(email) });
      }),
      { seed, numRuns: 400 },
    );
  });
});

describe('contacts_email_format_check and isValidEmail', () => {
  it('agree on the characters that used to divide them', async () => {
    for (const ch of ODD) {
      const email = `a${ch}b@example.com`;
      expect({ ch: ch.codePointAt(0)?.toString(16), db: await databaseAccepts(email) }).toEqual({
        ch: ch.codePointAt(0)?.toString(16),
        db: isValidEmail(email),
      });
    }
  });

  it('agree on any string (property)', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    console.log(`email-check property seed: ${seed} (FC_SEED=${seed} to replay)`);
    await fc.assert(
      fc.asyncProperty(candidate, async (email) => {
        if (email.includes('\u0000')) return; // Postgres text cannot hold NUL; nothing to compare.
        expect({ email, db: await databaseAccepts(email) }).toEqual({ email, db: isValidEmail(email) });
      }),
      { seed, numRuns: 400 },
    );
  });
});
