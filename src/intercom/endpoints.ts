/**
 * Every Intercom operation the gateway uses, as method + path template. Metrics, logs, errors and the API-usage
 * report key on these templates, never on concrete paths, so ids do not explode label cardinality.
 */
export const ENDPOINTS = {
  me: { method: 'GET', path: '/me' },
  searchContacts: { method: 'POST', path: '/contacts/search' },
  listContacts: { method: 'GET', path: '/contacts' },
  getContact: { method: 'GET', path: '/contacts/{id}' },
  findContactByExternalId: { method: 'GET', path: '/contacts/find_by_external_id/{external_id}' },
  createContact: { method: 'POST', path: '/contacts' },
  updateContact: { method: 'PUT', path: '/contacts/{id}' },
  deleteContact: { method: 'DELETE', path: '/contacts/{id}' },
  archiveContact: { method: 'POST', path: '/contacts/{id}/archive' },
  unarchiveContact: { method: 'POST', path: '/contacts/{id}/unarchive' },
  mergeContacts: { method: 'POST', path: '/contacts/merge' },
  listContactCompanies: { method: 'GET', path: '/contacts/{id}/companies' },
  attachCompany: { method: 'POST', path: '/contacts/{id}/companies' },
  detachCompany: { method: 'DELETE', path: '/contacts/{id}/companies/{company_id}' },
  upsertCompany: { method: 'POST', path: '/companies' },
  findCompanyByCompanyId: { method: 'GET', path: '/companies' },
  getCompany: { method: 'GET', path: '/companies/{id}' },
  deleteCompany: { method: 'DELETE', path: '/companies/{id}' },
  scrollCompanies: { method: 'GET', path: '/companies/scroll' },
  listDataAttributes: { method: 'GET', path: '/data_attributes' },
  createDataAttribute: { method: 'POST', path: '/data_attributes' },
} as const satisfies Record<string, { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }>;

export type EndpointName = keyof typeof ENDPOINTS;

/**
 * The permission each endpoint needs, as Intercom's Developer Hub names them
 * (https://developers.intercom.com/docs/build-an-integration/learn-more/authentication/oauth-scopes). Intercom's
 * `token_unauthorized` error does not say which permission is missing; this is our reading of the scope list, so the
 * operator knows which box to tick. GET /me works with any valid token.
 */
const READ = 'Read and list users and companies';
const WRITE = 'Write users and companies';
export const PERMISSIONS: Record<EndpointName, string | null> = {
  me: null,
  searchContacts: READ,
  listContacts: READ,
  getContact: READ,
  findContactByExternalId: READ,
  createContact: WRITE,
  updateContact: WRITE,
  deleteContact: WRITE,
  archiveContact: WRITE,
  unarchiveContact: WRITE,
  mergeContacts: WRITE,
  listContactCompanies: READ,
  attachCompany: WRITE,
  detachCompany: WRITE,
  upsertCompany: WRITE,
  findCompanyByCompanyId: READ,
  getCompany: READ,
  deleteCompany: WRITE,
  scrollCompanies: READ,
  listDataAttributes: READ,
  createDataAttribute: WRITE,
};
export type Endpoint = (typeof ENDPOINTS)[EndpointName];

/** 'POST /contacts/search': the label used in RequestRecord.endpoint and in error messages. */
export function endpointLabel(e: Endpoint): string {
  return `${e.method} ${e.path}`;
}
