import { AttributeRegistry } from './attributes.ts';
import { SimClock } from './clock.ts';
import { CompanyStore } from './companies.ts';
import { ContactStore } from './contacts.ts';
import { FaultInjector } from './faults.ts';
import type { CompanyRecord, ContactRecord } from './model.ts';
import { IdFactory, mulberry32, type Rng } from './prng.ts';
import { driftOf, profileSettings, type Profile, type RealismSettings } from './realism.ts';
import { RateLimiter } from './rate-limit.ts';
import { CompanyScroll } from './scroll.ts';
import { ContactSearch } from './search.ts';
import { seedState, type SeedOptions } from './seed.ts';
import { companyJson, contactJson, type Lookups } from './serializers.ts';
import type { SimSettings } from './settings.ts';
import { Stats } from './stats.ts';

/**
 * Everything the simulator knows, in one in-process handle. Tests use it directly; the control API
 * is a thin HTTP layer over the same methods. The clock, settings, stats and limiter survive reset().
 */
export class SimulatorState {
  readonly clock = new SimClock();
  readonly stats = new Stats();
  readonly limiter: RateLimiter;
  faults!: FaultInjector;
  /** Draws for latency, HTML 403s and scroll 404s: seeded, apart from the fault rules' stream. */
  realismRng!: Rng;
  attributes!: AttributeRegistry;
  contacts!: ContactStore;
  companies!: CompanyStore;
  search!: ContactSearch;
  readonly scroll = new CompanyScroll();

  constructor(
    readonly settings: SimSettings,
    private seed: number,
  ) {
    this.limiter = new RateLimiter(settings.rateLimitPerMinute, settings.workspaceRateLimitPerMinute, settings.rateWindowSeconds);
    this.reset();
  }

  /** Empties all data, open scrolls, search cursors and faults; ids restart from the seed. */
  reset(seed: number = this.seed): void {
    this.seed = seed;
    const rng = mulberry32(seed);
    const ids = new IdFactory(rng);
    // Requests the old rules hold would otherwise wait forever.
    this.faults?.release();
    this.faults = new FaultInjector(mulberry32(seed ^ 0xfa017));
    this.realismRng = mulberry32(seed ^ 0x7ea1);
    this.attributes = new AttributeRegistry(() => this.clock.nowSeconds());
    let companies: CompanyStore | null = null;
    this.contacts = new ContactStore(this.clock, this.settings, this.attributes, ids, {
      detachAll: (rec) => companies!.detachAll(rec),
      attach: (rec, companyId) => companies!.attach(rec, companyId),
    });
    companies = new CompanyStore(this.clock, this.attributes, ids, (id) => this.contacts.get(id));
    this.companies = companies;
    this.search = new ContactSearch(this.contacts, this.attributes, () => this.settings.cursorIdleSeconds);
    this.scroll.reset();
  }

  seedData(opts: SeedOptions): { contacts: number; companies: number } {
    return seedState(this, opts);
  }

  applySettings(patch: Partial<SimSettings>): SimSettings {
    Object.assign(this.settings, patch);
    this.limiter.limitPerMinute = this.settings.rateLimitPerMinute;
    this.limiter.workspaceLimitPerMinute = this.settings.workspaceRateLimitPerMinute;
    this.limiter.windowSeconds = this.settings.rateWindowSeconds;
    return { ...this.settings };
  }

  /** Resets every realism setting to the profile's preset (the in-process twin of `{"profile": …}` on /__sim/config). */
  applyProfile(profile: Profile, overrides: Partial<RealismSettings> = {}): SimSettings {
    return this.applySettings({ ...profileSettings(profile), ...structuredClone(overrides), profile });
  }

  get lookups(): Lookups {
    const { embeddedLists, embeddedListLimit, schemaDriftRate } = this.settings;
    return {
      tags: this.contacts.tags,
      companyIdsOf: (id) => [...(this.contacts.byId.get(id)?.companyIds ?? [])],
      embedded: { mode: embeddedLists, limit: embeddedListLimit },
      ...(schemaDriftRate > 0 ? { driftOf: (id: string) => driftOf(id, schemaDriftRate, this.seed) } : {}),
    };
  }

  contactJson(rec: ContactRecord) {
    return contactJson(rec.data, this.lookups);
  }

  companyJson(c: CompanyRecord) {
    return companyJson(c, this.contacts.tags);
  }

  /** Full internal view of one contact for test assertions, including archived/merged flags; never drifted. */
  inspectContact(rec: ContactRecord) {
    const nowMs = this.clock.nowMs();
    const indexed = this.contacts.indexedView(rec, nowMs);
    const { driftOf: _drift, ...lookups } = this.lookups;
    return {
      contact: contactJson(rec.data, lookups),
      indexed: indexed ? contactJson(indexed, lookups) : null,
      archived: rec.archived,
      deleted: rec.deleted,
      merged_into: rec.mergedInto,
      visible_in_search: this.contacts.visibleInIndex(rec, nowMs) !== null,
      pending_index_at: rec.pending.length > 0 ? Math.ceil(rec.pending.at(-1)!.at / 1000) : null,
      company_ids: [...rec.companyIds],
      tags: rec.data.tag_ids.map((id) => this.contacts.tags.get(id)),
    };
  }

  inspectCompany(c: CompanyRecord) {
    return {
      company: this.companyJson(c),
      deleted: c.deleted,
      visible_in_list: !c.deleted && c.contactIds.size > 0,
      contact_ids: [...c.contactIds],
    };
  }

  /** Finds any contact record, including deleted and merged ones, by Intercom id or external_id. */
  findContactAnyState(key: { id?: string; external_id?: string; email?: string }): ContactRecord[] {
    if (key.id !== undefined) {
      const r = this.contacts.byId.get(key.id);
      return r ? [r] : [];
    }
    return this.contacts.order.filter(
      (r) =>
        (key.external_id !== undefined && r.data.external_id === key.external_id) ||
        (key.email !== undefined && r.data.email?.toLowerCase() === key.email.toLowerCase()),
    );
  }

  findCompanyAnyState(key: { id?: string; company_id?: string }): CompanyRecord[] {
    if (key.id !== undefined) {
      const c = this.companies.byId.get(key.id);
      return c ? [c] : [];
    }
    return [...this.companies.byId.values()].filter((c) => c.company_id === key.company_id);
  }
}
