/**
 * The last check before a request: the body Intercom would accept, or the ValidationError that turns the entry
 * into a dead letter naming the row and field.
 */
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
