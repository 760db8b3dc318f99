import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedicatedClient } from '../../src/db/client.ts';
import { createOutboxListen } from '../../src/db/listen.ts';
import { drainAll, insertUsers, mappingOf, pushWorld, silent, simContact, type PushWorld } from './helpers.ts';
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
