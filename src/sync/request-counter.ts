/**
 * Counts the Intercom calls one run makes, for RunSummary.requests: one per call. The gateway's own retries of a call
 * and the pages it follows on its own (listContactCompanies) are not visible here; the gateway's onRequest hook and
 * api_usage hold the exact figure.
 */
export function countingGateway<T extends object>(
  inner: T,
  // A record over every key, not a list: a port that grows a method fails type-checking here instead of going uncounted.
  // true: the method sends a request and is counted; false: it sends nothing (a clock read) and is passed through.
  methods: Record<keyof T & string, boolean>,
): { gateway: T; requests(): number } {
  let n = 0;
  const gateway: Record<string, unknown> = {};
  for (const [m, counted] of Object.entries(methods) as [keyof T & string, boolean][]) {
    const fn = inner[m] as (...a: unknown[]) => unknown;
    gateway[m] = (...args: unknown[]) => {
      if (counted) n++;
      return fn.apply(inner, args);
    };
  }
  return { gateway: gateway as T, requests: () => n };
}
