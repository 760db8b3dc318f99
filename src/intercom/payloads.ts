/**
 * Intercom payloads are parsed exactly once, here, into the typed values the rest of the daemon uses. Parsing is
 * tolerant: unknown keys pass through (Intercom adds fields without a version bump: the 2.14 spec's own contact examples carry undeclared keys) and only the
 * fields we rely on are checked. A body that fails the check is a payload error, not a crash somewhere downstream.
 */
import { z } from 'zod';
import type { RecordIdentity } from '../errors.ts';
import { TRUNCATED_BODY } from './buffered-fetch.ts';

export type IntercomContact = {
  id: string;
  externalId: string | null;
  role: 'user' | 'lead';
  email: string | null;
  phone: string | null;
  name: string | null;
  ownerId: number | null;
  unsubscribedFromEmails: boolean;
  customAttributes: Record<string, unknown>;
  signedUpAt: number | null;
  lastSeenAt: number | null;
  createdAt: number;
  updatedAt: number;
  companies: { ids: string[]; hasMore: boolean; totalCount: number };
  /** Tag ids. */
  tags: string[];
  archived?: boolean;
  raw: unknown;
};

export type IntercomCompany = {
  id: string;
  companyId: string;
  name: string | null;
  /** Plan name: Intercom reads it back as an object but takes a name on write. */
  plan: string | null;
  size: number | null;
  website: string | null;
  industry: string | null;
  monthlySpend: number | null;
  customAttributes: Record<string, unknown>;
  remoteCreatedAt: number | null;
  createdAt: number;
  updatedAt: number;
  userCount: number | null;
  raw: unknown;
};

/** A record of a page that did not parse (Intercom's schema moved under us): kept aside so the page goes on. */
export type InvalidRecord = {
  id: string | null;
  updatedAt: number | null;
  reason: string;
  /** What can still be read of it (readableIdentity), when it has an id. */
  identity?: RecordIdentity | null;
};

export type Page<T> = {
  data: T[];
  totalCount: number | null;
  nextCursor: string | null;
  /** Records that did not parse; the pull audits each one as `invalid` and applies the rest. */
  invalid: InvalidRecord[];
};

export type DataAttribute = {
  name: string;
  fullName: string;
  dataType: string;
  custom: boolean;
  apiWritable: boolean;
  archived: boolean;
};

export type CustomAttributeValue = string | number | boolean | null;

/** Body of POST /contacts and PUT /contacts/{id}. `null` clears a field. */
export interface ContactWrite {
  role?: 'user' | 'lead';
  external_id?: string | null;
  email?: string | null;
  phone?: string | null;
  name?: string | null;
  owner_id?: number | null;
  unsubscribed_from_emails?: boolean;
  signed_up_at?: number | null;
  last_seen_at?: number | null;
  custom_attributes?: Record<string, CustomAttributeValue>;
}

/** Body of POST /companies, the upsert keyed on our `company_id`. */
export interface CompanyWrite {
  company_id: string;
  name?: string | null;
  /** Plan name. */
  plan?: string | null;
  size?: number | null;
  website?: string | null;
  industry?: string | null;
  monthly_spend?: number | null;
  remote_created_at?: number | null;
  custom_attributes?: Record<string, CustomAttributeValue>;
}

/** The whole answer failed the check; the gateway turns this into an IntercomPayloadError. */
export class PayloadShapeError extends Error {}

const str = z.string().nullish().transform((v) => v ?? null);
const num = z.number().nullish().transform((v) => v ?? null);
// Intercom ids of admins are integers in the schema, but several endpoints return them as numeric strings.
const intish = z
  .union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)])
  .nullish()
  .transform((v) => v ?? null);
const attrs = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((v) => v ?? {});
const idRef = z.looseObject({ id: z.union([z.string(), z.number().transform(String)]) });

const contactSchema = z.looseObject({
  id: z.string().min(1),
  external_id: str,
  role: z.enum(['user', 'lead']),
  email: str,
  phone: str,
  name: str,
  owner_id: intish,
  unsubscribed_from_emails: z.boolean().nullish(),
  custom_attributes: attrs,
  signed_up_at: num,
  last_seen_at: num,
  created_at: z.number(),
  updated_at: z.number(),
  archived: z.boolean().optional(),
  companies: z
    .looseObject({
      data: z.array(idRef).nullish(),
      has_more: z.boolean().nullish(),
      total_count: z.number().nullish(),
    })
    .nullish(),
  tags: z.looseObject({ data: z.array(idRef).nullish() }).nullish(),
});

const planSchema = z
  .union([z.string(), z.looseObject({ name: z.string().nullish() }), z.array(z.unknown())])
  .nullish()
  .transform((p) => {
    // A company without a plan comes back as `{}` or `[]` rather than null.
    if (typeof p === 'string') return p;
    if (p && !Array.isArray(p)) return p.name ?? null;
    return null;
  });

