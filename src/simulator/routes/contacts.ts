import { parseContactInput } from '../contact-input.ts';
import { ApiError, notFoundContact } from '../errors.ts';
import type { Router } from '../router.ts';
import type { PageOf } from '../search.ts';
import type { SimulatorState } from '../state.ts';
import { contactJson, contactRef, cursorPages } from '../serializers.ts';
import { bodyObject, type ApiHandler } from './types.ts';

/** The contact list and search answer the same cursor-paged list (the OpenAPI 2.14 schema contact_list). */
function contactList(state: SimulatorState, page: PageOf): Record<string, unknown> {
  return {
    type: 'list',
    data: page.items.map((c) => contactJson(c, state.lookups)),
    total_count: page.total,
    pages: cursorPages(page.page, page.perPage, page.total, page.next),
  };
}

export function contactRoutes(r: Router<ApiHandler>): void {
  r.add('POST', '/contacts', ({ state, body }) => {
    const rec = state.contacts.create(parseContactInput(body, false));
    return { body: state.contactJson(rec) };
  });

  r.add('GET', '/contacts', ({ state, query, nowMs }) => {
    return { body: contactList(state, state.search.list(query.get('per_page') ?? undefined, query.get('starting_after'), nowMs)) };
  });

  // GET by id reads the live record: no indexing delay (the delay in https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts is search's).
  r.add('GET', '/contacts/{id}', ({ state, params }) => ({ body: state.contactJson(state.contacts.get(params.id!)) }));

  r.add('PUT', '/contacts/{id}', ({ state, params, body }) => {
    const rec = state.contacts.update(params.id!, parseContactInput(body, false));
    return { body: state.contactJson(rec) };
  });

  r.add('DELETE', '/contacts/{id}', ({ state, params }) => {
    const rec = state.contacts.delete(params.id!);
    return { body: { ...contactRef(rec), deleted: true } };
  });

  r.add('POST', '/contacts/{id}/archive', ({ state, params }) => {
    const rec = state.contacts.setArchived(params.id!, true);
    return { body: { ...contactRef(rec), archived: true } };
  });

  r.add('POST', '/contacts/{id}/unarchive', ({ state, params }) => {
    const rec = state.contacts.setArchived(params.id!, false);
    return { body: { ...contactRef(rec), archived: false } };
  });

  r.add('POST', '/contacts/merge', ({ state, body }) => {
    const { from, into, ...rest } = bodyObject(body);
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new ApiError(400, 'bad_request', `bad '${extra}' parameter`);
    if (typeof from !== 'string' || from === '') throw new ApiError(400, 'parameter_not_found', 'from is required', 'from');
    if (typeof into !== 'string' || into === '') throw new ApiError(400, 'parameter_not_found', 'into is required', 'into');
    return { body: state.contactJson(state.contacts.merge(from, into)) };
  });

  r.add('POST', '/contacts/search', ({ state, body, nowMs }) => {
    return { body: contactList(state, state.search.search(body, nowMs, state.settings.timezone)) };
  });

  // Users only: leads and archived contacts are not found here (Intercom-OpenAPI descriptions/2.14, ShowContactByExternalId).
  r.add('GET', '/contacts/find_by_external_id/{external_id}', ({ state, params }) => {
    const rec = state.contacts.findByExternalId(params.external_id!);
    if (!rec || rec.data.role !== 'user' || rec.archived) throw notFoundContact();
    return { body: state.contactJson(rec) };
  });

  // The recorded response uses `data` and page-number `pages`; the schema names the array `companies`.
  // Both are sent so that readers of either shape, including intercom-client's pager, work.
  r.add('GET', '/contacts/{id}/companies', ({ state, params, query }) => {
    const rec = state.contacts.get(params.id!);
    const perPage = clampInt(query.get('per_page'), 50, 1, 150);
    const page = clampInt(query.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
    const all = [...rec.companyIds].map((id) => state.companies.byId.get(id)!).filter((c) => !c.deleted);
    const slice = all.slice((page - 1) * perPage, page * perPage).map((c) => state.companyJson(c));
    const totalPages = Math.ceil(all.length / perPage);
    return {
      body: {
        type: 'list',
        data: slice,
        companies: slice,
        total_count: all.length,
        pages: {
          type: 'pages',
          next: page < totalPages ? `/contacts/${rec.id}/companies?page=${page + 1}&per_page=${perPage}` : null,
          page,
          per_page: perPage,
          total_pages: totalPages,
        },
      },
    };
  });

  r.add('POST', '/contacts/{id}/companies', ({ state, params, body }) => {
    const c = state.companies.attachById(params.id!, bodyObject(body).id);
    return { body: state.companyJson(c) };
  });

  r.add('DELETE', '/contacts/{id}/companies/{company_id}', ({ state, params }) => {
    const c = state.companies.detachById(params.id!, params.company_id!);
    return { body: state.companyJson(c) };
  });
}

export function clampInt(raw: string | null, dflt: number, min: number, max: number): number {
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError(400, 'parameter_invalid', `Expected an integer between ${min} and ${max}, got '${raw}'`);
  }
  return n;
}
