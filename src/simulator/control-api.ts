import { parseCompanyInput } from './companies.ts';
import { parseContactInput } from './contact-input.ts';
import { ApiError } from './errors.ts';
import type { FaultRuleInput } from './faults.ts';
import { parseProfile, profileSettings, REALISM_KEYS, realismJson, type RealismSettings } from './realism.ts';
import { Router } from './router.ts';
import type { SimSettings } from './settings.ts';
import type { SimulatorState } from './state.ts';
import { isValidTimeZone } from './timezone.ts';

// /__sim/*: test-only control surface (docs/simulator.md). Needs no auth, is never rate limited,
// never faulted and never counted in stats, so tests can act as Intercom's own users for free.
export interface ControlContext {
  state: SimulatorState;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
}
export type ControlHandler = (ctx: ControlContext) => unknown;

const num = (v: unknown, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ApiError(400, 'parameter_invalid', `${name} must be a number`, name);
  return v;
};
const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || v === '') throw new ApiError(400, 'parameter_invalid', `${name} must be a string`, name);
  return v;
};

const SETTING_KEYS: Record<string, Exclude<keyof SimSettings, keyof RealismSettings | 'profile'>> = {
  rate_limit_per_minute: 'rateLimitPerMinute',
  workspace_rate_limit_per_minute: 'workspaceRateLimitPerMinute',
  rate_window_seconds: 'rateWindowSeconds',
  indexing_delay_seconds: 'indexingDelaySeconds',
  timezone: 'timezone',
  scroll_idle_seconds: 'scrollIdleSeconds',
  company_list_ceiling: 'companyListCeiling',
};

const REALISM_BY_KEY = new Map(Object.entries(REALISM_KEYS).map(([name, d]) => [d.key, { name: name as keyof RealismSettings, parse: d.parse }]));

function settingsJson(s: SimSettings) {
  return { ...Object.fromEntries(Object.entries(SETTING_KEYS).map(([k, v]) => [k, s[v]])), profile: s.profile, ...realismJson(s) };
}

/** `profile` first (it resets every realism setting to its preset), then each key overrides. */
function configPatch(body: Record<string, unknown>): Partial<SimSettings> {
  const patch: Record<string, unknown> = {};
  if (body.profile !== undefined) {
    const profile = parseProfile(body.profile);
    Object.assign(patch, profileSettings(profile), { profile });
  }
  for (const [k, v] of Object.entries(body)) {
    if (k === 'profile') continue;
    const realism = REALISM_BY_KEY.get(k);
    if (realism) {
      patch[realism.name] = realism.parse(v);
      continue;
    }
    const key = SETTING_KEYS[k];
    if (!key) throw new ApiError(400, 'bad_request', `bad '${k}' parameter`);
    if (key === 'timezone') {
      if (typeof v !== 'string' || !isValidTimeZone(v)) throw new ApiError(400, 'parameter_invalid', 'unknown time zone', k);
      patch[key] = v;
    } else if (key === 'rateWindowSeconds') {
      // X-RateLimit-Reset is whole Unix seconds, so a window is too.
      if (!Number.isInteger(v) || (v as number) < 1) throw new ApiError(400, 'parameter_invalid', `${k} must be a whole number ≥ 1`, k);
      patch[key] = v;
    } else patch[key] = num(v, k);
  }
  return patch;
}

function clockJson(state: SimulatorState) {
  return { now: state.clock.nowSeconds(), now_ms: state.clock.nowMs(), frozen: state.clock.frozen };
}

