import { processHost } from '../../src/daemon/host.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainAll, insertUsers, mappingOf, pushWorld, simContact, simContactsByExternalId, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  // One gateway retry only: most failures reach the outbox's own retry bookkeeping (attempts, next_attempt_at).
  w = await pushWorld({ seed: 11 }, {}, 1);
});
afterAll(async () => {
  await w?.close();
});

describe('injected faults', () => {
  it('429, 5xx and dropped connections delay changes but never lose one', async () => {
    const old = await insertUsers(w, 1, 60, 'f-old-');
    await drainAll(w);
    await insertUsers(w, 1, 40, 'f-new-');
    await w.sql(`UPDATE intercom.contacts SET name = 'Faulted ' || id WHERE id = ANY($1::bigint[])`, [old]);
    await w.control('POST', '/__sim/faults', {
      rules: [
        { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 503, probability: 0.15 },
        { method: 'PUT', path: '/contacts/{id}', kind: 'drop', probability: 0.05 },
        { method: 'POST', path: '/contacts', kind: 'status', status: 500, probability: 0.15 },
        { method: 'POST', path: '/contacts', kind: 'drop', probability: 0.05 },
        // A 429 pauses the gateway's limiter to the end of the rate window (up to 10 s), so one is enough.
        { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 429, count: 1 },
      ],
    });
    const engine = w.engineWith({ maxAttempts: 50 });
    await drainAll(w, engine, 2000);
    const stats = await w.stats();
    await w.control('DELETE', '/__sim/faults');
    expect((stats.by_status['503'] ?? 0) + (stats.by_status['500'] ?? 0)).toBeGreaterThan(0);
    expect(stats.by_status['0'] ?? 0).toBeGreaterThan(0);
    expect(stats.by_status['429']).toBe(1);

    expect(await w.sql(`SELECT 1 FROM intercom.sync_outbox`)).toEqual([]);
    for (const id of old) {
      const m = await mappingOf(w, 'contact', id);
      expect((await simContact(w, m!.intercom_id!)).contact.name).toBe(`Faulted ${id}`);
    }
    for (let i = 1; i <= 40; i++) {
      const ext = `f-new-${String(i).padStart(6, '0')}`;
      expect(await simContactsByExternalId(w, ext)).toHaveLength(1);
    }
  });

  it('failures past MAX_ATTEMPTS become dead letters with the last error; requeue delivers them', async () => {
    const [id] = await insertUsers(w, 1, 1, 'f-dead-');
    await w.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts', kind: 'status', status: 502 });
    const engine = w.engineWith({ maxAttempts: 2 });
    await drainAll(w, engine);
    const [dead] = await w.sql<{ attempts: number; last_error: string }>(
      `SELECT attempts, last_error FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'dead'`,
      [id],
    );
    expect(dead!.attempts).toBe(2);
    expect(dead!.last_error).toMatch(/^gave up after 2 attempts: Intercom POST \/contacts failed with 502/);
    await w.control('DELETE', '/__sim/faults');
    expect(await engine.requeueDead({ entityType: 'contact' })).toBe(1);
    await drainAll(w, engine);
    expect(await simContactsByExternalId(w, 'f-dead-000001')).toHaveLength(1);
    const actions = await w.sql<{ action: string }>(`SELECT action FROM intercom.audit_log WHERE local_id = $1 ORDER BY id`, [id]);
    // The 502s never reached Intercom's store, so the reservation's lookup finds nothing and the create goes out.
    expect(actions.map((a) => a.action)).toEqual(['dead', 'requeue', 'create']);
  });

  it('401 halts the push loop and leaves the entry pending', async () => {
    const { createGateway } = await import('../../src/intercom/gateway.ts');
    const { createPushEngine } = await import('../../src/sync/push/index.ts');
    const { baseConfig, silent } = await import('./helpers.ts');
    const bad = createGateway({ token: 'wrong', baseUrl: w.sim.url, apiVersion: '2.14', ratePerMinute: 10_000, logger: silent });
    const engine = createPushEngine({ host: processHost(), gateway: bad, store: w.store, logger: silent, config: baseConfig });
    const [id] = await insertUsers(w, 1, 1, 'f-auth-');
    await engine.drainOnce();
    expect(engine.isHalted()?.status).toBe(401);
    const [entry] = await w.sql<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM intercom.sync_outbox WHERE local_id = $1`,
      [id],
    );
    expect(entry).toEqual({ status: 'pending', attempts: 0 });
    const ac = new AbortController();
    // A halted engine's loop returns at once instead of spinning.
    await engine.runLoop({ signal: ac.signal, listen: async () => async () => undefined, pollIntervalMs: 10 });
    await bad.close();
    await drainAll(w);
  });
});
