import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUsers, pushWorld, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld();
});
afterAll(async () => {
  await w?.close();
});

describe('leases of a push worker that died', () => {
  it('are ended by the next worker on the same host, so its entries go out now, not at lease expiry', async () => {
    await insertUsers(w, 1, 5, 'lease-');
    // A process that has certainly ended: its pid names the dead worker.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const deadWorker = `push:${hostname()}:${deadPid}:gone`;
    const claimed = await w.store.claim(deadWorker, 10, 3600);
    expect(claimed).toHaveLength(5);
    // A live worker's leases on another host are left alone.
    await w.sql(`UPDATE intercom.sync_outbox SET locked_by = 'push:elsewhere:1:x' WHERE id = $1`, [claimed[0]!.id]);

    const summary = await w.engine.drainOnce();
    expect(summary.counts.created).toBe(4);
    const left = await w.sql<{ locked_by: string }>(`SELECT locked_by FROM intercom.sync_outbox WHERE status = 'pending'`);
    expect(left).toEqual([{ locked_by: 'push:elsewhere:1:x' }]);
  });
});
