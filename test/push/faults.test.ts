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

  it('an outage never dead-letters: retries go past MAX_ATTEMPTS at a capped pace and resume by themselves', async () => {
    const [id] = await insertUsers(w, 1, 1, 'f-out-');
    await drainAll(w);
    await w.sql(`UPDATE intercom.contacts SET name = 'After the outage' WHERE id = $1`, [id]);
    await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'status', status: 502 });
    const engine = w.engineWith({ maxAttempts: 2, retryBaseMs: 20, retryCapMs: 100 });
    const entry = async () =>
      (await w.sql<{ status: string; attempts: number; wait_ms: number; last_error: string }>(
        `SELECT status, attempts, (extract(epoch FROM next_attempt_at - now()) * 1000)::float8 AS wait_ms, last_error
           FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = $1`,
        [id],
      ))[0]!;
    for (let round = 0; round < 200 && (await entry()).attempts < 6; round++) {
      await engine.drainOnce();
      await new Promise((r) => setTimeout(r, 30));
    }
    const during = await entry();
    expect(during.status).toBe('pending');
    expect(during.attempts).toBeGreaterThanOrEqual(6);
    expect(during.wait_ms).toBeLessThanOrEqual(100);
    expect(during.last_error).toMatch(/^Intercom PUT \/contacts\/\{id\} failed with 502/);
    await w.control('DELETE', '/__sim/faults');
    await drainAll(w, engine);
    const m = await mappingOf(w, 'contact', id!);
    expect((await simContact(w, m!.intercom_id!)).contact.name).toBe('After the outage');
    expect(await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE status = 'dead'`)).toEqual([]);
  });

  it('a permanent refusal (400) is a dead letter at once, however high MAX_ATTEMPTS', async () => {
    // A custom attribute Intercom does not know (400 parameter_invalid, or our own check refuses it first).
    const [row] = await w.sql<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id, role, email, name, custom_attributes)
       VALUES ('f-perm-1', 'user', 'perm@example.com', 'Perm', '{"no_such_attribute": "x"}') RETURNING id`,
    );
    const engine = w.engineWith({ maxAttempts: 50 });
    await drainAll(w, engine);
    const [dead] = await w.sql<{ attempts: number; last_error: string }>(
      `SELECT attempts, last_error FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'dead'`,
      [row!.id],
    );
    expect(dead!.attempts).toBeLessThanOrEqual(1);
    expect(dead!.last_error).toMatch(/no_such_attribute/);
  });

  it('401 halts the push loop and leaves the entry pending', async () => {
    const { createGateway } = await import('../../src/intercom/gateway.ts');
    const { createPushEngine } = await import('../../src/sync/push/index.ts');
    const { baseConfig, silent } = await import('./helpers.ts');
    // Its back-off clock stands still, so however slowly the loop below runs, the GET /me re-check never falls due.
    const frozen = Date.now();
    const bad = createGateway({ token: 'wrong', baseUrl: w.sim.url, apiVersion: '2.14', ratePerMinute: 10_000, logger: silent, now: () => frozen });
    const engine = createPushEngine({ host: processHost(), gateway: bad, store: w.store, logger: silent, config: baseConfig });
    const [id] = await insertUsers(w, 1, 1, 'f-auth-');
    const round = await engine.drainOnce();
    expect(engine.isHalted()?.status).toBe(401);
    expect(round.halted).toMatch(/401/);
    const [entry] = await w.sql<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM intercom.sync_outbox WHERE local_id = $1`,
      [id],
    );
    expect(entry).toEqual({ status: 'pending', attempts: 0 });
    // A refused token does not end the loop (the gateway re-probes it); it polls, refused without a request, until
    // stopped.
    const ac = new AbortController();
    const sent = (await w.stats()).total;
    const loop = engine.runLoop({ signal: ac.signal, listen: async () => async () => undefined, pollIntervalMs: 10 });
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    await loop;
    // Refused by the gateway without a request until its GET /me re-check is due (10 s on its clock).
    expect((await w.stats()).total).toBe(sent);
    await bad.close();
    await drainAll(w);
  });
});