const companySchema = z.looseObject({
  id: z.string().min(1),
  company_id: z.string(),
  name: str,
  plan: planSchema,
  size: num,
  website: str,
  industry: str,
  monthly_spend: num,
  custom_attributes: attrs,
  remote_created_at: num,
  created_at: z.number(),
  updated_at: z.number(),
  user_count: num,
});

const cursorPages = z
  .looseObject({
    // `next` is a cursor object on list/search, but a URL string on the pages_link variant (Intercom-OpenAPI descriptions/2.14, schema `contact_attached_companies`).
    next: z
      .union([z.looseObject({ starting_after: z.string().nullish() }), z.string()])
      .nullish(),
    page: z.number().nullish(),
    total_pages: z.number().nullish(),
  })
  .nullish();

const listSchema = z.looseObject({
  data: z.array(z.unknown()).nullish(),
  total_count: z.number().nullish(),
  pages: cursorPages,
});

function check<T extends z.ZodType>(schema: T, body: unknown, what: string): z.output<T> {
  if (isNonJsonMarker(body)) {
    const cut = (body as { error: { rawBody?: unknown } }).error.rawBody === TRUNCATED_BODY;
    throw new PayloadShapeError(`${what}: response body ${cut ? 'was cut off' : 'is not valid JSON'}`);
  }
  if (body === TRUNCATED_BODY) throw new PayloadShapeError(`${what}: response body was cut off`);
  const r = schema.safeParse(body);
  if (!r.success) {
    const issues = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new PayloadShapeError(`${what}: ${issues}`);
  }
  return r.data;
}

/**
 * intercom-client hands a 2xx body it could not parse back as `{ ok: false, error: { reason: 'non-json' } }`
 * instead of throwing, so a truncated answer would otherwise look like an object with missing fields.
 */
export function isNonJsonMarker(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { ok?: unknown; error?: { reason?: unknown } };
  return b.ok === false && b.error?.reason === 'non-json';
}

/**
 * The identity of a record that failed its full parse (schema drift: a field of another type, a role we do not
 * know): its id, external_id, email and updated_at where each is still of the documented type, and its role and
 * archived flag when they are. A create whose answer
 * drifted made a contact all the same; its id is what keeps a retry from making a second one.
 */
export function readableIdentity(body: unknown): RecordIdentity | null {
  if (typeof body !== 'object' || body === null || isNonJsonMarker(body)) return null;
  const r = body as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') return null;
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return {
    id: r.id,
    externalId: s(r.external_id),
    email: s(r.email),
    updatedAt: typeof r.updated_at === 'number' ? r.updated_at : null,
    ...(r.role === 'user' || r.role === 'lead' ? { role: r.role } : {}),
    ...(typeof r.archived === 'boolean' ? { archived: r.archived } : {}),
  };
}

export function parseContact(body: unknown): IntercomContact {
  const c = check(contactSchema, body, 'contact');
  const contact: IntercomContact = {
    id: c.id,
    externalId: c.external_id,
    role: c.role,
    email: c.email,
    phone: c.phone,
    name: c.name,
    ownerId: c.owner_id,
    unsubscribedFromEmails: c.unsubscribed_from_emails ?? false,
    customAttributes: c.custom_attributes,
    signedUpAt: c.signed_up_at,
    lastSeenAt: c.last_seen_at,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    companies: {
      ids: (c.companies?.data ?? []).map((r) => r.id),
      // No list object at all says nothing about the contact's companies: treated as a list with more to fetch, so
      // nothing is detached on its account.
      hasMore: c.companies ? (c.companies.has_more ?? false) : true,
      totalCount: c.companies?.total_count ?? c.companies?.data?.length ?? 0,
    },
    tags: (c.tags?.data ?? []).map((t) => t.id),
    raw: body,
  };
  if (c.archived !== undefined) contact.archived = c.archived;
  return contact;
}

export function parseCompany(body: unknown): IntercomCompany {
  const c = check(companySchema, body, 'company');
  return {
    id: c.id,
    companyId: c.company_id,
    name: c.name,
    plan: c.plan,
    size: c.size,
    website: c.website,
    industry: c.industry,
    monthlySpend: c.monthly_spend,
    customAttributes: c.custom_attributes,
    remoteCreatedAt: c.remote_created_at,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    userCount: c.user_count,
    raw: body,
  };
}

function itemsOf<T>(items: unknown[], parse: (x: unknown) => T, what: string): T[] {
  return items.map((item, i) => {
    try {
      return parse(item);
    } catch (err) {
      if (err instanceof PayloadShapeError) throw new PayloadShapeError(`${what}[${i}] ${err.message}`);
      throw err;
    }
  });
}

