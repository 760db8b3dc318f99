import type { PullGatewayPort } from './ports.ts';

const METHODS = [
  'me',
  'searchContacts',
  'listContacts',
  'getContact',
  'findContactByExternalId',
  'listContactCompanies',
  'getCompany',
  'scrollCompanies',
] as const satisfies readonly (keyof PullGatewayPort)[];

/**
 * Counts the calls one run makes, for RunSummary.requests. A call is one request except when the gateway retries or
 * follows pages on its own (listContactCompanies); the gateway's onRequest hook / api_usage hold the exact figure.
 */
export function countingGateway(inner: PullGatewayPort): { gateway: PullGatewayPort; requests(): number } {
  let n = 0;
  const gateway = {} as Record<string, unknown>;
  for (const m of METHODS) {
    const fn = inner[m] as (...a: unknown[]) => Promise<unknown>;
    gateway[m] = (...args: unknown[]) => {
      n++;
      return fn.apply(inner, args);
    };
  }
  return { gateway: gateway as unknown as PullGatewayPort, requests: () => n };
}
