import type { AttributeRegistry } from './attributes.ts';
import { ApiError } from './errors.ts';
import type { AttrType, ContactData } from './model.ts';
import { startOfLocalDay, startOfNextLocalDay } from './timezone.ts';

// Compiles the search query language of POST /contacts/search (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts; `sort` from Intercom-OpenAPI descriptions/2.16) into a predicate.
export type Predicate = (c: ContactData) => boolean;
type FieldType = AttrType | 'tag' | 'segment';

export const MAX_NESTING = 2;
export const MAX_GROUP = 15;

const invalid = (message: string) => new ApiError(400, 'parameter_invalid', message);

const STRING_FIELDS = [
  'id', 'role', 'name', 'avatar', 'email', 'email_domain', 'phone', 'external_id',
  'language_override', 'browser', 'browser_language', 'os', 'location.country', 'location.region', 'location.city',
];
const DATE_FIELDS = [
  'created_at', 'signed_up_at', 'updated_at', 'last_seen_at', 'last_contacted_at', 'last_replied_at',
  'last_email_opened_at', 'last_email_clicked_at', 'ios_last_seen_at', 'android_last_seen_at',
];
const BOOL_FIELDS = ['unsubscribed_from_emails', 'marked_email_as_spam', 'has_hard_bounced'];

const OPERATORS: Record<FieldType, readonly string[]> = {
  string: ['=', '!=', 'IN', 'NIN', '~', '!~', '^', '$'],
  integer: ['=', '!=', 'IN', 'NIN', '<', '>', '<=', '>='],
  float: ['=', '!=', 'IN', 'NIN', '<', '>', '<=', '>='],
  boolean: ['=', '!=', 'IN', 'NIN'],
  date: ['=', '<', '>'],
  tag: ['=', '!='],
  segment: ['=', '!=', 'IN', 'NIN'],
};

export interface FieldDef {
  type: FieldType;
  get: (c: ContactData) => unknown;
}

export function fieldDef(field: string, attributes: AttributeRegistry): FieldDef | null {
  if (field.startsWith('custom_attributes.')) {
    const name = field.slice('custom_attributes.'.length);
    const attr = attributes.findCustom('contact', name);
    return attr ? { type: attr.data_type, get: (c) => c.custom_attributes[name] ?? null } : null;
  }
  if (field === 'email_domain') return { type: 'string', get: (c) => c.email?.split('@')[1] ?? null };
  if (field.startsWith('location.')) {
    const key = field.slice('location.'.length) as 'country' | 'region' | 'city';
    return STRING_FIELDS.includes(field) ? { type: 'string', get: (c) => c.location[key] } : null;
  }
  // The field name comes from the query and was checked against the field lists above.
  const get = (c: ContactData): unknown => Reflect.get(c, field) ?? null;
  if (STRING_FIELDS.includes(field)) return { type: 'string', get };
  if (DATE_FIELDS.includes(field)) return { type: 'date', get };
  if (BOOL_FIELDS.includes(field)) return { type: 'boolean', get };
  if (field === 'owner_id') return { type: 'integer', get };
  if (field === 'tag_id') return { type: 'tag', get: (c) => c.tag_ids };
  if (field === 'segment_id') return { type: 'segment', get: () => [] };
  return null;
}

export function compileQuery(query: unknown, attributes: AttributeRegistry, tz: string): Predicate {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw invalid('query must be an object');
  }
  return compileNode(query as Record<string, unknown>, attributes, tz, 0);
}

function compileNode(node: Record<string, unknown>, attributes: AttributeRegistry, tz: string, depth: number): Predicate {
  const op = node.operator;
  if (op === 'AND' || op === 'OR') {
    if (depth + 1 > MAX_NESTING) throw invalid(`Search query exceeds the limit of ${MAX_NESTING} nested filters`);
    if (!Array.isArray(node.value) || node.value.length === 0) {
      throw invalid(`${op} requires a non-empty array of filters`);
    }
    if (node.value.length > MAX_GROUP) {
      throw invalid(`Search query exceeds the limit of ${MAX_GROUP} filters for each AND or OR group`);
    }
    const parts = node.value.map((child) => {
      if (child === null || typeof child !== 'object' || Array.isArray(child)) throw invalid('Each filter must be an object');
      return compileNode(child as Record<string, unknown>, attributes, tz, depth + 1);
    });
    return op === 'AND' ? (c) => parts.every((p) => p(c)) : (c) => parts.some((p) => p(c));
  }
  return compileFilter(node, attributes, tz);
}

