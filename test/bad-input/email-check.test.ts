import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidEmail } from '../../src/sync/validate.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

/**
 * The `contacts_email_format_check` constraint and the push validator must agree on every string: an address the
 * database accepts and the validator refuses becomes a dead letter nobody can fix by writing it again (issue 13,
 * point 6: a no-break space passed Postgres' [:space:] and failed JavaScript's \s). The constraint is exercised as
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

async function databaseAccepts(email: string): Promise<boolean> {
  await client.query('SAVEPOINT probe');
  try {
    await client.query(`INSERT INTO intercom.contacts (external_id, email) VALUES (gen_random_uuid()::text, $1)`, [email]);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 23514: the check refused it; 22021: Postgres text cannot hold it at all (NUL).
    if (code === '23514' || code === '22021') return false;
    throw err;
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT probe');
  }
}

// Every code point JavaScript's \s matches, the ones Postgres locales tend to count as space, and other invisible
// or odd characters that either side might plausibly treat specially.
const ODD = [
  ...'\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff',
  ...'\u0001\u001f\u007f\u0085\u00ad\u180e\u200b\u200c\u200d\u2060\u061c\ufffd@.é漢😀',
];
const part = fc.array(fc.oneof(fc.constantFrom(...ODD), fc.constantFrom('a', 'b', 'z', '0', '_', '+', '-'), fc.string({ unit: 'grapheme', maxLength: 2 })), { minLength: 0, maxLength: 6 }).map((cs) => cs.join(''));
const candidate = fc.oneof(
  fc.tuple(part, part, part).map(([l, d, t]) => `${l}@${d}.${t}`),
  fc.tuple(part, part).map(([l, d]) => `${l}@${d}`),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

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
        expect(await databaseAccepts(email)).toBe(isValidEmail(email));
      }),
      { seed, numRuns: 400 },
    );
  });
});
