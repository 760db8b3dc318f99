import { ApiError } from './errors.ts';
import type { Rng } from './prng.ts';

// The behaviours in which the real API is harsher than its description (docs/simulator.md, "Realistic
// profile", which names the public source of each). Each is a setting of its own; the `realistic` profile turns them all on and the
// `default` profile leaves them all off, so the fast tests keep today's friendly simulator.

export type Profile = 'default' | 'realistic';
export type LeadExternalIdMode = 'keep' | 'drop' | 'reject';
export type ConflictWording = 'plain' | 'archived';
export type EmbeddedListMode = 'honest' | 'has_more_false';

/**
 * Either `fixedMs` (every API route waits exactly that long: reproducible benchmarks) or a log-normal
 * distribution per route class, with the median given by `listP50Ms` (list, search, scroll) or
 * `singleP50Ms` (everything else) and the spread by `sigma` (log-space standard deviation).
 */
export interface LatencySettings {
  fixedMs?: number;
  listP50Ms?: number;
  singleP50Ms?: number;
  listSigma?: number;
  singleSigma?: number;
}

export interface ScopeDenial {
  /** HTTP method or '*'. */
  method: string;
  /** Route template as in stats and fault rules (e.g. '/admins'). */
  path: string;
  /**
   * 403 by default; 401 is offered because Airbyte's Intercom manifest meets missing permissions as 401s
   * per stream. Which one Intercom sends for `token_unauthorized` is unverified.
   */
  status?: 401 | 403;
}

/** Unverified wording: the community answer names only the code `token_unauthorized`. */
export const TOKEN_UNAUTHORIZED_MESSAGE = 'Not authorized to access this resource';

export interface RealismSettings {
  /** null = answer at once. */
  latency: LatencySettings | null;
  /** A second lead with an existing lead's email is created instead of refused with 409. */
  duplicateLeadsAllowed: boolean;
  /** What happens to `external_id` sent on a lead: kept, silently dropped, or refused with 400. */
  leadExternalId: LeadExternalIdMode;
  /** Routes refused with 403 `token_unauthorized`, as for a token missing that permission. */
  scopeDenied: ScopeDenial[];
  /** Chance per API request of a load-balancer 403 with an HTML body and no Intercom headers. */
  html403Probability: number;
  /** Embedded lists on a contact (companies, tags, notes): `has_more: false` even when items are left out. */
  embeddedLists: EmbeddedListMode;
  /** Items an embedded list carries at most. */
  embeddedListLimit: number;
  /** List and search cursors older than this answer 400 "Invalid starting_after param"; 0 = never. */
  cursorIdleSeconds: number;
  /** Chance that a valid, live `scroll_param` answers 404 anyway. */
  scrollParam404Probability: number;
  /** Whether a 409 whose holder is archived says so. */
  conflictWording: ConflictWording;
  /** Share of contacts served with a value the 2.14 schema does not allow (seeded per contact). */
  schemaDriftRate: number;
}

export const DEFAULT_REALISM: Readonly<RealismSettings> = Object.freeze({
  latency: null,
  duplicateLeadsAllowed: false,
  leadExternalId: 'keep',
  scopeDenied: [],
  html403Probability: 0,
  embeddedLists: 'honest',
  embeddedListLimit: 10,
  cursorIdleSeconds: 0,
  scrollParam404Probability: 0,
  conflictWording: 'plain',
  schemaDriftRate: 0,
});

export const REALISTIC_LATENCY: Readonly<Required<Omit<LatencySettings, 'fixedMs'>>> = Object.freeze({
  listP50Ms: 250,
  singleP50Ms: 120,
  listSigma: 0.6,
  singleSigma: 0.35,
});

export const REALISTIC: Readonly<RealismSettings> = Object.freeze({
  latency: { ...REALISTIC_LATENCY },
  duplicateLeadsAllowed: true,
  // Segment's identifyContact says Intercom does not accept an external_id on a lead; dropping it without a
  // word is the harsher of the two unverified readings (a client cannot notice it from the status).
  leadExternalId: 'drop',
  // "Read admins" is a permission of its own; the sync never needs it, so denying it shows per-endpoint
  // scopes without making convergence impossible. Tests deny the routes the sync does need.
  scopeDenied: [{ method: 'GET', path: '/admins' }],
  html403Probability: 0.002,
  embeddedLists: 'has_more_false',
  embeddedListLimit: 10,
  cursorIdleSeconds: 60,
  scrollParam404Probability: 0.01,
  conflictWording: 'archived',
  schemaDriftRate: 0.01,
});

