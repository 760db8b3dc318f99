import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedicatedClient } from '../../src/db/client.ts';
import { createOutboxListen } from '../../src/db/listen.ts';
import { processHost } from '../../src/daemon/host.ts';
import { createPushEngine, type PushStorePort } from '../../src/sync/push/index.ts';
import { baseConfig, drainAll, insertUsers, mappingOf, pushWorld, silent, simContact, type PushWorld } from './helpers.ts';
import type { RunSummary } from '../../src/sync/outcome.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld();
});
afterAll(async () => {
  await w?.close();
});

describe('push loop', () => {
  it('wakes on the outbox NOTIFY (the poll interval is an hour), and returns when the signal aborts', async () => {
    const [id] = await insertUsers(w, 1, 1, 'loop-');
    await drainAll(w);
    const ic = (await mappingOf(w, 'contact', id!))!.intercom_id!;
    const ac = new AbortController();
    const runs: RunSummary[] = [];
    const loop = w.engine.runLoop({ signal: ac.signal, listen: createOutboxListen({ connect: dedicatedClient(w.db.url, 'loop test listen'), schema: w.db.schema, logger: silent }), pollIntervalMs: 3_600_000, onRun: (s) => runs.push(s) });
    // Give the loop time to finish its first (empty) round and go to sleep on the poll interval.
    await new Promise((r) => setTimeout(r, 200));
    for (const name of ['First', 'Second']) {
      await w.sql(`UPDATE intercom.contacts SET name = $2 WHERE id = $1`, [id, name]);
      while ((await simContact(w, ic)).contact.name !== name) await new Promise((r) => setTimeout(r, 20));
    }
    ac.abort();
    await loop;
    expect(runs.reduce((n, r) => n + (r.counts.updated ?? 0), 0)).toBe(2);
  });
});

/**
 * Chaos seeds 7 and 8: a leader that steps down because its database sessions were terminated gives back the entries
 * it had claimed and not started — and that release, on the same broken connections, failed, leaving them leased
 * (unclaimable by anyone) for the whole two-minute lease. The release is now tried again.
 */
it('entries claimed when the push is aborted go back even if the first release fails', async () => {
  const ids = await insertUsers(w, 900, 3, 'abort-');
  const ac = new AbortController();
  let failures = 0;
  const store: PushStorePort = {
    ...w.store,
    async claim(worker, limit, lease) {
      const batch = await w.store.claim(worker, limit, lease);
      ac.abort(); // the step-down arrives while the claim is under way
      return batch;
    },
    async release(entries, worker) {
      if (entries.length > 0 && failures++ === 0) throw new Error('terminating connection due to administrator command');
      return w.store.release(entries, worker);
    },
  };
  const engine = createPushEngine({ host: processHost(), gateway: w.gateway, store, logger: silent, config: baseConfig });
  await engine.drainOnce({ signal: ac.signal });
  expect(failures).toBe(2); // the failed release of the claimed entries, then the one that went through
  const leased = await w.sql(`SELECT local_id FROM intercom.sync_outbox WHERE local_id = ANY($1::bigint[]) AND locked_by IS NOT NULL`, [ids]);
  expect(leased).toEqual([]);
  await drainAll(w);
});
