import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoryKey } from '../../src/db/advisory-lock.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import { createLifecycle } from '../../src/daemon/lifecycle.ts';
import { createOutboxListen } from '../../src/db/listen.ts';
import { createRunTracker } from '../../src/daemon/run-tracker.ts';
import { createScheduler } from '../../src/daemon/scheduler.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { clientFactory, silentLogger, waitFor } from './helpers.ts';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

describe('lifecycle', () => {
  it('releases in reverse order, once, even when stop() is called twice', async () => {
    const order: string[] = [];
    const lc = createLifecycle({ logger: silentLogger });
    lc.defer('pool', () => {
      order.push('pool');
    });
    lc.defer('gateway', async () => {
      order.push('gateway');
    });
    lc.defer('http', () => {
      order.push('http');
    });
    const a = lc.stop('test');
    const b = lc.stop('again');
    expect(a).toBe(b);
    await a;
    expect(order).toEqual(['http', 'gateway', 'pool']);
    expect(() => lc.defer('late', () => undefined)).toThrow(/shutdown already started/);
  });

  it('bounds each release step and keeps going after a failure', async () => {
    const order: string[] = [];
    const lc = createLifecycle({ logger: silentLogger });
    lc.defer('last', () => {
      order.push('last');
    });
    lc.defer('hangs', () => new Promise<void>(() => undefined), 50);
    lc.defer('throws', () => {
      throw new Error('nope');
    });
    await lc.stop('test');
    expect(order).toEqual(['last']);
  });
});

describe('outbox listener', () => {
  it('wakes on notifications for its own schema only', async () => {
    let wakes = 0;
    const listen = createOutboxListen({ connect: clientFactory(tdb.url, 'listen-test'), schema: 'intercom', logger: silentLogger });
    const unlisten = await listen(() => {
      wakes += 1;
    });
    try {
      await tdb.pool.query(`SELECT pg_notify('intercom_sync_outbox', 'other_schema')`);
      await tdb.pool.query(`INSERT INTO intercom.contacts (external_id, email) VALUES ('l1', 'l1@example.com')`);
      await waitFor('a wake-up', () => wakes >= 1);
      // The other schema's notification, sent first, must not have counted.
      await tdb.pool.query(`SELECT pg_notify('intercom_sync_outbox', 'other_schema')`);
      await tdb.pool.query(`SELECT pg_notify('intercom_sync_outbox', 'intercom')`);
      await waitFor('a second wake-up', () => wakes >= 2);
      expect(wakes).toBe(2);
    } finally {
      await unlisten();
    }
  });

  it('re-opens a killed LISTEN connection and wakes the loop to catch up', async () => {
    let wakes = 0;
    const listen = createOutboxListen({ connect: clientFactory(tdb.url, 'listen-kill'), schema: 'intercom', logger: silentLogger, reconnectMs: 50 });
    const unlisten = await listen(() => {
      wakes += 1;
    });
    try {
      await tdb.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'listen-kill'`);
      await waitFor('the catch-up wake-up after reconnecting', () => wakes >= 1);
      await waitFor('the new connection', async () => (await tdb.pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'listen-kill'`)).rows.length === 1);
      const before = wakes;
      await tdb.pool.query(`SELECT pg_notify('intercom_sync_outbox', 'intercom')`);
      await waitFor('a wake-up on the new connection', () => wakes > before);
    } finally {
      await unlisten();
    }
  });
});

describe('daemon', () => {
  it('runs schedules and the push loop only while leading, and stops them when the lock is lost', async () => {
    const key = advisoryKey('test:daemon');
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'd', logger: silentLogger });
    const pushLoops: string[] = [];
    const make = (name: string) =>
      createDaemon({
        logger: silentLogger,
        lock: { connect: clientFactory(tdb.url, name), key, retryMs: 100 },
        scheduler: createScheduler({ tracker, logger: silentLogger, jobs: [] }),
        pushLoop: async (signal) => {
          pushLoops.push(`${name}:start`);
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          pushLoops.push(`${name}:stop`);
        },
      });
    const a = make('daemon-a');
    const b = make('daemon-b');
    a.start();
    await waitFor('a to lead', () => a.role() === 'leader');
    b.start();
    await waitFor('b to stand by', () => b.role() === 'standby');
    await waitFor('a push loop', () => pushLoops.includes('daemon-a:start'));
    expect(pushLoops).toEqual(['daemon-a:start']);

    await tdb.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'daemon-a'`);
    await waitFor('b to lead', () => b.role() === 'leader');
    await waitFor('a to stop its push loop', () => pushLoops.includes('daemon-a:stop'));
    await waitFor('b push loop', () => pushLoops.includes('daemon-b:start'));

    await Promise.all([a.stop(1000), b.stop(1000)]);
    expect(pushLoops.filter((e) => e.endsWith(':start')).length).toBe(pushLoops.filter((e) => e.endsWith(':stop')).length);
    expect([a.role(), b.role()]).toEqual(['stopped', 'stopped']);
  });
});
