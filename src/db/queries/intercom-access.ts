import type pg from 'pg';
import type { AccessChange } from '../../intercom/gateway.ts';
import { ident } from '../migrate.ts';
import { storedText } from './stored-text.ts';

/**
 * intercom_access: what Intercom refuses us now (the token '*', or one endpoint for a missing permission). The
 * gateway reports each change; writes are chained so a refusal and its clearing land in the order they happened.
 */
export function createIntercomAccessRecorder(
  pool: pg.Pool,
  schema: string,
  opts: { onError: (err: unknown) => void },
): { record(c: AccessChange): void; flush(): Promise<void> } {
  const t = `${ident(schema)}.intercom_access`;
  let chain: Promise<void> = Promise.resolve();
  const write = async (c: AccessChange) => {
    if (c.kind === 'cleared') {
      await pool.query(`DELETE FROM ${t} WHERE endpoint = $1`, [c.endpoint]);
      return;
    }
    const d = c.denial;
    await pool.query(
      `INSERT INTO ${t} (endpoint, status, code, permission, message, request_id, since, last_seen_at, next_probe_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (endpoint) DO UPDATE SET status = EXCLUDED.status, code = EXCLUDED.code,
         permission = EXCLUDED.permission, message = EXCLUDED.message, request_id = EXCLUDED.request_id,
         since = LEAST(${t}.since, EXCLUDED.since), last_seen_at = EXCLUDED.last_seen_at,
         next_probe_at = EXCLUDED.next_probe_at`,
      [d.endpoint, d.status, d.code, d.permission, storedText(d.message), d.requestId, d.since, d.lastSeenAt, d.nextProbeAt],
    );
  };
  return {
    record(c) {
      chain = chain.then(() => write(c)).catch(opts.onError);
    },
    flush: () => chain,
  };
}