export function controlRouter(): Router<ControlHandler> {
  const r = new Router<ControlHandler>();

  r.add('GET', '/__sim/health', () => ({ ok: true }));

  r.add('POST', '/__sim/reset', ({ state, body }) => {
    state.reset(typeof body.seed === 'number' ? body.seed : undefined);
    state.faults.clear();
    state.stats.reset();
    const seeded = state.seedData({
      ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
      contacts: typeof body.contacts === 'number' ? body.contacts : 0,
      companies: typeof body.companies === 'number' ? body.companies : 0,
    });
    return { ok: true, seeded };
  });

  r.add('POST', '/__sim/seed', ({ state, body }) => ({
    ok: true,
    seeded: state.seedData({
      ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
      contacts: typeof body.contacts === 'number' ? body.contacts : 0,
      companies: typeof body.companies === 'number' ? body.companies : 0,
    }),
  }));

  r.add('GET', '/__sim/config', ({ state }) => settingsJson(state.settings));
  // PATCH and POST do the same: POST is what `curl -d` and most scripts send.
  r.add('PATCH', '/__sim/config', ({ state, body }) => settingsJson(state.applySettings(configPatch(body))));
  r.add('POST', '/__sim/config', ({ state, body }) => settingsJson(state.applySettings(configPatch(body))));

  r.add('GET', '/__sim/clock', ({ state }) => clockJson(state));
  r.add('POST', '/__sim/clock', ({ state, body }) => {
    if (body.freeze !== undefined) state.clock.freeze(body.freeze === true);
    if (body.set !== undefined) state.clock.set(num(body.set, 'set'));
    if (body.advance_seconds !== undefined) state.clock.advance(num(body.advance_seconds, 'advance_seconds'));
    return clockJson(state);
  });

  r.add('GET', '/__sim/faults', ({ state }) => ({ data: state.faults.list(), held: state.faults.heldCount() }));
  r.add('POST', '/__sim/faults/release', async ({ state, body }) => {
    const released = state.faults.release(body.count === undefined ? Infinity : num(body.count, 'count'));
    // A released request is handled in the microtasks that follow; one turn of the event loop later it has been
    // answered (unless a latency rule delays it too), so the caller sees the write applied once this answers.
    await new Promise((resolve) => setImmediate(resolve));
    return { released, held: state.faults.heldCount() };
  });
  r.add('POST', '/__sim/faults', ({ state, body }) => {
    // A JSON body from the test harness: FaultRegistry.add checks kind and status and defaults the rest.
    const inputs = Array.isArray(body.rules) ? (body.rules as FaultRuleInput[]) : [body as unknown as FaultRuleInput];
    try {
      return { data: inputs.map((i) => state.faults.add(i)) };
    } catch (e) {
      throw new ApiError(400, 'parameter_invalid', (e as Error).message);
    }
  });
  r.add('DELETE', '/__sim/faults', ({ state }) => {
    state.faults.clear();
    return { ok: true };
  });

  r.add('POST', '/__sim/search/expire-cursors', ({ state }) => {
    state.search.expireCursors();
    return { ok: true };
  });
  r.add('GET', '/__sim/stats', ({ state }) => state.stats.snapshot());
  r.add('GET', '/__sim/requests', ({ state }) => ({ data: state.stats.requests() }));
  r.add('DELETE', '/__sim/stats', ({ state }) => {
    state.stats.reset();
    return { ok: true };
  });

  r.add('POST', '/__sim/foreign-consume', ({ state, body }) => state.limiter.consumeForeign(state.clock.nowMs(), num(body.count, 'count')));

  // Acting as Intercom's own users (teammates in the UI, the Messenger, integrations).
  r.add('POST', '/__sim/contacts', ({ state, body }) => state.inspectContact(state.contacts.create(parseContactInput(body, true))));
  r.add('GET', '/__sim/contacts', ({ state, query }) => {
    const key = {
      ...(query.has('external_id') ? { external_id: query.get('external_id')! } : {}),
      ...(query.has('email') ? { email: query.get('email')! } : {}),
    };
    return { data: state.findContactAnyState(key).map((r) => state.inspectContact(r)) };
  });
  r.add('GET', '/__sim/contacts/:id', ({ state, params }) => {
    const rec = state.findContactAnyState({ id: params.id! })[0];
    if (!rec) throw new ApiError(404, 'not_found', 'No such contact, in any state');
    return state.inspectContact(rec);
  });
  r.add('PATCH', '/__sim/contacts/:id', ({ state, params, query, body }) =>
    state.inspectContact(
      state.contacts.update(params.id!, parseContactInput(body, true), { silent: query.get('silent') === 'true' }),
    ),
  );
  r.add('DELETE', '/__sim/contacts/:id', ({ state, params }) => state.inspectContact(state.contacts.delete(params.id!)));
  r.add('POST', '/__sim/contacts/:id/archive', ({ state, params }) => state.inspectContact(state.contacts.setArchived(params.id!, true)));
  r.add('POST', '/__sim/contacts/:id/unarchive', ({ state, params }) =>
    state.inspectContact(state.contacts.setArchived(params.id!, false)),
  );
  // The person logs in or comes back to the site: Intercom unarchives them by itself (help article 8851551).
  r.add('POST', '/__sim/contacts/:id/seen', ({ state, params }) => state.inspectContact(state.contacts.seenAgain(params.id!)));
  r.add('POST', '/__sim/contacts/:id/tag', ({ state, params, body }) =>
    state.inspectContact(state.contacts.tag(params.id!, str(body.name, 'name'), true)),
  );
  r.add('POST', '/__sim/contacts/:id/untag', ({ state, params, body }) =>
    state.inspectContact(state.contacts.tag(params.id!, str(body.name, 'name'), false)),
  );
  r.add('POST', '/__sim/merge', ({ state, body }) =>
    state.inspectContact(state.contacts.merge(str(body.from, 'from'), str(body.into, 'into'))),
  );

  r.add('POST', '/__sim/companies', ({ state, body }) => state.inspectCompany(state.companies.upsert(parseCompanyInput(body, 'create', true))));
  r.add('GET', '/__sim/companies', ({ state, query }) => ({
    data: state.findCompanyAnyState({ company_id: query.get('company_id') ?? '' }).map((c) => state.inspectCompany(c)),
  }));
  r.add('GET', '/__sim/companies/:id', ({ state, params }) => {
    const c = state.findCompanyAnyState({ id: params.id! })[0];
    if (!c) throw new ApiError(404, 'company_not_found', 'No such company, in any state');
    return state.inspectCompany(c);
  });
  r.add('PATCH', '/__sim/companies/:id', ({ state, params, body }) =>
    state.inspectCompany(state.companies.update(params.id!, parseCompanyInput(body, 'update', true))),
  );
  r.add('DELETE', '/__sim/companies/:id', ({ state, params }) => state.inspectCompany(state.companies.delete(params.id!)));
  r.add('POST', '/__sim/companies/:id/tag', ({ state, params, body }) => {
    const c = state.companies.get(params.id!);
    const tag = state.contacts.tagByName(str(body.name, 'name'));
    if (!c.tag_ids.includes(tag.id)) c.tag_ids.push(tag.id); // no updated_at bump, like contact tags
    return state.inspectCompany(c);
  });
  r.add('POST', '/__sim/attach', ({ state, body }) =>
    state.inspectCompany(state.companies.attachById(str(body.contact_id, 'contact_id'), str(body.company_id, 'company_id'))),
  );
  r.add('POST', '/__sim/detach', ({ state, body }) =>
    state.inspectCompany(state.companies.detachById(str(body.contact_id, 'contact_id'), str(body.company_id, 'company_id'))),
  );
  r.add('POST', '/__sim/data_attributes', ({ state, body }) => state.attributes.create(body));

  return r;
}
