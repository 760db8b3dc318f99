import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoryKey } from '../../src/db/advisory-lock.ts';
import { createLeaderLock, type LeaderLock } from '../../src/daemon/leader-lock.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { clientFactory, silentLogger, waitFor } from './helpers.ts';

let tdb: TestDatabase;
const locks: LeaderLock[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(locks.map((l) => l.stop()));
  await tdb.drop();
});

function makeLock(name: string, key: string, events: string[]): LeaderLock {
  const lock = createLeaderLock({
    connect: clientFactory(tdb.url, name),
    key,
    retryMs: 100,
    logger: silentLogger,
    onAcquired: () => {
      events.push(`${name}:acquired`);
    },
    onLost: (reason) => {
      events.push(`${name}:lost:${reason}`);
    },
  });
  locks.push(lock);
  return lock;
}

describe('leader lock', () => {
  it('lets exactly one of two replicas lead, and hands over when the leader stops', async () => {
    const key = advisoryKey('test:leader:handover');
    const events: string[] = [];
    const a = makeLock('lock-a', key, events);
    a.start();
    await waitFor('a to lead', () => a.role() === 'leader');
    const b = makeLock('lock-b', key, events);
    b.start();
    await waitFor('b to stand by', () => b.role() === 'standby');
    expect(a.role()).toBe('leader');

    await a.stop();
    expect(a.role()).toBe('stopped');
    await waitFor('b to take over', () => b.role() === 'leader');
    expect(events).toEqual(['lock-a:acquired', 'lock-b:acquired']);
    await b.stop();
  });

  it('steps down when its lock connection dies, and the standby takes over', async () => {
    const key = advisoryKey('test:leader:killed');
    const events: string[] = [];
    const a = makeLock('lock-kill-a', key, events);
    a.start();
    await waitFor('a to lead', () => a.role() === 'leader');
    const b = makeLock('lock-kill-b', key, events);
    b.start();
    await waitFor('b to stand by', () => b.role() === 'standby');

    // What kill -9 of the leader looks like from the database: its session ends and the lock goes with it.
    await tdb.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock-kill-a'`);
    await waitFor('b to take over', () => b.role() === 'leader');
    await waitFor('a to notice it lost the lock', () => events.some((e) => e.startsWith('lock-kill-a:lost')));
    // a reconnects as a standby: the lock is b's now.
    await waitFor('a to stand by', () => a.role() === 'standby');
    expect(events.filter((e) => e.endsWith(':acquired'))).toEqual(['lock-kill-a:acquired', 'lock-kill-b:acquired']);
  });

  it('holds the lock per key: different schemas lead independently', async () => {
    const events: string[] = [];
    const a = makeLock('lock-s1', advisoryKey('test:leader:schema1'), events);
    const b = makeLock('lock-s2', advisoryKey('test:leader:schema2'), events);
    a.start();
    b.start();
    await waitFor('both to lead', () => a.role() === 'leader' && b.role() === 'leader');
  });
});
