import type { AttributeRegistry } from './attributes.ts';
import type { SimClock } from './clock.ts';
import type { ContactLinks } from './contacts.ts';
import { ApiError, invalidParam, notFoundCompany } from './errors.ts';
import type { CompanyRecord, ContactRecord } from './model.ts';
import type { IdFactory } from './prng.ts';

const CREATE_FIELDS = [
  'name',
  'company_id',
  'plan',
  'size',
  'website',
  'industry',
  'custom_attributes',
  'remote_created_at',
  'monthly_spend',
];
// Only the control API may set these: Intercom derives them from activity.
const CONTROL_FIELDS = ['last_request_at', 'session_count', 'created_at', 'updated_at'];
const MAX_SPEND = 2 ** 31 - 1;
export const MAX_COMPANIES_PER_CONTACT = 1000;

export interface CompanyInput {
  name?: string;
  company_id?: string;
  plan?: string;
  size?: number;
  website?: string;
  industry?: string;
  custom_attributes?: Record<string, unknown>;
  remote_created_at?: number;
  monthly_spend?: number;
  last_request_at?: number;
  session_count?: number;
  created_at?: number;
  /** Stamped as given instead of the write's time (see ContactInput.updated_at). */
  updated_at?: number;
}

export function parseCompanyInput(raw: unknown, mode: 'create' | 'update', control: boolean): CompanyInput {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError(400, 'bad_request', 'Request body must be a JSON object');
  const body = raw as Record<string, unknown>;
  const allowed = [...CREATE_FIELDS, ...(control ? CONTROL_FIELDS : [])].filter(
    (k) => mode === 'create' || k !== 'company_id',
  );
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(body)) {
    if (!allowed.includes(key)) throw new ApiError(400, 'bad_request', `bad '${key}' parameter`);
    if (v === null || v === undefined) continue;
    switch (key) {
      case 'name':
      case 'company_id':
      case 'plan':
      case 'website':
      case 'industry':
        if (typeof v !== 'string') throw invalidParam(`${key} must be a string`, key);
        out[key] = v;
        break;
      case 'monthly_spend':
        if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidParam('monthly_spend must be a number', key);
        // Intercom cuts floats down to whole numbers.
        if (Math.trunc(v) > MAX_SPEND || v < 0) throw invalidParam(`monthly_spend must be between 0 and ${MAX_SPEND}`, key);
        out[key] = Math.trunc(v);
        break;
      case 'custom_attributes':
        if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam('custom_attributes must be an object', key);
        out[key] = v;
        break;
      default:
        if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParam(`${key} must be an integer`, key);
        out[key] = v;
    }
  }
  return out;
}

export class CompanyStore implements ContactLinks {
  readonly byId = new Map<string, CompanyRecord>();
  private readonly byCompanyId = new Map<string, CompanyRecord>();

  constructor(
    private readonly clock: SimClock,
    private readonly attributes: AttributeRegistry,
    private readonly ids: IdFactory,
    private readonly contact: (id: string) => ContactRecord,
  ) {}

  get(id: string): CompanyRecord {
    const c = this.byId.get(id);
    if (!c || c.deleted) throw notFoundCompany();
    return c;
  }

  findByCompanyId(companyId: string): CompanyRecord | undefined {
    return this.byCompanyId.get(companyId);
  }

  live(): CompanyRecord[] {
    return [...this.byId.values()].filter((c) => !c.deleted);
  }

  /** Listing hides companies without attached contacts (Intercom-OpenAPI descriptions/2.14, listAllCompanies). */
  visible(): CompanyRecord[] {
    return this.live().filter((c) => c.contactIds.size > 0);
  }

