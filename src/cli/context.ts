import { pino } from 'pino';
import { parseConfig, type Config } from '../config/index.ts';
import type { EmbeddedPostgresHandle } from '../db/embedded.ts';
import { openDatabase, type OpenedDatabase } from '../db/open.ts';
import { createLogger, type Logger } from '../logger.ts';

/**
 * What most commands need: config, logger and a database. With no DATABASE_URL an embedded Postgres is started so
 * a newcomer can try intercom-sync with nothing set up; `close()` stops it again.
 */
export interface CliContext {
  config: Readonly<Config>;
  logger: Logger;
  database: Omit<OpenedDatabase, 'embedded'>;
  embedded: EmbeddedPostgresHandle | null;
  close(): Promise<void>;
}

export function loadConfig(): Readonly<Config> {
  return parseConfig(process.env);
}

/**
 * The daemon logs to stdout like any container. One-shot commands log to stderr, so their stdout carries only
 * their output (reports, JSON progress lines) and can be piped.
 */
export function createCliLogger(config: Readonly<Config>, opts: { toStderr?: boolean } = {}): Logger {
  const secrets = [config.intercom.accessToken, config.intercom.clientSecret, config.statusPage.token].filter((s): s is string => !!s);
  return createLogger({
    level: config.log.level,
    pii: config.log.pii,
    secrets,
    ...(opts.toStderr ? { destination: pino.destination({ dest: 2, sync: false }) } : {}),
  });
}

export async function createCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const logger = createCliLogger(config, { toStderr: true });
  const { embedded, ...database } = await openDatabase(config, logger);
  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    database,
    embedded,
    close: () =>
      (closed ??= (async () => {
        await database.pool.end();
        await embedded?.stop();
        logger.flush();
      })()),
  };
}
