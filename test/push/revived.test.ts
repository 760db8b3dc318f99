/**
 * A contact deleted locally (DELETE_MODE=archive) that Intercom revives — it unarchives a contact that is
 * seen again — is a conflict recorded and decided by CONFLICT_POLICY, and the daemon never flip-flops: after the
 * decision, further pulls and pushes change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConflictPolicy } from '../../src/sync/three-way-merge.ts';
import { drainAll, mappingOf, pullEngineOf, pushWorld, simContact, type PushWorld } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld({ seed: 112 });
});
afterAll(async () => {
  await w?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pullWith = (policy: ConflictPolicy) =>
  pullEngineOf(w, policy);

/** A synced user, deleted locally (soft or hard) and archived in Intercom, then seen again there. */
async function deletedThenRevived(key: string, how: 'soft' | 'hard', policy: ConflictPolicy) {
  const pull = pullWith(policy);
  const [row] = await w.sql<{ id: number }>(
    `INSERT INTO intercom.contacts (external_id, email, name) VALUES ($1, $1 || '@example.com', 'Before') RETURNING id`,
    [key],
  );
  await drainAll(w);
  await pull.pullContacts();
  const x = (await mappingOf(w, 'contact', row!.id))!.intercom_id!;
  if (how === 'soft') await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [row!.id]);
  else await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [row!.id]);
  await drainAll(w);
  expect((await simContact(w, x)).archived).toBe(true);
  // Intercom's timestamps are whole seconds: the revival must be visibly later than the delete.
  await sleep(1_100);
  // Seen again: Intercom unarchives the contact by itself and its updated_at moves (help article 8851551).
  await w.control('POST', `/__sim/contacts/${x}/seen`);
  await pull.pullContacts();
  await drainAll(w);
  await w.resetStats();
  // No flip-flop: more rounds change nothing and send nothing.
  for (let i = 0; i < 3; i++) {
    await pull.pullContacts();
    await drainAll(w);
  }
  expect((await w.stats()).by_route['POST /contacts/{id}/archive']).toBeUndefined();
  const conflicts = await w.sql<{ details: { winner: string; policy: string } }>(
    `SELECT details FROM intercom.audit_log WHERE intercom_id = $1 AND action = 'conflict'`,
    [x],
  );
  return { id: row!.id, x, pull, conflicts };
}

describe('contacts revived in Intercom after a local delete', () => {
  it('newest_wins: the later revival wins; the soft-deleted row comes back and stays linked', async () => {
    const { id, x, conflicts } = await deletedThenRevived('revive-1', 'soft', 'newest_wins');
    expect(conflicts.map((c) => [c.details.policy, c.details.winner])).toEqual([['newest_wins', 'remote']]);
    const [row] = await w.sql<{ deleted_at: Date | null }>(`SELECT deleted_at FROM intercom.contacts WHERE id = $1`, [id]);
    expect(row!.deleted_at).toBeNull();
    expect(await mappingOf(w, 'contact', id)).toMatchObject({ status: 'active', intercom_id: x });
    expect((await simContact(w, x)).archived).toBe(false);
  });

  it('local_wins: the contact is archived again, once', async () => {
    const { id, x, conflicts } = await deletedThenRevived('revive-2', 'soft', 'local_wins');
    expect(conflicts.map((c) => c.details.winner)).toEqual(['local']);
    const [row] = await w.sql<{ deleted_at: Date | null }>(`SELECT deleted_at FROM intercom.contacts WHERE id = $1`, [id]);
    expect(row!.deleted_at).not.toBeNull();
    expect(await mappingOf(w, 'contact', id)).toMatchObject({ status: 'archived', intercom_id: x });
    expect((await simContact(w, x)).archived).toBe(true);
  });

  it('remote_wins after a hard delete: the revived contact comes back as a new local row', async () => {
    const { id, x, conflicts } = await deletedThenRevived('revive-3', 'hard', 'remote_wins');
    expect(conflicts.map((c) => c.details.winner)).toEqual(['remote']);
    expect(await mappingOf(w, 'contact', id)).toMatchObject({ status: 'deleted', intercom_id: null });
    const rows = await w.sql<{ id: number; intercom_id: string }>(
      `SELECT id, intercom_id FROM intercom.contacts WHERE external_id = 'revive-3' AND deleted_at IS NULL`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.intercom_id).toBe(x);
    expect(rows[0]!.id).not.toBe(id);
  });
});