  /** Create-or-update keyed by company_id. */
  upsert(input: CompanyInput): CompanyRecord {
    const custom = this.attributes.validateValues('company', input.custom_attributes);
    const existing = input.company_id !== undefined ? this.byCompanyId.get(input.company_id) : undefined;
    const now = this.clock.nowSeconds();
    if (existing) {
      this.apply(existing, input, custom, now);
      return existing;
    }
    const createdAt = input.created_at ?? now;
    const id = this.ids.next(createdAt);
    const c: CompanyRecord = {
      id,
      company_id: input.company_id ?? id,
      name: null,
      plan: null,
      size: null,
      website: null,
      industry: null,
      monthly_spend: 0,
      session_count: 0,
      remote_created_at: null,
      created_at: createdAt,
      updated_at: createdAt,
      last_request_at: null,
      custom_attributes: {},
      tag_ids: [],
      deleted: false,
      contactIds: new Set(),
    };
    this.apply(c, input, custom, createdAt);
    this.byId.set(id, c);
    this.byCompanyId.set(c.company_id, c);
    return c;
  }

  update(id: string, input: CompanyInput): CompanyRecord {
    const c = this.get(id);
    this.apply(c, input, this.attributes.validateValues('company', input.custom_attributes), this.clock.nowSeconds());
    return c;
  }

  private apply(c: CompanyRecord, input: CompanyInput, custom: Record<string, unknown>, now: number): void {
    const { company_id: _ignored, custom_attributes: _ca, created_at: _created, updated_at: stamped, ...fields } = input;
    Object.assign(c, fields);
    for (const [k, v] of Object.entries(custom)) {
      if (v === null) delete c.custom_attributes[k];
      else c.custom_attributes[k] = v;
    }
    c.updated_at = stamped ?? Math.max(now, c.created_at);
  }

  /** Archives rather than hard-deletes and detaches every contact (Intercom-OpenAPI descriptions/2.14, deleteCompany). */
  delete(id: string): CompanyRecord {
    const c = this.get(id);
    c.deleted = true;
    if (this.byCompanyId.get(c.company_id) === c) this.byCompanyId.delete(c.company_id);
    for (const contactId of c.contactIds) this.contactOrNull(contactId)?.companyIds.delete(c.id);
    c.contactIds.clear();
    return c;
  }

  private contactOrNull(id: string): ContactRecord | null {
    try {
      return this.contact(id);
    } catch {
      return null;
    }
  }

  attachById(contactId: string, companyId: unknown): CompanyRecord {
    const rec = this.contact(contactId);
    if (typeof companyId !== 'string' || companyId === '') {
      throw new ApiError(400, 'parameter_not_found', 'company not specified');
    }
    const c = this.get(companyId);
    if (!rec.companyIds.has(c.id) && rec.companyIds.size >= MAX_COMPANIES_PER_CONTACT) {
      throw new ApiError(
        400,
        'contact_company_limit_exceeded',
        `Contact has reached the maximum of ${MAX_COMPANIES_PER_CONTACT} company associations`,
      );
    }
    this.attach(rec, c.id);
    return c;
  }

  detachById(contactId: string, companyId: string): CompanyRecord {
    const rec = this.contact(contactId);
    const c = this.get(companyId);
    if (rec.companyIds.delete(c.id)) {
      c.contactIds.delete(rec.id);
      c.updated_at = Math.max(this.clock.nowSeconds(), c.created_at);
    }
    return c;
  }

  // ContactLinks: attaching touches the company's updated_at but not the contact's, so contact-side
  // incremental pulls do not see membership changes (a drift the daemon's sweeps must catch).
  attach(rec: ContactRecord, companyId: string, touch = true): void {
    const c = this.byId.get(companyId);
    if (!c || c.deleted || rec.companyIds.has(companyId)) return;
    rec.companyIds.add(companyId);
    c.contactIds.add(rec.id);
    if (touch) c.updated_at = Math.max(this.clock.nowSeconds(), c.created_at);
  }

  detachAll(rec: ContactRecord): string[] {
    const ids = [...rec.companyIds];
    for (const id of ids) this.byId.get(id)?.contactIds.delete(rec.id);
    rec.companyIds.clear();
    return ids;
  }
}
