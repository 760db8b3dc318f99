/**
 * Two rows swap their keys in one transaction — the external_ids of two synced users, the emails of two leads. Each
 * PUT alone meets a 409: the other contact still holds the key it wants. Before, both rows were dead-lettered and
 * Intercom kept the old keys. Now the write blocked by one of our own contacts whose pending change frees the key is
 * sequenced (src/sync/push/swap.ts): one contact moves to a temporary key, the other takes its key, then the first
 * takes the freed one. Both directions, entries processed together or one at a time, and a lost answer to the
 * temporary write: both sides converge on the swapped keys, no temporary value is left anywhere, no dead letter,
 * and every write is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processHost } from '../../src/daemon/host.ts';
import type { IntercomGateway, Priority } from '../../src/intercom/gateway.ts';
import { createPushEngine, type PushEngine } from '../../src/sync/push/index.ts';
import { baseConfig, drainAll, mappingOf, pullEngineOf, pushWorld, silent, simContact, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld({ seed: 907 });
});
afterAll(async () => {
  await w?.close();
});

type Kind = 'users' | 'leads';
const field = (kind: Kind) => (kind === 'users' ? 'external_id' : 'email');

async function pair(kind: Kind, tag: string): Promise<[number, number]> {
  const ids: number[] = [];
  for (const who of ['a', 'b']) {
    const [row] =
      kind === 'users'
        ? await w.sql<{ id: number }>(`INSERT INTO intercom.contacts (external_id, email, name, role) VALUES ($1, $1 || '@example.com', $2, 'user') RETURNING id`, [
            `swap-${tag}-${who}`,
            `User ${who}`,
          ])
        : await w.sql<{ id: number }>(`INSERT INTO intercom.contacts (email, name, role) VALUES ($1, $2, 'lead') RETURNING id`, [
            `swap-${tag}-${who}@example.com`,
            `Lead ${who}`,
          ]);
    ids.push(row!.id);
  }
  return ids as [number, number];
}

/** The application swaps the two rows' keys in one transaction (external_id is unique: through a value of its own). */
async function swap(kind: Kind, [a, b]: [number, number]): Promise<void> {
  const client = await w.db.pool.connect();
  try {
    await client.query('BEGIN');
    const f = field(kind);
    const { rows } = await client.query<{ id: number; v: string }>(`SELECT id, ${f} AS v FROM intercom.contacts WHERE id = ANY($1::bigint[])`, [[a, b]]);
    const va = rows.find((r) => r.id === a)!.v;
    const vb = rows.find((r) => r.id === b)!.v;
    if (kind === 'users') await client.query(`UPDATE intercom.contacts SET external_id = 'app-swap-' || id WHERE id = $1`, [a]);
    await client.query(`UPDATE intercom.contacts SET ${f} = $2 WHERE id = $1`, [b, va]);
    await client.query(`UPDATE intercom.contacts SET ${f} = $2 WHERE id = $1`, [a, vb]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function drainOneAtATime(engine: PushEngine = w.engine): Promise<void> {
  for (let i = 0; i < 400; i++) {
    await engine.drainOnce({ max: 1 });
    const [{ n }] = (await w.sql<{ n: number }>(`SELECT count(*)::int AS n FROM intercom.sync_outbox WHERE status = 'pending'`)) as [{ n: number }];
    if (n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('outbox did not drain');
}

/** Both sides hold the rows' keys as the application left them, with no temporary value anywhere. */
async function expectConverged(kind: Kind, ids: [number, number]): Promise<void> {
  const f = field(kind);
  expect(await w.sql(`SELECT local_id, status, last_error FROM intercom.sync_outbox WHERE local_id = ANY($1::bigint[])`, [ids])).toEqual([]);
  for (const id of ids) {
    const [row] = await w.sql<{ v: string }>(`SELECT ${f} AS v FROM intercom.contacts WHERE id = $1`, [id]);
    const m = (await mappingOf(w, 'contact', id))!;
    expect(m.status).toBe('active');
    expect((m.base_snapshot as Record<string, unknown>)[f]).toBe(row!.v);
    const remote = await simContact(w, m.intercom_id!);
    expect(remote.contact[f]).toBe(row!.v);
    expect(remote.archived).toBe(false);
    expect(JSON.stringify(remote.contact)).not.toContain('intercom-sync-swap');
  }
  expect(await w.sql(`SELECT id FROM intercom.contacts WHERE ${f} LIKE 'intercom-sync-swap%'`)).toEqual([]);
}

/** Push audit rows of these rows setting the key field to each row's final value. */
async function expectAudited(kind: Kind, ids: [number, number]): Promise<void> {
  const f = field(kind);
  for (const id of ids) {
    const [row] = await w.sql<{ v: string }>(`SELECT ${f} AS v FROM intercom.contacts WHERE id = $1`, [id]);
    const audits = await w.sql<{ changes: Record<string, { after: unknown }> }>(
      `SELECT changes FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push' AND changes ? $2 ORDER BY id`,
      [id, f],
    );
    expect(audits.at(-1)?.changes[f]?.after).toBe(row!.v);
  }
}

describe('two rows swapping their keys in one transaction', () => {
  for (const kind of ['users', 'leads'] as const) {
    for (const order of ['together', 'one at a time'] as const) {
      it(`${kind}, entries ${order}: both sides converge, both ways, no dead letter, every write audited`, async () => {
        const ids = await pair(kind, `${kind}-${order.replaceAll(' ', '-')}`);
        await drainAll(w);
        const drain = () => (order === 'together' ? drainAll(w) : drainOneAtATime());
        await swap(kind, ids);
        await drain();
        await expectConverged(kind, ids);
        await expectAudited(kind, ids);
        // And back: B↔A.
        await swap(kind, [ids[1], ids[0]]);
        await drain();
        await expectConverged(kind, ids);
        await expectAudited(kind, ids);
        // A pull afterwards changes nothing: no temporary value reaches a row, nothing is queued.
        await pullEngineOf(w).pullContacts({});
        await expectConverged(kind, ids);
        expect(await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE local_id = ANY($1::bigint[])`, [ids])).toEqual([]);
      });
    }
  }

  // A crash between the steps: the temporary write applied, its answer lost (the connection dropped after Intercom
  // applied it), a pull in between, and another engine (a restart) carrying on. The temporary value is a write of ours
  // in doubt: the pull takes it for our echo, never for a remote edit, and the next run sets the final key over it.
  for (const kind of ['users', 'leads'] as const) {
    it(`${kind}: a lost answer to the temporary write converges on the next run; the temporary value does not stick`, async () => {
      const ids = await pair(kind, `${kind}-crash`);
      await drainAll(w);
      let dropped = 0;
      const f = field(kind);
      const gateway: IntercomGateway = Object.create(w.gateway, {
        updateContact: {
          value: async (id: string, body: Parameters<IntercomGateway['updateContact']>[1], priority: Priority) => {
            const v = (body as Record<string, unknown>)[f];
            if (dropped === 0 && typeof v === 'string' && v.startsWith('intercom-sync-swap')) {
              dropped++;
              await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'drop', after_apply: true, count: 1 });
            }
            return w.gateway.updateContact(id, body, priority);
          },
        },
      });
      const first = createPushEngine({ host: processHost(), gateway, store: w.store, logger: silent, config: { ...baseConfig, maxAttempts: 3 } });
      await swap(kind, ids);
      for (let i = 0; i < 20 && dropped === 0; i++) await first.drainOnce({ max: 1 });
      expect(dropped).toBe(1);
      await pullEngineOf(w).pullContacts({});
      expect(await w.sql(`SELECT id FROM intercom.contacts WHERE ${f} LIKE 'intercom-sync-swap%'`)).toEqual([]);
      await drainAll(w, w.engineWith({}));
      await pullEngineOf(w).pullContacts({});
      await drainAll(w);
      await expectConverged(kind, ids);
      await expectAudited(kind, ids);
    });
  }
});
