// Internal records. ContactData values are immutable snapshots: every write makes a new one, which
// lets the search index hold older versions cheaply while the indexing delay runs.
export type Role = 'user' | 'lead';

export interface ContactData {
  readonly id: string;
  readonly external_id: string | null;
  readonly role: Role;
  readonly email: string | null;
  readonly phone: string | null;
  readonly name: string | null;
  readonly avatar: string | null;
  readonly owner_id: number | null;
  readonly has_hard_bounced: boolean;
  readonly marked_email_as_spam: boolean;
  readonly unsubscribed_from_emails: boolean;
  readonly created_at: number;
  readonly updated_at: number;
  readonly signed_up_at: number | null;
  readonly last_seen_at: number | null;
  readonly last_replied_at: number | null;
  readonly last_contacted_at: number | null;
  readonly last_email_opened_at: number | null;
  readonly last_email_clicked_at: number | null;
  readonly language_override: string | null;
  readonly browser: string | null;
  readonly browser_language: string | null;
  readonly os: string | null;
  readonly location: { readonly country: string | null; readonly region: string | null; readonly city: string | null };
  readonly custom_attributes: Readonly<Record<string, unknown>>;
  readonly tag_ids: readonly string[];
}

export interface PendingIndex {
  at: number; // ms on the simulator clock
  data: ContactData;
}

export interface ContactRecord {
  readonly id: string;
  /** Position in creation order: list order and default search order. */
  readonly seq: number;
  data: ContactData;
  /** Version visible to list/search; null until the first index lands. */
  indexed: ContactData | null;
  pending: PendingIndex[];
  archived: boolean;
  deleted: boolean;
  mergedInto: string | null;
  companyIds: Set<string>;
}

export interface CompanyRecord {
  readonly id: string;
  readonly company_id: string;
  name: string | null;
  plan: string | null;
  size: number | null;
  website: string | null;
  industry: string | null;
  monthly_spend: number;
  session_count: number;
  remote_created_at: number | null;
  created_at: number;
  updated_at: number;
  last_request_at: number | null;
  custom_attributes: Record<string, unknown>;
  tag_ids: string[];
  deleted: boolean;
  contactIds: Set<string>;
}

export interface Tag {
  id: string;
  name: string;
}

export type AttrType = 'string' | 'integer' | 'float' | 'boolean' | 'date';

export interface DataAttribute {
  id: number | null;
  model: 'contact' | 'company';
  name: string;
  full_name: string;
  label: string;
  description: string;
  data_type: AttrType;
  options: string[] | null;
  api_writable: boolean;
  messenger_writable: boolean;
  ui_writable: boolean;
  custom: boolean;
  archived: boolean;
  created_at: number;
  updated_at: number;
}

export const WORKSPACE_ID = 'simapp01';
