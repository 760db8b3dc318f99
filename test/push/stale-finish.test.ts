/**
 * Chaos seed 10 (range run on 25153fd): a PUT was answered, but while it was in flight a pull met a remote edit of the
 * same field and resolved the conflict for the remote value (newest_wins). The push's finish found the base moved
 * and gave up ('stale'), which was right, yet it also dropped the write's doubt. Intercom had applied our older value
 * after the remote edit; with no doubt to name it, the next pull took it for a remote edit, the older value won on
 * both sides and no push row recorded the write. A stale finish now keeps its update doubts: the pull recognises the
 * landed value as our echo, audits it as our push and sends the conflict's winner again.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { PullEngine } from '../../src/sync/pull/index.ts';
import { drainAll, mappingOf, pullEngineOf, pushWorld, simContact, type PushWorld } from './helpers.ts';

const PUT_LATENCY_MS = 2_500;

let w: PushWorld;
let pull: PullEngine;
beforeAll(async () => {
  // The client waits long enough for the slow PUT's answer: this write is answered, not in doubt by a timeout.
  w = await pushWorld({ seed: 5 }, {}, 3, { timeoutSeconds: 30 });
  pull = pullEngineOf(w);
});
afterAll(async () => {
  await w?.close();
});
beforeEach(async () => {
  await w.control('DELETE', '/__sim/faults');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function names(id: number): Promise<{ local: string | null; remote: string | null }> {
  const [row] = await w.sql<{ name: string | null }>(`SELECT name FROM intercom.contacts WHERE id = $1`, [id]);
  const m = await mappingOf(w, 'contact', id);
  return { local: row!.name, remote: (await simContact(w, m!.intercom_id!)).contact.name };
}

it('an answered PUT whose finish finds a pull moved the base keeps its doubt: the conflict winner ends on both sides', { timeout: 60_000 }, async () => {
  const [row] = await w.sql<{ id: number }>(
    `INSERT INTO intercom.contacts (external_id, email, name) VALUES ('stale-1', 'stale-1@example.com', 'v0') RETURNING id`,
  );
  const id = row!.id;
  await drainAll(w);
  await pull.pullContacts();
  const intercomId = (await mappingOf(w, 'contact', id))!.intercom_id!;

  // The simulator sleeps before it handles the request: the PUT is applied (and answered) after the remote edit below.
  await w.control('POST', '/__sim/faults', { method: 'PUT', path: '/contacts/{id}', kind: 'latency', latency_ms: PUT_LATENCY_MS, count: 1 });
  await w.sql(`UPDATE intercom.contacts SET name = 'local' WHERE id = $1`, [id]);
  const pushing = w.engine.drainOnce();
  // updated_at is whole seconds and newest_wins compares it with the row's: the remote edit must be a later second.
  await sleep(1_100);
  await w.control('PATCH', `/__sim/contacts/${intercomId}`, { name: 'remote' });
  await pull.pullContacts();
  expect((await names(id)).local).toBe('remote'); // the conflict went to the newer, remote edit
  await pushing;
  // Our older value landed after the remote edit: the state the finish had to leave recoverable.
  expect((await names(id)).remote).toBe('local');
  const open = await w.sql(`SELECT 1 FROM intercom.sync_write_doubts WHERE local_id = $1 AND op = 'update'`, [id]);
  expect(open).toHaveLength(1);

  for (let i = 0; i < 10; i++) {
    await pull.pullContacts();
    await drainAll(w);
    const n = await names(id);
    if (n.local === n.remote) break;
  }
  expect(await names(id)).toEqual({ local: 'remote', remote: 'remote' });
  const audit = await w.sql<{ direction: string; action: string; changes: Record<string, { after: unknown }>; details: Record<string, unknown> | null }>(
    `SELECT direction, action, changes, details FROM intercom.audit_log WHERE local_id = $1 AND changes ? 'name' ORDER BY id`,
    [id],
  );
  // The write is recorded as our push, landed late, and the echo puts the winner back.
  expect(audit.filter((a) => a.direction === 'push' && a.changes.name?.after === 'local')).toHaveLength(1);
  expect(audit.filter((a) => a.action === 'echo').map((a) => a.changes.name)).toEqual([{ before: 'local', after: 'remote' }]);
  // The older value never came back to the row as a remote edit.
  expect(audit.filter((a) => a.direction === 'pull' && a.action === 'update' && a.changes.name?.after === 'local')).toEqual([]);
  expect(await w.sql(`SELECT 1 FROM intercom.sync_write_doubts WHERE local_id = $1`, [id])).toEqual([]);
});
