import type { CompanyRecord, ContactData, ContactRecord, DataAttribute, Tag } from './model.ts';
import { WORKSPACE_ID } from './model.ts';
import { applyDrift, type DriftKind, type EmbeddedListMode } from './realism.ts';

// Response bodies shaped like the 2.14 schemas and recorded examples (openapi-2.14-subset.yaml).
export interface Lookups {
  tags: ReadonlyMap<string, Tag>;
  companyIdsOf: (contactId: string) => readonly string[];
  /** Embedded lists: at most `limit` items; 'honest' caps companies only and says has_more. */
  embedded?: { mode: EmbeddedListMode; limit: number };
  /** Schema drift for this contact, if any (realism setting schema_drift_rate). */
  driftOf?: (contactId: string) => DriftKind | null;
}

const DEFAULT_EMBEDDED = { mode: 'honest' as EmbeddedListMode, limit: 10 };

/**
 * In 'has_more_false' mode every embedded list is cut at the limit and still says `has_more: false`, as a
 * recorded live contact does (estuary/connectors source-intercom-native snapshot: total_count 14, 11 items).
 */
function summary(url: string, all: unknown[], capped: boolean, embedded: { mode: EmbeddedListMode; limit: number }) {
  const data = capped || embedded.mode === 'has_more_false' ? all.slice(0, embedded.limit) : all;
  const hasMore = embedded.mode === 'honest' && all.length > data.length;
  return { type: 'list', data, url, total_count: all.length, has_more: hasMore };
}

export function contactJson(c: ContactData, lookups: Lookups) {
  const embedded = lookups.embedded ?? DEFAULT_EMBEDDED;
  const companies = lookups.companyIdsOf(c.id).map((id) => ({ id, type: 'company', url: `/companies/${id}` }));
  const tags = c.tag_ids.map((id) => ({ type: 'tag', id, url: `/tags/${id}` }));
  const json = contactBody(c, embedded, companies, tags);
  const drift = lookups.driftOf?.(c.id) ?? null;
  return drift ? applyDrift(json, drift) : json;
}

function contactBody(
  c: ContactData,
  embedded: { mode: EmbeddedListMode; limit: number },
  companies: unknown[],
  tags: unknown[],
): Record<string, unknown> {
  return {
    type: 'contact',
    id: c.id,
    workspace_id: WORKSPACE_ID,
    external_id: c.external_id,
    role: c.role,
    // The schema declares email and email_domain as non-nullable strings.
    email: c.email ?? '',
    email_domain: c.email?.split('@')[1] ?? '',
    phone: c.phone,
    name: c.name,
    avatar: c.avatar === null ? null : { type: 'avatar', image_url: c.avatar },
    owner_id: c.owner_id,
    social_profiles: { type: 'list', data: [] },
    has_hard_bounced: c.has_hard_bounced,
    marked_email_as_spam: c.marked_email_as_spam,
    unsubscribed_from_emails: c.unsubscribed_from_emails,
    created_at: c.created_at,
    updated_at: c.updated_at,
    signed_up_at: c.signed_up_at,
    last_seen_at: c.last_seen_at,
    last_replied_at: c.last_replied_at,
    last_contacted_at: c.last_contacted_at,
    last_email_opened_at: c.last_email_opened_at,
    last_email_clicked_at: c.last_email_clicked_at,
    language_override: c.language_override,
    browser: c.browser,
    browser_version: null,
    browser_language: c.browser_language,
    os: c.os,
    location: { type: 'location', ...c.location, country_code: null, continent_code: null },
    android_app_name: null,
    android_app_version: null,
    android_device: null,
    android_os_version: null,
    android_sdk_version: null,
    android_last_seen_at: null,
    ios_app_name: null,
    ios_app_version: null,
    ios_device: null,
    ios_os_version: null,
    ios_sdk_version: null,
    ios_last_seen_at: null,
    custom_attributes: { ...c.custom_attributes },
    tags: summary(`/contacts/${c.id}/tags`, tags, false, embedded),
    notes: summary(`/contacts/${c.id}/notes`, [], false, embedded),
    companies: summary(`/contacts/${c.id}/companies`, companies, true, embedded),
    opted_out_subscription_types: summary(`/contacts/${c.id}/subscriptions`, [], false, embedded),
    opted_in_subscription_types: summary(`/contacts/${c.id}/subscriptions`, [], false, embedded),
    utm_campaign: null,
    utm_content: null,
    utm_medium: null,
    utm_source: null,
    utm_term: null,
    referrer: null,
    enabled_push_messaging: null,
  };
}

export function contactRef(rec: ContactRecord) {
  return { type: 'contact', id: rec.id, external_id: rec.data.external_id };
}

export function companyJson(c: CompanyRecord, tags: ReadonlyMap<string, Tag>) {
  const out: Record<string, unknown> = {
    type: 'company',
    company_id: c.company_id,
    id: c.id,
    app_id: WORKSPACE_ID,
    name: c.name ?? '',
    remote_created_at: c.remote_created_at ?? c.created_at,
    created_at: c.created_at,
    updated_at: c.updated_at,
    monthly_spend: c.monthly_spend,
    session_count: c.session_count,
    user_count: c.contactIds.size,
    tags: {
      type: 'tag.list',
      tags: c.tag_ids.map((id) => ({ type: 'tag', id, name: tags.get(id)?.name ?? id })),
    },
    segments: { type: 'segment.list', segments: [] },
    plan: c.plan === null ? {} : { type: 'plan', id: planId(c.plan), name: c.plan },
    custom_attributes: { ...c.custom_attributes },
  };
  // Optional fields are left out rather than sent as null: the schema declares them non-nullable.
  if (c.last_request_at !== null) out.last_request_at = c.last_request_at;
  if (c.size !== null) out.size = c.size;
  if (c.website !== null) out.website = c.website;
  if (c.industry !== null) out.industry = c.industry;
  return out;
}

function planId(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return String(h % 1_000_000);
}

export function dataAttributeJson(a: DataAttribute) {
  const out: Record<string, unknown> = {
    type: 'data_attribute',
    name: a.name,
    full_name: a.full_name,
    label: a.label,
    description: a.description,
    data_type: a.data_type,
    api_writable: a.api_writable,
    ui_writable: a.ui_writable,
    messenger_writable: a.messenger_writable,
    custom: a.custom,
    archived: a.archived,
    model: a.model,
  };
  if (a.id !== null) {
    out.id = a.id;
    out.created_at = a.created_at;
    out.updated_at = a.updated_at;
  }
  if (a.options) out.options = a.options;
  return out;
}

export function cursorPages(page: number, perPage: number, total: number, next: string | null) {
  const pages: Record<string, unknown> = {
    type: 'pages',
    page,
    per_page: perPage,
    total_pages: Math.ceil(total / perPage),
  };
  if (next !== null) pages.next = { per_page: perPage, starting_after: next };
  return pages;
}
