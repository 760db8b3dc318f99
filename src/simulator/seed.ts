import type { SimulatorState } from './state.ts';
import { mulberry32 } from './prng.ts';

// Deterministic fixtures: the same seed and counts give the same records and ids. Timestamps are laid
// out before a fixed base date so they do not depend on the wall clock either.
export const SEED_BASE = 1_735_689_600; // 2025-01-01T00:00:00Z
const YEAR = 365 * 86400;

export const SEED_CONTACT_ATTRIBUTES = [
  { name: 'plan_name', data_type: 'string' },
  { name: 'seats', data_type: 'integer' },
  { name: 'vip', data_type: 'boolean' },
  { name: 'renewal_at', data_type: 'date' },
] as const;
export const SEED_COMPANY_ATTRIBUTES = [{ name: 'tier', data_type: 'string' }] as const;

export interface SeedOptions {
  seed?: number;
  contacts?: number;
  companies?: number;
}

const PLANS = ['free', 'starter', 'pro', 'enterprise'];
const pad = (n: number) => String(n).padStart(6, '0');

export function seedState(state: SimulatorState, opts: SeedOptions): { contacts: number; companies: number } {
  const rng = mulberry32((opts.seed ?? 1) ^ 0x5eed);
  const nContacts = opts.contacts ?? 0;
  const nCompanies = opts.companies ?? 0;
  for (const a of SEED_CONTACT_ATTRIBUTES) {
    if (!state.attributes.findCustom('contact', a.name)) state.attributes.create({ ...a, model: 'contact' });
  }
  for (const a of SEED_COMPANY_ATTRIBUTES) {
    if (!state.attributes.findCustom('company', a.name)) state.attributes.create({ ...a, model: 'company' });
  }
  const start = state.companies.byId.size;
  const companyIds: string[] = [];
  for (let i = 0; i < nCompanies; i++) {
    const n = start + i + 1;
    const created = SEED_BASE - YEAR + Math.floor((i / Math.max(1, nCompanies)) * YEAR);
    const c = state.companies.upsert({
      company_id: `comp-${pad(n)}`,
      name: `Company ${n}`,
      plan: PLANS[Math.floor(rng() * PLANS.length)]!,
      size: 1 + Math.floor(rng() * 500),
      industry: 'software',
      monthly_spend: Math.floor(rng() * 10000),
      remote_created_at: created,
      created_at: created,
      last_request_at: created + Math.floor(rng() * (SEED_BASE - created)),
      custom_attributes: { tier: rng() < 0.5 ? 'gold' : 'silver' },
    });
    c.updated_at = created;
    companyIds.push(c.id);
  }
  // The last tenth of the companies get no contacts, so list/scroll visibility rules have something to hide.
  const attachable = companyIds.slice(0, Math.max(1, Math.ceil(companyIds.length * 0.9)));
  const startContacts = state.contacts.order.length;
  let users = 0;
  for (let i = 0; i < nContacts; i++) {
    const n = startContacts + i + 1;
    const created = SEED_BASE - YEAR + Math.floor((i / Math.max(1, nContacts)) * YEAR);
    const isLead = rng() < 0.2;
    const updated = created + Math.floor(rng() * (SEED_BASE - created));
    const rec = state.contacts.create({
      role: isLead ? 'lead' : 'user',
      external_id: isLead ? null : `ext-${pad(n)}`,
      email: isLead ? `lead${pad(n)}@example.com` : `user${pad(n)}@example.com`,
      name: `Contact ${n}`,
      created_at: created,
      last_seen_at: updated,
      custom_attributes: {
        plan_name: PLANS[Math.floor(rng() * PLANS.length)]!,
        seats: 1 + Math.floor(rng() * 50),
        vip: rng() < 0.1,
      },
    });
    // Seeded data is already indexed: it predates the run.
    rec.data = { ...rec.data, updated_at: updated };
    rec.indexed = rec.data;
    rec.pending.length = 0;
    // Round-robin, so every attachable company gets a user once there are enough users.
    if (!isLead && attachable.length > 0 && companyIds.length > 0) {
      state.companies.attach(rec, attachable[users++ % attachable.length]!, false);
    }
  }
  return { contacts: nContacts, companies: nCompanies };
}
