import type { Logger } from 'pino';
import { sleep } from '../sleep.ts';

/**
 * LISTEN intercom_sync_outbox on a dedicated connection so the push loop wakes as soon as a trigger enqueues a
 * change. Several schemas may share one database, and every trigger notifies with its schema name as payload, so
 * only our schema's notifications count. A lost connection is re-opened after a pause; meanwhile the outbox-sweep
 * schedule and the push loop's own polling keep the outbox moving. The one LISTEN of intercom-sync: the daemon, the
 * bench and the tests all wake the push loop through it. https://www.postgresql.org/docs/current/sql-listen.html
 */
export const OUTBOX_CHANNEL = 'intercom_sync_outbox';

export interface ListenConnection {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (msg: { channel: string; payload?: string | undefined }) => void): unknown;
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
}

export type Listen = (onNotify: () => void) => Promise<() => Promise<void>>;

export function createOutboxListen(opts: {
  connect: () => Promise<ListenConnection>;
  schema: string;
  logger: Logger;
  reconnectMs?: number;
}): Listen {
  const log = opts.logger.child({ module: 'outbox-listen' });
  return async (onNotify) => {
    const closing = new AbortController();
    let conn: ListenConnection | null = null;
    let lost: (() => void) | null = null;

    async function open(): Promise<void> {
      const c = await opts.connect();
      const gone = new Promise<void>((resolve) => {
        lost = resolve;
      });
      c.on('notification', (msg) => {
        if (msg.channel === OUTBOX_CHANNEL && msg.payload === opts.schema) onNotify();
      });
      c.on('error', (err) => {
        log.warn({ err }, 'outbox LISTEN connection failed');
        lost?.();
      });
      c.on('end', () => lost?.());
      await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
      conn = c;
      void gone.then(() => reopen(c));
    }

    async function reopen(old: ListenConnection): Promise<void> {
      if (closing.signal.aborted || conn !== old) return;
      conn = null;
      await old.end().catch(() => undefined);
      while (!closing.signal.aborted) {
        await sleep(opts.reconnectMs ?? 1000, closing.signal);
        if (closing.signal.aborted) return;
        try {
          await open();
          // Changes may have arrived while we were deaf.
          onNotify();
          log.info('outbox LISTEN connection re-opened');
          return;
        } catch (err) {
          log.warn({ err }, 'could not re-open the outbox LISTEN connection');
        }
      }
    }

    await open();
    return async () => {
      closing.abort();
      const c = conn;
      conn = null;
      if (c) {
        await c.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    };
  };
}
