/**
 * What Intercom would reject, checked before a request is spent on it. A failing row becomes a dead letter naming
 * the row and the field, so the operator can fix the data while every other row keeps flowing. The limits Intercom
 * does not publish (neither the 2.14 spec nor the developer docs) are the ones the simulator assumes (docs/simulator.md).
 */
import { ValidationError, type EntityKind } from '../errors.ts';
import type { CompanyWrite, ContactWrite } from '../intercom/payloads.ts';
import { EMAIL_REFUSED_CLASS_JS, EMAIL_SHAPE_PATTERN } from '../email-shape.ts';
import { UncarriableNumber } from '../json-numbers.ts';

export const LIMITS = {
  attributeName: 190,
  stringValue: 255,
  /** monthly_spend and the other integer fields Intercom stores as 32-bit (Intercom-OpenAPI descriptions/2.14, `create_or_update_company_request`: at most 2**31-1). */
  int32Max: 2 ** 31 - 1,
} as const;

export type AttributeType = 'string' | 'integer' | 'float' | 'boolean' | 'date';

/** The data attributes Intercom knows for one model, by name. */
export interface AttributeLookup {
  get(name: string): { dataType: string; apiWritable: boolean; archived: boolean } | undefined;
}

// The shape and the refused characters of the contacts_email_format_check constraint, from the same definition.
const EMAIL_SHAPE_RE = new RegExp(EMAIL_SHAPE_PATTERN, 'u');
const EMAIL_REFUSED_RE = new RegExp(EMAIL_REFUSED_CLASS_JS, 'u');
// Letters, digits, currency symbols, spaces, underscores and hyphens (Intercom-OpenAPI descriptions/2.14, createDataAttribute's 400 examples).
const ATTRIBUTE_NAME_RE = /^[\p{L}\p{N}\p{Sc} _-]+$/u;

export function isValidEmail(s: string): boolean {
  return EMAIL_SHAPE_RE.test(s) && !EMAIL_REFUSED_RE.test(s);
}

/** What is wrong with an address, in words that do not repeat it. */
export function describeEmailProblem(email: string): string {
  const at = email.split('@').length - 1;
  if (at !== 1) return `${at} @ signs, one expected`;
  const odd = EMAIL_REFUSED_RE.exec(email);
  if (odd) {
    const cp = odd[0].codePointAt(0) ?? 0;
    // Positions count code points, as a reader counts characters.
    const position = [...email.slice(0, odd.index)].length + 1;
    return `${refusedKind(odd[0])} U+${cp.toString(16).toUpperCase().padStart(4, '0')} at character ${position} of ${[...email].length}`;
  }
  return 'an empty local part, domain or top-level domain';
}

function refusedKind(ch: string): string {
  if (/\s/u.test(ch)) return 'whitespace';
  if (/\p{Cc}/u.test(ch)) return 'control character';
  return 'invisible format character';
}

export function isValidAttributeName(name: string): boolean {
  return name.length > 0 && name.length <= LIMITS.attributeName && ATTRIBUTE_NAME_RE.test(name) && name.trim() !== '';
}

/** The data type to create for a value never seen before; dates cannot be told from integers, so they stay integers. */
export function inferAttributeType(value: unknown): AttributeType | null {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number' && Number.isFinite(value)) return Number.isInteger(value) ? 'integer' : 'float';
  return null;
}

export const UNSAFE_INTEGER_PROBLEM =
  `is an integer beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1), which cannot be carried exactly and would be rounded; store it as a string`;

/**
 * A number the row holds exactly (jsonb numeric) that a double cannot carry (src/json-numbers.ts): JSON.parse would
 * make it Infinity, which JSON drops, or 0. Named, never sent changed.
 */
export function uncarriableProblem(n: UncarriableNumber): string {
  return n.problem === 'overflow'
    ? `is ${n.scientific}, which overflows a double (beyond ±${Number.MAX_VALUE}): read as JSON it would become Infinity and be dropped; store it as a string`
    : `is ${n.scientific}, which underflows a double (not zero, but closer to it than ±${2 ** -1022}): read as JSON it would become 0 or lose digits; store it as a string`;
}

/** Shape and limit problems of one custom attribute value, independent of what Intercom has defined. */
export function customValueProblem(value: unknown): string | null {
  if (value === null) return null;
  if (value instanceof UncarriableNumber) return uncarriableProblem(value);
  if (typeof value === 'string') {
    return value.length > LIMITS.stringValue ? `is ${value.length} characters long (Intercom allows ${LIMITS.stringValue})` : null;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'is not a finite number';
    // pg parses jsonb numbers into JavaScript doubles, so an integer beyond 2^53 arrives already rounded
    // (100000000000000000000001 → 1e+23): refuse it rather than send Intercom a different number.
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) return UNSAFE_INTEGER_PROBLEM;
    return null;
  }
  if (typeof value === 'boolean') return null;
  return `is ${Array.isArray(value) ? 'an array' : typeof value}; Intercom custom attributes hold strings, numbers or booleans`;
}

