/**
 * The snapshot contract between the sync engines (src/sync/) and their stores (src/db/): the canonical, comparable
 * form of a contact or company, which sync_mappings.base_snapshot holds as the base both sides last agreed on. It sits
 * below both layers so that each may import it without importing the other (docs/ARCHITECTURE.md "Layers");
 * src/sync/snapshot.ts builds, hashes and compares snapshots.
 *
 * A snapshot holds the fields both sides own, normalised so that a local row and an Intercom payload describing the
 * same state produce the same snapshot and hash; it is the base of every three-way merge and of the push diff. The
 * schemas are the one definition: the types are inferred from them, and a stored base is parsed with them where it is
 * read (src/db/queries/mappings.ts), so a jsonb column never reaches the sync core as an unchecked record.
 */
import { z } from 'zod';

// Custom attributes are checked as a plain object and passed through as they are: z.record would rebuild the
// object and silently drop an own "__proto__" key, and attribute names are data (see setOwn in src/sync/push/diff.ts).
const attrs = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'custom_attributes must be an object',
);

export const contactSnapshotSchema = z.object({
  external_id: z.string().nullable(),
  role: z.enum(['user', 'lead']),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  name: z.string().nullable(),
  owner_id: z.number().nullable(),
  unsubscribed_from_emails: z.boolean(),
  signed_up_at: z.number().nullable(),
  last_seen_at: z.number().nullable(),
  custom_attributes: attrs,
});

export const companySnapshotSchema = z.object({
  company_id: z.string(),
  name: z.string().nullable(),
  plan: z.string().nullable(),
  size: z.number().nullable(),
  website: z.string().nullable(),
  industry: z.string().nullable(),
  monthly_spend: z.number().nullable(),
  remote_created_at: z.number().nullable(),
  custom_attributes: attrs,
});

// Type aliases (not interfaces) on purpose: an object type alias is assignable to Record<string, unknown>, which is
// what lets the field-by-field diff walk a snapshot without casts.
export type ContactSnapshot = z.infer<typeof contactSnapshotSchema>;
export type CompanySnapshot = z.infer<typeof companySnapshotSchema>;

/** Which snapshot each entity's mapping stores as its base. */
export interface SnapshotByEntity {
  contact: ContactSnapshot;
  company: CompanySnapshot;
}

export const snapshotSchemas: { [E in keyof SnapshotByEntity]: z.ZodType<SnapshotByEntity[E]> } = {
  contact: contactSnapshotSchema,
  company: companySnapshotSchema,
};

export const CONTACT_FIELDS = [
  'external_id',
  'role',
  'email',
  'phone',
  'name',
  'owner_id',
  'unsubscribed_from_emails',
  'signed_up_at',
  'last_seen_at',
  'custom_attributes',
] as const satisfies readonly (keyof ContactSnapshot)[];

export const COMPANY_FIELDS = [
  'company_id',
  'name',
  'plan',
  'size',
  'website',
  'industry',
  'monthly_spend',
  'remote_created_at',
  'custom_attributes',
] as const satisfies readonly (keyof CompanySnapshot)[];

export type Snapshot = ContactSnapshot | CompanySnapshot;
