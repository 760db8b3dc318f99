/**
 * Counts the Intercom calls a run makes (one per call; the gateway's own retries of a call are not visible here and
 * show in api_usage instead), so a run's summary says what it cost.
 */
import type { PushGatewayPort } from './ports.ts';

export function countingGateway(gateway: PushGatewayPort, counter: { requests: number }): PushGatewayPort {
  const wrapped = {} as Record<string, unknown>;
  for (const name of [
    'getContact', 'findContactByExternalId', 'searchContacts', 'createContact', 'updateContact', 'deleteContact',
    'archiveContact', 'unarchiveContact', 'mergeContacts', 'attachCompany', 'detachCompany', 'upsertCompany',
    'deleteCompany', 'listDataAttributes', 'createDataAttribute',
  ] as const satisfies readonly (keyof PushGatewayPort)[]) {
    const fn = gateway[name] as (...a: unknown[]) => Promise<unknown>;
    wrapped[name] = (...args: unknown[]) => {
      counter.requests++;
      return fn.apply(gateway, args);
    };
  }
  return wrapped as unknown as PushGatewayPort;
}
