/**
 * Counts the Intercom calls one run makes, for RunSummary.requests: one per call. The gateway's own retries of a call
 * and the pages it follows on its own (listContactCompanies) are not visible here; the gateway's onRequest hook and
 * api_usage hold the exact figure.
 */
export function countingGateway<T extends object>(
  inner: T,
  // A record over every key, not a list: a port that grows a method fails type-checking here instead of going uncounted.
  methods: Record<keyof T & string, true>,
): { gateway: T; requests(): number } {
  let n = 0;
  const gateway: Record<string, unknown> = {};
  for (const m of Object.keys(methods) as (keyof T & string)[]) {
    const fn = inner[m] as (...a: unknown[]) => Promise<unknown>;
    gateway[m] = (...args: unknown[]) => {
      n++;
      return fn.apply(inner, args);
    };
  }
  return { gateway: gateway as T, requests: () => n };
}