function compileFilter(node: Record<string, unknown>, attributes: AttributeRegistry, tz: string): Predicate {
  const { field, operator, value } = node;
  if (typeof field !== 'string') throw invalid('Each filter needs a field');
  if (typeof operator !== 'string') throw invalid(`Filter on '${field}' needs an operator`);
  const def = fieldDef(field, attributes);
  if (!def) throw invalid(`'${field}' is not a searchable field`);
  if (!OPERATORS[def.type].includes(operator)) {
    throw invalid(`The operator '${operator}' is not supported for the ${def.type === 'tag' ? 'tag_id' : def.type} field '${field}'`);
  }
  if (operator === 'IN' || operator === 'NIN') {
    if (!Array.isArray(value)) throw invalid(`The operator '${operator}' requires an array value for '${field}'`);
    const values = value.map((v) => coerce(def.type, field, v));
    const set = new Set(values.map(normalize));
    const hit = (c: ContactData) => set.has(normalize(def.get(c)));
    return operator === 'IN' ? hit : (c) => !hit(c);
  }
  if (Array.isArray(value)) throw invalid(`The operator '${operator}' does not take an array value for '${field}'`);
  if (def.type === 'date') return compileDate(def, field, operator, value, tz);
  if (def.type === 'tag' || def.type === 'segment') {
    const v = coerce('string', field, value);
    const has = (c: ContactData) => (def.get(c) as readonly string[]).includes(String(v));
    return operator === '=' ? has : (c) => !has(c);
  }
  const v = coerce(def.type, field, value);
  const nv = normalize(v);
  switch (operator) {
    case '=':
      return (c) => normalize(def.get(c)) === nv;
    case '!=':
      return (c) => normalize(def.get(c)) !== nv;
    case '<':
    case '>':
    case '<=':
    case '>=': {
      if (typeof v !== 'number') throw invalid(`'${field}' needs a numeric value`);
      return (c) => {
        const x = def.get(c);
        if (typeof x !== 'number') return false;
        return operator === '<' ? x < v : operator === '>' ? x > v : operator === '<=' ? x <= v : x >= v;
      };
    }
    default: {
      if (typeof nv !== 'string') throw invalid(`'${field}' needs a string value`);
      const test =
        operator === '~' || operator === '!~' ? (s: string) => s.includes(nv)
        : operator === '^' ? (s: string) => s.startsWith(nv)
        : (s: string) => s.endsWith(nv);
      const match = (c: ContactData) => {
        const x = normalize(def.get(c));
        return typeof x === 'string' && test(x);
      };
      return operator === '!~' ? (c) => !match(c) : match;
    }
  }
}

/** Day-granular date matching in the workspace time zone (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts). */
function compileDate(def: FieldDef, field: string, operator: string, value: unknown, tz: string): Predicate {
  const v = coerce('date', field, value);
  if (typeof v !== 'number') throw invalid(`'${field}' needs a UNIX timestamp value`);
  const dayStart = startOfLocalDay(v, tz);
  const nextDay = startOfNextLocalDay(v, tz);
  const ts = (c: ContactData) => {
    const x = def.get(c);
    return typeof x === 'number' ? x : null;
  };
  switch (operator) {
    case '=':
      return (c) => {
        const x = ts(c);
        return x !== null && x >= dayStart && x < nextDay;
      };
    case '>':
      return (c) => {
        const x = ts(c);
        return x !== null && x >= nextDay;
      };
    default:
      return (c) => {
        const x = ts(c);
        return x !== null && x < dayStart;
      };
  }
}

function coerce(type: FieldType, field: string, v: unknown): string | number | boolean | null {
  if (v === null) return null;
  const wrong = () => invalid(`The value for '${field}' must be of type ${type === 'tag' ? 'string' : type}`);
  switch (type) {
    case 'string':
    case 'tag':
    case 'segment':
      if (typeof v !== 'string') throw wrong();
      return v;
    case 'integer':
    case 'date':
    case 'float':
      // The spec's own example sends a date as a numeric string ("1306054154").
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
      throw wrong();
    case 'boolean':
      if (typeof v !== 'boolean') throw wrong();
      return v;
  }
}

/** Intercom matches strings case-insensitively. */
function normalize(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}
