import { ApiError, invalidParam } from './errors.ts';
import type { Role } from './model.ts';

// Request validation for contact writes (create_contact_request / update_contact_request).
export interface ContactInput {
  role?: Role;
  external_id?: string | null;
  email?: string | null;
  phone?: string | null;
  name?: string | null;
  avatar?: string | null;
  signed_up_at?: number | null;
  last_seen_at?: number | null;
  owner_id?: number | null;
  unsubscribed_from_emails?: boolean;
  custom_attributes?: Record<string, unknown>;
  // Only writable through the control API: things Intercom itself sets.
  has_hard_bounced?: boolean;
  marked_email_as_spam?: boolean;
  last_replied_at?: number | null;
  last_contacted_at?: number | null;
  created_at?: number;
  /** Stamped as given instead of the write's time: a record whose updated_at Intercom holds wrongly (a skewed import). */
  updated_at?: number;
}

const API_FIELDS = [
  'role',
  'external_id',
  'email',
  'phone',
  'name',
  'avatar',
  'signed_up_at',
  'last_seen_at',
  'owner_id',
  'unsubscribed_from_emails',
  'custom_attributes',
] as const;
const CONTROL_FIELDS = ['has_hard_bounced', 'marked_email_as_spam', 'last_replied_at', 'last_contacted_at', 'created_at', 'updated_at'];

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function str(body: Record<string, unknown>, key: string, nullable: boolean): string | null | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (v === null && nullable) return null;
  if (typeof v !== 'string') throw invalidParam(`${key} must be a string`, key);
  return v;
}

function int(body: Record<string, unknown>, key: string): number | null | undefined {
  const v = body[key];
  if (v === undefined || v === null) return v;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParam(`${key} must be an integer`, key);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParam(`${key} must be a boolean`, key);
  return v;
}

export function parseContactInput(raw: unknown, allowControlFields: boolean): ContactInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ApiError(400, 'bad_request', 'Request body must be a JSON object');
  }
  const body = raw as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    const known = (API_FIELDS as readonly string[]).includes(key) || (allowControlFields && CONTROL_FIELDS.includes(key));
    if (!known) throw new ApiError(400, 'bad_request', `bad '${key}' parameter`);
  }
  const out: ContactInput = {};
  const role = str(body, 'role', false);
  if (role !== undefined) {
    if (role !== 'user' && role !== 'lead') throw invalidParam("role must be either 'user' or 'lead'", 'role');
    out.role = role;
  }
  const externalId = str(body, 'external_id', true);
  if (externalId !== undefined) {
    if (externalId !== null && externalId.trim() === '') throw invalidParam('external_id cannot be blank', 'external_id');
    out.external_id = externalId;
  }
  const email = str(body, 'email', true);
  if (email !== undefined) {
    if (email !== null && email !== '' && !EMAIL_RE.test(email)) {
      throw new ApiError(400, 'data_invalid', 'The email address is invalid', 'email');
    }
    out.email = email === '' ? null : email;
  }
  for (const key of ['phone', 'name', 'avatar'] as const) {
    const v = str(body, key, true);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['signed_up_at', 'last_seen_at', 'owner_id', 'last_replied_at', 'last_contacted_at'] as const) {
    const v = int(body, key);
    if (v !== undefined) out[key] = v;
  }
  const createdAt = int(body, 'created_at');
  if (createdAt !== undefined && createdAt !== null) out.created_at = createdAt;
  const updatedAt = int(body, 'updated_at');
  if (updatedAt !== undefined && updatedAt !== null) out.updated_at = updatedAt;
  for (const key of ['unsubscribed_from_emails', 'has_hard_bounced', 'marked_email_as_spam'] as const) {
    const v = bool(body, key);
    if (v !== undefined) out[key] = v;
  }
  const ca = body.custom_attributes;
  if (ca !== undefined && ca !== null) {
    if (typeof ca !== 'object' || Array.isArray(ca)) {
      throw invalidParam('custom_attributes must be an object', 'custom_attributes');
    }
    out.custom_attributes = ca as Record<string, unknown>;
  }
  return out;
}