export function profileSettings(profile: Profile): RealismSettings {
  return structuredClone(profile === 'realistic' ? REALISTIC : DEFAULT_REALISM);
}

const LIST_ROUTES = new Set(['GET /contacts', 'POST /contacts/search', 'POST /companies/list', 'GET /companies/scroll', 'GET /companies']);

export function isListRoute(method: string, template: string): boolean {
  return LIST_ROUTES.has(`${method} ${template}`);
}

/** One draw from a standard normal distribution (Box–Muller). */
function gaussian(rng: Rng): number {
  const u = Math.max(rng(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * The delay before a request is handled. Log-normal: the median is p50 and the right tail is long
 * (with sigma 0.6, p95 ≈ 2.7 × p50), as real API latencies are. Exported so tests check the distribution
 * without waiting for it.
 */
export function sampleLatencyMs(latency: LatencySettings | null, method: string, template: string, rng: Rng): number {
  if (!latency) return 0;
  if (latency.fixedMs !== undefined) return latency.fixedMs;
  const list = isListRoute(method, template);
  const p50 = list ? (latency.listP50Ms ?? REALISTIC_LATENCY.listP50Ms) : (latency.singleP50Ms ?? REALISTIC_LATENCY.singleP50Ms);
  const sigma = list ? (latency.listSigma ?? REALISTIC_LATENCY.listSigma) : (latency.singleSigma ?? REALISTIC_LATENCY.singleSigma);
  return Math.round(p50 * Math.exp(sigma * gaussian(rng)));
}

export function scopeDenial(denials: readonly ScopeDenial[], method: string, template: string): ScopeDenial | null {
  return denials.find((d) => (d.method === '*' || d.method === method) && (d.path === '*' || d.path === template)) ?? null;
}

/** The body nginx/ELB sends (community thread "api-requests-are-returning-403", verbatim title and heading). */
export const HTML_403 = '<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n';

export type DriftKind = 'wrong_type' | 'unknown_role' | 'missing_object';
const DRIFT_KINDS: DriftKind[] = ['wrong_type', 'unknown_role', 'missing_object'];

/** FNV-1a over the id and seed: the same contact drifts the same way on every read. */
function hash01(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995) >>> 0;
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

export function driftOf(id: string, rate: number, seed: number): DriftKind | null {
  if (rate <= 0) return null;
  if (hash01(id, seed) >= rate) return null;
  return DRIFT_KINDS[Math.floor(hash01(id, seed ^ 0x5eed) * DRIFT_KINDS.length)]!;
}

/**
 * Applies one schema drift to a serialized contact: `signed_up_at` as an ISO string instead of an integer,
 * a role the description does not list, or the optional `location` object left out.
 */
export function applyDrift(json: Record<string, unknown>, kind: DriftKind): Record<string, unknown> {
  const out = { ...json };
  if (kind === 'wrong_type') {
    const v = out.signed_up_at;
    out.signed_up_at = typeof v === 'number' ? new Date(v * 1000).toISOString() : '1970-01-01T00:00:00.000Z';
  } else if (kind === 'unknown_role') out.role = 'visitor_v3';
  else delete out.location;
  return out;
}

// ---- parsing of the snake_case control-API shape -------------------------------------------------------

const bad = (field: string, message: string) => new ApiError(400, 'parameter_invalid', message, field);

function probability(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw bad(field, `${field} must be a number between 0 and 1`);
  return v;
}

function nonNegative(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(field, `${field} must be a non-negative number`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw bad(field, `${field} must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function parseProfile(v: unknown): Profile {
  return oneOf(v, 'profile', ['default', 'realistic'] as const);
}

export function parseLatency(v: unknown): LatencySettings | null {
  if (v === null || v === false) return null;
  if (v === 'realistic' || v === true) return { ...REALISTIC_LATENCY };
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('latency', 'latency must be null, "realistic" or an object');
  const o = v as Record<string, unknown>;
  const map: Record<string, keyof LatencySettings> = {
    fixed_ms: 'fixedMs',
    list_p50_ms: 'listP50Ms',
    single_p50_ms: 'singleP50Ms',
    list_sigma: 'listSigma',
    single_sigma: 'singleSigma',
  };
  const out: LatencySettings = {};
  for (const [k, val] of Object.entries(o)) {
    const key = map[k] ?? (Object.values(map).includes(k as keyof LatencySettings) ? (k as keyof LatencySettings) : undefined);
    if (!key) throw bad('latency', `unknown latency setting '${k}'`);
    out[key] = nonNegative(val, `latency.${k}`);
  }
  return out;
}

export function latencyJson(l: LatencySettings | null) {
  if (!l) return null;
  const out: Record<string, number> = {};
  if (l.fixedMs !== undefined) out.fixed_ms = l.fixedMs;
  if (l.listP50Ms !== undefined) out.list_p50_ms = l.listP50Ms;
  if (l.singleP50Ms !== undefined) out.single_p50_ms = l.singleP50Ms;
  if (l.listSigma !== undefined) out.list_sigma = l.listSigma;
  if (l.singleSigma !== undefined) out.single_sigma = l.singleSigma;
  return out;
}

export function parseScopeDenied(v: unknown): ScopeDenial[] {
  if (!Array.isArray(v)) throw bad('scope_denied', 'scope_denied must be an array of {method?, path}');
  return v.map((d: unknown, i) => {
    if (typeof d === 'string') {
      const m = /^([A-Z]+|\*)\s+(\S+)$/.exec(d);
      if (m) return { method: m[1]!, path: m[2]! };
      return { method: '*', path: d };
    }
    const o = (d ?? {}) as Record<string, unknown>;
    if (typeof o.path !== 'string' || o.path === '') throw bad('scope_denied', `scope_denied[${i}].path must be a route template`);
    if (o.status !== undefined && o.status !== 401 && o.status !== 403) throw bad('scope_denied', `scope_denied[${i}].status must be 401 or 403`);
    const out: ScopeDenial = { method: typeof o.method === 'string' ? o.method.toUpperCase() : '*', path: o.path };
    if (o.status !== undefined) out.status = o.status;
    return out;
  });
}

/** The snake_case keys of /__sim/config for each realism setting, with their parsers. */
export const REALISM_KEYS: { [K in keyof RealismSettings]: { key: string; parse: (v: unknown) => RealismSettings[K] } } = {
  latency: { key: 'latency', parse: parseLatency },
  duplicateLeadsAllowed: {
    key: 'duplicate_leads_allowed',
    parse: (v) => {
      if (typeof v !== 'boolean') throw bad('duplicate_leads_allowed', 'duplicate_leads_allowed must be a boolean');
      return v;
    },
  },
  leadExternalId: { key: 'lead_external_id', parse: (v) => oneOf(v, 'lead_external_id', ['keep', 'drop', 'reject'] as const) },
  scopeDenied: { key: 'scope_denied', parse: parseScopeDenied },
  html403Probability: { key: 'html_403_probability', parse: (v) => probability(v, 'html_403_probability') },
  embeddedLists: { key: 'embedded_lists', parse: (v) => oneOf(v, 'embedded_lists', ['honest', 'has_more_false'] as const) },
  embeddedListLimit: { key: 'embedded_list_limit', parse: (v) => Math.floor(nonNegative(v, 'embedded_list_limit')) },
  cursorIdleSeconds: { key: 'cursor_idle_seconds', parse: (v) => nonNegative(v, 'cursor_idle_seconds') },
  scrollParam404Probability: { key: 'scroll_param_404_probability', parse: (v) => probability(v, 'scroll_param_404_probability') },
  conflictWording: { key: 'conflict_wording', parse: (v) => oneOf(v, 'conflict_wording', ['plain', 'archived'] as const) },
  schemaDriftRate: { key: 'schema_drift_rate', parse: (v) => probability(v, 'schema_drift_rate') },
};

export function realismJson(s: RealismSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, { key }] of Object.entries(REALISM_KEYS)) {
    const v = s[name as keyof RealismSettings];
    out[key] = name === 'latency' ? latencyJson(v as LatencySettings | null) : structuredClone(v);
  }
  return out;
}
