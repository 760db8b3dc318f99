import pg from 'pg';
import { createLogger, type Logger } from '../../src/logger.ts';

export const silentLogger: Logger = createLogger({ level: 'silent', pii: false });

/** Polls until `check` returns a truthy value; fails with `what` after `timeoutMs`. Not a timing assertion. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function clientFactory(url: string, applicationName: string): () => Promise<pg.Client> {
  return async () => {
    const c = new pg.Client({ connectionString: url, application_name: applicationName });
    await c.connect();
    return c;
  };
}
