import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  checkAttributesDefined,
  fitsType,
  inferAttributeType,
  isValidAttributeName,
  validateCompanyWrite,
  validateContactWrite,
} from '../../src/sync/validate.ts';
import { contactWrite, linkBase, remoteOnlyPatch, threeWayBase } from '../../src/sync/push/diff.ts';
import { canonicalJson, type ContactSnapshot } from '../../src/sync/snapshot.ts';

const catalog = (defs: Record<string, string>) => ({
  get: (n: string) => (Object.hasOwn(defs, n) ? { dataType: defs[n]!, apiWritable: true, archived: false } : undefined),
});

const attrValue = fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null));

const snapshotArb: fc.Arbitrary<ContactSnapshot> = fc.record({
  external_id: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: null }),
  role: fc.constantFrom('user' as const, 'lead' as const),
  email: fc.option(fc.constantFrom('a@x.io', 'b@y.io'), { nil: null }),
  phone: fc.option(fc.constantFrom('+1', '+2'), { nil: null }),
  name: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
  owner_id: fc.option(fc.nat(5), { nil: null }),
  unsubscribed_from_emails: fc.boolean(),
  signed_up_at: fc.option(fc.nat(), { nil: null }),
  last_seen_at: fc.option(fc.nat(), { nil: null }),
  custom_attributes: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.string({ maxLength: 3 }), fc.integer())),
});

describe('validation (what Intercom would reject)', () => {
  it('a string custom value is rejected exactly when longer than the limit, naming row and field', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.nat(), (s, localId) => {
        const err = validateContactWrite(localId, { custom_attributes: { note: s } });
        expect(err === null).toBe(s.length <= LIMITS.stringValue);
        if (err) expect(err.message).toBe(`contact ${localId}: custom_attributes.note is ${s.length} characters long (Intercom allows 255)`);
      }),
    );
  });

  it('integers beyond 2^53 are refused by name, not rounded', () => {
    for (const v of [2 ** 53, 1e23, -(2 ** 53), Number.MAX_SAFE_INTEGER + 2]) {
      const err = validateContactWrite(7, { custom_attributes: { seats: v } });
      expect(err?.field).toBe('custom_attributes.seats');
      expect(err?.message).toMatch(/integer beyond ±9007199254740991/);
    }
    expect(validateContactWrite(7, { custom_attributes: { seats: Number.MAX_SAFE_INTEGER } })).toBeNull();
    expect(validateContactWrite(7, { custom_attributes: { ratio: 0.5 } })).toBeNull();
  });

  it('an email refused by the validator is described without being quoted (LOG_PII unset)', () => {
    for (const email of ['ann\u00a0smith@example.com', 'ann@@example.com', 'ann@example', ' @x.io']) {
      const err = validateContactWrite(3, { email });
      expect(err?.field).toBe('email');
      expect(err?.message).not.toContain('ann');
      expect(err?.message).not.toContain(email);
    }
    expect(validateContactWrite(3, { email: 'ann\u00a0smith@example.com' })?.message).toContain('U+00A0 at character 4');
  });

  it('nested objects and arrays are never valid custom attribute values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(fc.integer()), fc.dictionary(fc.string(), fc.integer())), (v) => {
        expect(validateContactWrite(1, { custom_attributes: { x: v as never } })).not.toBeNull();
      }),
    );
  });

  it('emails: accepted exactly when they have the shape local@domain.tld without spaces', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (e) => {
        expect(validateContactWrite(1, { email: e })).toBeNull();
      }),
    );
    for (const bad of ['plain', 'a@b', 'a b@c.de', '@c.de']) {
      expect(validateContactWrite(7, { email: bad })?.message).toMatch(/^contact 7: email is not an email address/);
    }
  });

  it('a value fits the attribute the type inferred for it; every other defined type is checked', () => {
    fc.assert(
      fc.property(attrValue, (v) => {
        const t = inferAttributeType(v);
        if (t) expect(fitsType(t, v)).toBe(true);
        const verdict = checkAttributesDefined('contact', 1, { k: v }, catalog({ k: 'boolean' }), false);
        expect('error' in verdict).toBe(v !== null && typeof v !== 'boolean');
      }),
    );
  });

  it('undefined attributes: rejected without auto-create, listed for creation with it (if the name is creatable)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.boolean(), (name, auto) => {
        const v = checkAttributesDefined('company', 3, { [name]: 'v' }, catalog({}), auto);
        if (!auto) expect('error' in v && v.error.message.startsWith(`company 3: custom_attributes.${name} is not a data attribute`)).toBe(true);
        else expect('missing' in v).toBe(isValidAttributeName(name));
      }),
    );
  });

  it('company limits: monthly_spend within 0…2^31−1, size non-negative whole number', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 2 ** 32 }), (n) => {
        expect(validateCompanyWrite(1, { company_id: 'c', monthly_spend: n }) === null).toBe(n >= 0 && n <= LIMITS.int32Max);
      }),
    );
    expect(validateCompanyWrite(1, { company_id: 'c', size: 1.5 })?.field).toBe('size');
  });
});

describe('push diff', () => {
  it('diffing against the base sends nothing for an unchanged row, and exactly the changed fields otherwise', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (base, local) => {
        expect(contactWrite(local, local)).toBeNull();
        const body = contactWrite(base, local) ?? {};
        for (const k of Object.keys(body)) expect(k === 'custom_attributes' || JSON.stringify(base[k as keyof ContactSnapshot]) !== JSON.stringify(local[k as keyof ContactSnapshot])).toBe(true);
      }),
    );
  });

  it('after a push, row + remote-only patch equals what Intercom holds on every field the row did not change', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, snapshotArb, (base, local, remote) => {
        // Intercom applied our body over its own (possibly changed) state.
        const agreed = threeWayBase(base, remote, local);
        const body = contactWrite(agreed, local) ?? {};
        const attrs = { ...remote.custom_attributes };
        for (const [k, v] of Object.entries((body as { custom_attributes?: Record<string, unknown> }).custom_attributes ?? {})) {
          if (v === null) delete attrs[k];
          else attrs[k] = v;
        }
        const response = { ...remote, ...body, custom_attributes: attrs } as ContactSnapshot;
        const patch = remoteOnlyPatch(agreed, response, local, new Set(Object.keys(body)));
        const after = { ...local, ...patch };
        expect(canonicalJson(after)).toBe(canonicalJson(response));
      }),
    );
  });

  it('linking keeps what the row holds and takes from Intercom only what the row lacks', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (remote, local) => {
        const body = (contactWrite(linkBase(remote, local), local) ?? {}) as Record<string, unknown>;
        for (const [k, v] of Object.entries(body)) if (k !== 'custom_attributes') expect(v).not.toBeNull();
      }),
    );
  });
});
