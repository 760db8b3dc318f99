/**
 * The last check before a request: the body Intercom would accept, or the ValidationError that turns the entry
 * into a dead letter naming the row and field.
 */
import { IntercomApiError } from '../../errors.ts';
import type { CompanyWrite, ContactWrite } from '../../intercom/payloads.ts';
import { validateCompanyWrite, validateContactWrite } from '../validate.ts';
import type { PushContext } from './context.ts';

export async function prepareContactBody(ctx: PushContext, localId: number, body: ContactWrite): Promise<ContactWrite> {
  const problem = validateContactWrite(localId, body);
  if (problem) throw problem;
  if (!body.custom_attributes) return body;
  const attrs = await ctx.attributes.prepare('contact', localId, body.custom_attributes);
  const { custom_attributes: _dropped, ...rest } = body;
  return Object.keys(attrs).length > 0 ? { ...rest, custom_attributes: attrs } : rest;
}

export async function prepareCompanyBody(ctx: PushContext, localId: number, body: CompanyWrite): Promise<CompanyWrite> {
  const problem = validateCompanyWrite(localId, body);
  if (problem) throw problem;
  if (!body.custom_attributes) return body;
  const attrs = await ctx.attributes.prepare('company', localId, body.custom_attributes);
  const { custom_attributes: _dropped, ...rest } = body;
  return Object.keys(attrs).length > 0 ? { ...rest, custom_attributes: attrs } : rest;
}

/**
 * Sends a contact write; if Intercom refuses a lead's external_id (400 naming it — whether Intercom accepts one on a
 * lead is disputed, docs/simulator.md "Duplicate leads and lead `external_id`"), sends it once more without. The lead stays keyed by email and its external_id
 * local-only (identity.ts keepLeadExternalId), so it is not pushed again on every change.
 */
export async function sendLeadTolerant<T>(
  role: 'user' | 'lead',
  body: ContactWrite,
  send: (b: ContactWrite) => Promise<T>,
): Promise<{ value: T; sent: ContactWrite } | { value: null; sent: null }> {
  try {
    return { value: await send(body), sent: body };
  } catch (err) {
    const refused = err instanceof IntercomApiError && err.status === 400 && /external_id/i.test(`${err.message} ${err.code ?? ''}`);
    if (!refused || role !== 'lead' || body.external_id === undefined || body.external_id === null) throw err;
    const { external_id: _refused, ...rest } = body;
    if (Object.keys(rest).length === 0) return { value: null, sent: null };
    return { value: await send(rest), sent: rest };
  }
}