/** Whether a value fits an existing data attribute's type (Intercom answers 400 otherwise). */
export function fitsType(dataType: string, value: unknown): boolean {
  if (value === null) return true;
  switch (dataType) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
    case 'date':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return true;
  }
}

function fail(entity: EntityKind, localId: number, field: string, problem: string): ValidationError {
  return new ValidationError(entity, String(localId), field, problem);
}

function checkCustom(
  entity: EntityKind,
  localId: number,
  attrs: Record<string, unknown> | undefined,
): ValidationError | null {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    const field = `custom_attributes.${name}`;
    if (name.length > LIMITS.attributeName) {
      return fail(entity, localId, field, `has a name longer than ${LIMITS.attributeName} characters`);
    }
    const problem = customValueProblem(value);
    if (problem) return fail(entity, localId, field, problem);
  }
  return null;
}

function checkString(entity: EntityKind, localId: number, field: string, v: unknown): ValidationError | null {
  if (typeof v === 'string' && v.length > LIMITS.stringValue) {
    return fail(entity, localId, field, `is ${v.length} characters long (Intercom allows ${LIMITS.stringValue})`);
  }
  return null;
}

function checkInt(entity: EntityKind, localId: number, field: string, v: unknown, min = 0): ValidationError | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > LIMITS.int32Max) {
    return fail(entity, localId, field, `must be a whole number between ${min} and ${LIMITS.int32Max}, got ${String(v)}`);
  }
  return null;
}

/** Problems Intercom would answer 400 to in a contact create/update body. Only the fields being sent are checked. */
export function validateContactWrite(localId: number, body: ContactWrite): ValidationError | null {
  const e: EntityKind = 'contact';
  if (body.email !== undefined && body.email !== null && !isValidEmail(body.email)) {
    // The address itself is personal data: the reason (last_error, audit, logs) describes it without quoting it.
    return fail(e, localId, 'email', `is not an email address Intercom accepts (${describeEmailProblem(body.email)})`);
  }
  for (const f of ['email', 'name', 'phone', 'external_id'] as const) {
    const p = checkString(e, localId, f, body[f]);
    if (p) return p;
  }
  if (body.external_id !== undefined && body.external_id !== null && body.external_id.trim() === '') {
    return fail(e, localId, 'external_id', 'is blank');
  }
  for (const f of ['owner_id', 'signed_up_at', 'last_seen_at'] as const) {
    const p = checkInt(e, localId, f, body[f]);
    if (p) return p;
  }
  return checkCustom(e, localId, body.custom_attributes);
}

export function validateCompanyWrite(localId: number, body: CompanyWrite): ValidationError | null {
  const e: EntityKind = 'company';
  if (body.company_id.trim() === '') return fail(e, localId, 'company_id', 'is blank');
  for (const f of ['company_id', 'name', 'plan', 'website', 'industry'] as const) {
    const p = checkString(e, localId, f, body[f]);
    if (p) return p;
  }
  for (const f of ['size', 'monthly_spend', 'remote_created_at'] as const) {
    const p = checkInt(e, localId, f, body[f]);
    if (p) return p;
  }
  return checkCustom(e, localId, body.custom_attributes);
}

/**
 * Custom attributes against what Intercom has defined. Returns the attributes still to create (when allowed) or the
 * first rejection: an undefined attribute without AUTO_CREATE_ATTRIBUTES, a read-only or archived one, a wrong type.
 */
export function checkAttributesDefined(
  entity: 'contact' | 'company',
  localId: number,
  attrs: Record<string, unknown> | undefined,
  catalog: AttributeLookup,
  autoCreate: boolean,
): { missing: { name: string; dataType: AttributeType }[] } | { error: ValidationError } {
  const missing: { name: string; dataType: AttributeType }[] = [];
  for (const [name, value] of Object.entries(attrs ?? {})) {
    const field = `custom_attributes.${name}`;
    const known = catalog.get(name);
    if (known) {
      if (known.archived) return { error: fail(entity, localId, field, 'is an archived data attribute in Intercom') };
      if (!known.apiWritable) return { error: fail(entity, localId, field, 'is not writable through the API') };
      if (!fitsType(known.dataType, value)) {
        return {
          error: fail(entity, localId, field, `must be of Intercom type ${known.dataType}, got ${JSON.stringify(value)}`),
        };
      }
      continue;
    }
    // Clearing an attribute Intercom never had: the caller drops it from the body (Intercom would 400 on the name).
    if (value === null) continue;
    if (!autoCreate) {
      return {
        error: fail(entity, localId, field, 'is not a data attribute in Intercom (create it, or set AUTO_CREATE_ATTRIBUTES=true)'),
      };
    }
    if (!isValidAttributeName(name)) {
      return {
        error: fail(entity, localId, field, 'cannot be created: names hold letters, digits, spaces, _, - and currency symbols only'),
      };
    }
    const dataType = inferAttributeType(value);
    if (!dataType) return { error: fail(entity, localId, field, 'has no type Intercom can store') };
    missing.push({ name, dataType });
  }
  return { missing };
}