/**
 * Parses each item on its own: one record of an unexpected shape (a field of another type, a role we do not know) must
 * not cost the page, the watermark or the records beside it. What can be read of a bad record (its id and updated_at)
 * goes with the reason, for the audit row.
 */
function partitionItems<T>(items: unknown[], parse: (x: unknown) => T, what: string): { data: T[]; invalid: InvalidRecord[] } {
  const data: T[] = [];
  const invalid: InvalidRecord[] = [];
  items.forEach((item, i) => {
    try {
      data.push(parse(item));
    } catch (err) {
      if (!(err instanceof PayloadShapeError)) throw err;
      const r = (typeof item === 'object' && item !== null ? item : {}) as { id?: unknown; updated_at?: unknown };
      invalid.push({
        id: typeof r.id === 'string' && r.id !== '' ? r.id : null,
        updatedAt: typeof r.updated_at === 'number' ? r.updated_at : null,
        reason: `${what}[${i}] ${err.message}`,
        identity: readableIdentity(item),
      });
    }
  });
  return { data, invalid };
}

export function parseContactPage(body: unknown): Page<IntercomContact> {
  const l = check(listSchema, body, 'contact list');
  const next = l.pages?.next;
  const items = partitionItems(l.data ?? [], parseContact, 'data');
  return {
    data: items.data,
    invalid: items.invalid,
    totalCount: l.total_count ?? null,
    // An empty cursor means "no more pages" on some answers; treat it like an absent one.
    nextCursor: typeof next === 'object' && next?.starting_after ? next.starting_after : null,
  };
}

/** One page of GET /contacts/{id}/companies; the schema calls the array `companies`, the examples `data`. */
export function parseContactCompaniesPage(body: unknown): {
  data: IntercomCompany[];
  nextCursor: string | null;
  hasNextPageNumber: boolean;
} {
  const s = check(
    z.looseObject({
      data: z.array(z.unknown()).nullish(),
      companies: z.array(z.unknown()).nullish(),
      pages: cursorPages,
    }),
    body,
    'contact companies',
  );
  const next = s.pages?.next;
  const cursor = typeof next === 'object' && next?.starting_after ? next.starting_after : null;
  const byPageNumber =
    typeof next === 'string' ||
    (s.pages?.page != null && s.pages.total_pages != null && s.pages.page < s.pages.total_pages);
  return {
    data: itemsOf(s.data ?? s.companies ?? [], parseCompany, 'data'),
    nextCursor: cursor,
    hasNextPageNumber: cursor === null && byPageNumber,
  };
}

/** GET /companies?company_id= answers a company_list even for one match; some versions answer the company. */
export function parseCompanyLookup(body: unknown): IntercomCompany | null {
  if (typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'company') {
    return parseCompany(body);
  }
  const l = check(listSchema, body, 'company list');
  const first = l.data?.[0];
  return first === undefined ? null : parseCompany(first);
}

export function parseCompanyScroll(body: unknown): { data: IntercomCompany[]; scrollParam: string | null } {
  // An exhausted scroll may answer with no body at all.
  if (body === undefined || body === null || body === '') return { data: [], scrollParam: null };
  const s = check(
    z.looseObject({ data: z.array(z.unknown()).nullish(), scroll_param: z.string().nullish() }),
    body,
    'company scroll',
  );
  const data = itemsOf(s.data ?? [], parseCompany, 'data');
  // The end of a scroll is an empty page (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/scrolloverallcompanies); its scroll_param is already dead.
  return { data, scrollParam: data.length === 0 ? null : (s.scroll_param ?? null) };
}

const dataAttributeSchema = z.looseObject({
  name: z.string(),
  full_name: z.string().nullish(),
  data_type: z.string(),
  custom: z.boolean().nullish(),
  api_writable: z.boolean().nullish(),
  archived: z.boolean().nullish(),
});

export function parseDataAttributes(body: unknown): DataAttribute[] {
  const l = check(z.looseObject({ data: z.array(dataAttributeSchema) }), body, 'data attribute list');
  return l.data.map((a) => ({
    name: a.name,
    fullName: a.full_name ?? a.name,
    dataType: a.data_type,
    custom: a.custom ?? false,
    apiWritable: a.api_writable ?? false,
    archived: a.archived ?? false,
  }));
}

export function parseMe(body: unknown): { appId: string; timezone: string; region: string | null } {
  const m = check(
    z.looseObject({
      app: z.looseObject({ id_code: z.string(), timezone: z.string(), region: str }),
    }),
    body,
    'admin',
  );
  return { appId: m.app.id_code, timezone: m.app.timezone, region: m.app.region };
}

/** Writes and deletes whose answer we do not use still get a minimal check that Intercom did what we asked. */
export function parseAck(body: unknown, what: string): void {
  check(z.looseObject({}), body, what);
}
