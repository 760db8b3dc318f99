import { parseCompanyInput } from '../companies.ts';
import { ApiError, notFoundCompany } from '../errors.ts';
import type { CompanyRecord } from '../model.ts';
import type { Router } from '../router.ts';
import { contactJson } from '../serializers.ts';
import type { SimulatorState } from '../state.ts';
import { clampInt } from './contacts.ts';
import type { ApiHandler } from './types.ts';

function pagesOf(page: number, perPage: number, total: number) {
  const totalPages = Math.ceil(total / perPage);
  const pages: Record<string, unknown> = { type: 'pages', page, per_page: perPage, total_pages: totalPages };
  if (page >= totalPages) pages.next = null;
  return pages;
}

function companyList(state: SimulatorState, all: CompanyRecord[], page: number, perPage: number) {
  return {
    type: 'list',
    data: all.slice((page - 1) * perPage, page * perPage).map((c) => state.companyJson(c)),
    pages: pagesOf(page, perPage, all.length),
    total_count: all.length,
  };
}

export function companyRoutes(r: Router<ApiHandler>): void {
  r.add('POST', '/companies', ({ state, body }) => {
    const c = state.companies.upsert(parseCompanyInput(body, 'create', false));
    return { body: state.companyJson(c) };
  });

  // Lookup by company_id or name finds companies that list/scroll hide (no contacts yet).
  r.add('GET', '/companies', ({ state, query }) => {
    const page = clampInt(query.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
    const perPage = clampInt(query.get('per_page'), 15, 1, 60);
    const companyId = query.get('company_id');
    const name = query.get('name');
    const tagId = query.get('tag_id');
    const segmentId = query.get('segment_id');
    let found: CompanyRecord[];
    if (companyId !== null) {
      const c = state.companies.findByCompanyId(companyId);
      found = c ? [c] : [];
    } else if (name !== null) {
      found = state.companies.live().filter((c) => c.name === name);
    } else if (tagId !== null) {
      found = state.companies.live().filter((c) => c.tag_ids.includes(tagId));
    } else if (segmentId !== null) {
      found = [];
    } else {
      found = state.companies.visible();
    }
    if (found.length === 0 && (companyId !== null || name !== null)) throw notFoundCompany();
    return { body: companyList(state, found, page, perPage) };
  });

  r.add('GET', '/companies/{id}', ({ state, params }) => ({ body: state.companyJson(state.companies.get(params.id!)) }));

  r.add('PUT', '/companies/{id}', ({ state, params, body }) => {
    const c = state.companies.update(params.id!, parseCompanyInput(body, 'update', false));
    return { body: state.companyJson(c) };
  });

  r.add('DELETE', '/companies/{id}', ({ state, params }) => {
    const c = state.companies.delete(params.id!);
    return { body: { id: c.id, object: 'company', deleted: true } };
  });

  r.add('GET', '/companies/{id}/contacts', ({ state, params }) => {
    const c = state.companies.get(params.id!);
    const data = [...c.contactIds].map((id) => contactJson(state.contacts.get(id).data, state.lookups));
    return {
      body: {
        type: 'list',
        data,
        total_count: data.length,
        pages: { type: 'pages', page: 1, per_page: 50, total_pages: data.length > 0 ? 1 : 0 },
      },
    };
  });

  // Parameters travel in the query string; sorted by last_request_at, hidden past the ceiling.
  r.add('POST', '/companies/list', ({ state, query }) => {
    const page = clampInt(query.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
    const perPage = clampInt(query.get('per_page'), 15, 1, 60);
    const order = query.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') {
      throw new ApiError(400, 'parameter_invalid', "order must be either 'asc' or 'desc'", 'order');
    }
    if (page * perPage > state.settings.companyListCeiling) {
      throw new ApiError(400, 'bad_request', 'page limit reached, please use scroll API');
    }
    const dir = order === 'asc' ? 1 : -1;
    const all = state.companies
      .visible()
      .sort((a, b) => ((a.last_request_at ?? 0) - (b.last_request_at ?? 0)) * dir || (a.id < b.id ? -dir : dir));
    return { body: companyList(state, all, page, perPage) };
  });

  r.add('GET', '/companies/scroll', ({ state, query, nowMs }) => {
    const { data, param } = state.scroll.next(
      query.get('scroll_param'),
      nowMs,
      state.settings.scrollIdleSeconds,
      () => state.companies.visible(),
      (id) => state.companies.byId.get(id),
      () => state.settings.scrollParam404Probability > 0 && state.realismRng() < state.settings.scrollParam404Probability,
    );
    const body: Record<string, unknown> = {
      type: 'list',
      data: data.map((c) => state.companyJson(c)),
      pages: null,
      total_count: null,
    };
    if (param !== null) body.scroll_param = param;
    return { body };
  });
}
