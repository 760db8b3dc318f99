import type { AttributeRegistry } from './attributes.ts';
import type { SimClock } from './clock.ts';
import type { ContactInput } from './contact-input.ts';
import { ApiError, notFoundContact } from './errors.ts';
import type { ContactData, ContactRecord, Tag } from './model.ts';
import type { IdFactory } from './prng.ts';
import type { SimSettings } from './settings.ts';

/** Company links live in the company store; contacts reach them through this port. */
export interface ContactLinks {
  /** Detaches a contact from every company; returns the company ids it had. */
  detachAll(rec: ContactRecord): string[];
  attach(rec: ContactRecord, companyId: string): void;
}

export interface WriteOptions {
  /** Leave updated_at alone: models changes Intercom makes without bumping it (tagging). */
  silent?: boolean;
}

const lower = (s: string | null) => (s === null ? null : s.toLowerCase());

export class ContactStore {
  readonly byId = new Map<string, ContactRecord>();
  /** Creation order; deleted and merged records stay in place and are skipped. */
  readonly order: ContactRecord[] = [];
  private readonly byExternalId = new Map<string, ContactRecord>();
  private readonly byEmail = new Map<string, Set<ContactRecord>>();
  readonly tags = new Map<string, Tag>();
  private nextTagId = 1;
  /** Bumped on every change; lets search caches notice staleness. */
  version = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly settings: SimSettings,
    private readonly attributes: AttributeRegistry,
    private readonly ids: IdFactory,
    private readonly links: ContactLinks,
  ) {}

  /** A live record: not deleted, not merged away. Archived ones are still live. */
  get(id: string): ContactRecord {
    const rec = this.byId.get(id);
    if (!rec || rec.deleted || rec.mergedInto) throw notFoundContact();
    return rec;
  }

  findByExternalId(externalId: string): ContactRecord | undefined {
    return this.byExternalId.get(externalId);
  }

  findByEmail(email: string): ContactRecord[] {
    return [...(this.byEmail.get(email.toLowerCase()) ?? [])];
  }

  /** The version list and search see right now ("Contact Creation Delay" in https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts). */
  indexedView(rec: ContactRecord, nowMs: number): ContactData | null {
    while (rec.pending.length > 0 && rec.pending[0]!.at <= nowMs) rec.indexed = rec.pending.shift()!.data;
    return rec.indexed;
  }

  visibleInIndex(rec: ContactRecord, nowMs: number): ContactData | null {
    if (rec.deleted || rec.mergedInto || rec.archived) return null;
    return this.indexedView(rec, nowMs);
  }

  private write(rec: ContactRecord, data: ContactData): void {
    this.unindex(rec);
    rec.data = data;
    this.index(rec);
    this.version += 1;
    const delayMs = this.settings.indexingDelaySeconds * 1000;
    if (delayMs <= 0) {
      rec.indexed = data;
      rec.pending.length = 0;
    } else {
      rec.pending.push({ at: this.clock.nowMs() + delayMs, data });
    }
  }

  private index(rec: ContactRecord): void {
    if (rec.deleted || rec.mergedInto) return;
    const { external_id, email } = rec.data;
    if (external_id !== null) this.byExternalId.set(external_id, rec);
    const e = lower(email);
    if (e !== null) {
      let set = this.byEmail.get(e);
      if (!set) this.byEmail.set(e, (set = new Set()));
      set.add(rec);
    }
  }

  private unindex(rec: ContactRecord): void {
    const { external_id, email } = rec.data;
    if (external_id !== null && this.byExternalId.get(external_id) === rec) this.byExternalId.delete(external_id);
    const e = lower(email);
    if (e !== null) this.byEmail.get(e)?.delete(rec);
  }

  /** 409 rules (https://github.com/intercom/Intercom-OpenAPI/pull/543): external_id is unique; a lead's email is unique among leads. */
  private assertUnique(candidate: ContactData, self: ContactRecord | null): void {
    // The archived wording is Intercom's own (forum "how-to-unarchive-a-contact", Intercom-OpenAPI PR #543).
    const conflict = (other: ContactRecord) =>
      new ApiError(
        409,
        'conflict',
        other.archived && this.settings.conflictWording === 'archived'
          ? `An archived contact matching those details already exists with id=${other.id}`
          : `A contact matching those details already exists with id=${other.id}`,
      );
    if (candidate.external_id !== null) {
      const other = this.byExternalId.get(candidate.external_id);
      if (other && other !== self) throw conflict(other);
    }
    const e = lower(candidate.email);
    if (e !== null) {
      for (const other of this.byEmail.get(e) ?? []) {
        if (other === self || other.data.role !== candidate.role) continue;
        // Intercom deduplicates users, not leads (segmentio/action-destinations PR #627).
        if (candidate.role === 'lead' && this.settings.duplicateLeadsAllowed) continue;
        // Users are keyed by external_id; two users may share an email as long as one has an external_id.
        if (candidate.role === 'lead' || (candidate.external_id === null && other.data.external_id === null)) {
          throw conflict(other);
        }
      }
    }
  }

  create(input: ContactInput): ContactRecord {
    if (input.role === undefined && input.email == null && input.external_id == null) {
      throw new ApiError(400, 'parameter_not_found', 'One of email, external_id or role is required');
    }
    const custom = this.attributes.validateValues('contact', input.custom_attributes);
    const now = this.clock.nowSeconds();
    const createdAt = input.created_at ?? now;
    const id = this.ids.next(createdAt);
    const role = input.role ?? 'user';
    const data: ContactData = {
      id,
      external_id: this.leadExternalId(role, input.external_id ?? null),
      role,
      email: input.email ?? null,
      phone: input.phone ?? null,
      name: input.name ?? null,
      avatar: input.avatar ?? null,
      owner_id: input.owner_id ?? null,
      has_hard_bounced: input.has_hard_bounced ?? false,
      marked_email_as_spam: input.marked_email_as_spam ?? false,
      unsubscribed_from_emails: input.unsubscribed_from_emails ?? false,
      created_at: createdAt,
      updated_at: input.updated_at ?? Math.max(createdAt, input.created_at === undefined ? now : createdAt),
      signed_up_at: input.signed_up_at ?? (role === 'user' ? createdAt : null),
      last_seen_at: input.last_seen_at ?? null,
      last_replied_at: input.last_replied_at ?? null,
      last_contacted_at: input.last_contacted_at ?? null,
      last_email_opened_at: null,
      last_email_clicked_at: null,
      language_override: null,
      browser: null,
      browser_language: null,
      os: null,
      location: { country: null, region: null, city: null },
      custom_attributes: dropNulls(custom),
      tag_ids: [],
    };
    this.assertUnique(data, null);
    const rec: ContactRecord = {
      id,
      seq: this.order.length,
      data,
      indexed: null,
      pending: [],
      archived: false,
      deleted: false,
      mergedInto: null,
      companyIds: new Set(),
    };
    this.byId.set(id, rec);
    this.order.push(rec);
    this.write(rec, data);
    return rec;
  }

  /** Partial update; custom_attributes merge key by key; every successful write bumps updated_at. */
  update(id: string, input: ContactInput, opts: WriteOptions = {}): ContactRecord {
    const rec = this.get(id);
    if (input.role === 'lead' && rec.data.role === 'user') {
      throw new ApiError(400, 'parameter_invalid', 'A user cannot be converted to a lead', 'role');
    }
    const custom = this.attributes.validateValues('contact', input.custom_attributes);
    if (input.external_id != null) {
      const kept = this.leadExternalId(input.role ?? rec.data.role, input.external_id);
      if (kept === null) {
        const { external_id: _dropped, ...rest } = input;
        input = rest;
      }
    }
    const next: Record<string, unknown> = { ...rec.data };
    for (const [k, v] of Object.entries(input)) {
      if (k !== 'custom_attributes' && k !== 'created_at' && k !== 'updated_at' && v !== undefined) next[k] = v;
    }
    next.custom_attributes = dropNulls({ ...rec.data.custom_attributes, ...custom });
    if (input.updated_at !== undefined) next.updated_at = input.updated_at;
    else if (!opts.silent) next.updated_at = Math.max(this.clock.nowSeconds(), rec.data.created_at);
    // rec.data (a ContactData) with input fields laid over it, each validated above against Intercom's rules.
    const data = next as unknown as ContactData;
    this.assertUnique(data, rec);
    this.write(rec, data);
    return rec;
  }

  tag(id: string, name: string, add: boolean): ContactRecord {
    const rec = this.get(id);
    const tag = this.tagByName(name);
    const has = rec.data.tag_ids.includes(tag.id);
    if (add === has) return rec;
    const tag_ids = add ? [...rec.data.tag_ids, tag.id] : rec.data.tag_ids.filter((t) => t !== tag.id);
    // Tagging leaves updated_at alone, as Intercom does (https://github.com/singer-io/tap-intercom/issues/50).
    this.write(rec, { ...rec.data, tag_ids });
    return rec;
  }

  tagByName(name: string): Tag {
    for (const t of this.tags.values()) if (t.name === name) return t;
    const tag = { id: String(1000 + this.nextTagId++), name };
    this.tags.set(tag.id, tag);
    return tag;
  }

  delete(id: string): ContactRecord {
    const rec = this.get(id);
    this.unindex(rec);
    rec.deleted = true;
    this.version += 1;
    this.links.detachAll(rec);
    return rec;
  }

  /**
   * Whether a lead may carry an external_id is unverified: Segment's identifyContact says Intercom does not
   * accept one. The setting offers each reading (docs/simulator.md).
   */
  private leadExternalId(role: string, externalId: string | null): string | null {
    if (externalId === null || role !== 'lead') return externalId;
    if (this.settings.leadExternalId === 'drop') return null;
    if (this.settings.leadExternalId === 'reject') {
      throw new ApiError(400, 'parameter_invalid', 'external_id is not supported for leads', 'external_id');
    }
    return externalId;
  }

  /** The person came back (logged in, visited): unarchived, last seen now, updated_at bumped. */
  seenAgain(id: string): ContactRecord {
    const rec = this.get(id);
    rec.archived = false;
    const now = this.clock.nowSeconds();
    this.write(rec, { ...rec.data, last_seen_at: now, updated_at: Math.max(now, rec.data.created_at) });
    return rec;
  }

  setArchived(id: string, archived: boolean): ContactRecord {
    const rec = this.get(id);
    rec.archived = archived;
    this.version += 1;
    return rec;
  }

  merge(fromId: string, intoId: string): ContactRecord {
    const from = this.get(fromId);
    const into = this.get(intoId);
    const impossible = (msg: string) => new ApiError(400, 'merge_not_possible', msg);
    if (from === into) throw impossible('Cannot merge a contact into itself');
    if (from.data.role !== 'lead') throw impossible('Only a lead can be merged: the from contact must have the role lead');
    if (into.data.role !== 'user') throw impossible('A lead can only be merged into a user: the into contact must have the role user');
    const a = from.data;
    const b = into.data;
    const merged: ContactData = {
      ...b,
      email: b.email ?? a.email,
      phone: b.phone ?? a.phone,
      name: b.name ?? a.name,
      avatar: b.avatar ?? a.avatar,
      owner_id: b.owner_id ?? a.owner_id,
      last_seen_at: maxNullable(a.last_seen_at, b.last_seen_at),
      custom_attributes: { ...a.custom_attributes, ...b.custom_attributes },
      tag_ids: [...new Set([...b.tag_ids, ...a.tag_ids])],
      updated_at: Math.max(this.clock.nowSeconds(), b.updated_at),
    };
    this.unindex(from);
    from.mergedInto = into.id;
    const companies = this.links.detachAll(from);
    this.write(into, merged);
    for (const c of companies) this.links.attach(into, c);
    return into;
  }
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}

function maxNullable(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
