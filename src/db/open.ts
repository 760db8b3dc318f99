import type { Config } from '../config/index.ts';
import type { Logger } from '../logger.ts';
import { createDatabase, createPool, type Database } from './client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded.ts';

export interface OpenedDatabase extends Database {
  /** The URL the pool connects to (DATABASE_URL, or the embedded server's). */
  url: string;
  embedded: EmbeddedPostgresHandle | null;
}

/**
 * The database every entry point uses. With no DATABASE_URL an embedded Postgres is started so a newcomer can try
 * intercom-sync with nothing set up; the caller stops it (`embedded.stop()`) after ending the pool.
 */
export async function openDatabase(
  config: Readonly<Config>,
  logger: Logger,
  opts: { ownsSignals?: boolean } = {},
): Promise<OpenedDatabase> {
  let embedded: EmbeddedPostgresHandle | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      port: config.embedded.pgPort,
      ...(config.embedded.dataDir ? { dataDir: config.embedded.dataDir } : {}),
      ...(opts.ownsSignals ? { ownsSignals: true } : {}),
    });
    logger.info({ port: embedded.port }, 'DATABASE_URL not set: started embedded Postgres');
    url = embedded.url;
  }
  return { ...createDatabase(createPool(url), config.schema), url, embedded };
}
