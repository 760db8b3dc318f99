import { beforeEach, describe, expect, it } from 'vitest';
import { usePullHarness } from './helpers.ts';

const h = usePullHarness();
beforeEach(async () => {
  await h.resetAll();
});

const mk = async (body: Record<string, unknown>) => (await h.control('POST', '/contacts', body)).contact.id as string;
const mapping = async (localEmailOrExt: string) =>
  (
    await h.q(
      `SELECT m.local_id, m.intercom_id, m.status, m.merged_into FROM intercom.sync_mappings m JOIN intercom.contacts c ON c.id = m.local_id
        WHERE c.email = $1 OR c.external_id = $1`,
      [localEmailOrExt],
    )
  )[0];

describe('merge and identity', () => {
  it('a lead merged into a user is detected by the incremental pull and linked to that user', async () => {
    const lead = await mk({ role: 'lead', email: 'lead@example.com', name: 'Lead' });
    const user = await mk({ role: 'user', external_id: 'u-1', name: 'User' });
    const engine = h.engine();
    await engine.pullContacts({}); // first run: full pull
    await h.control('POST', '/clock', { advance_seconds: 5 });
    await h.control('POST', '/merge', { from: lead, into: user });
    const r = await engine.pullContacts({});
    expect(r.counts).toMatchObject({ updated: 1, merged: 1 });
    const userRow = (await h.q(`SELECT id, email FROM intercom.contacts WHERE external_id = 'u-1'`))[0];
    expect(userRow.email).toBe('lead@example.com');
    const leadMap = (await h.q(`SELECT status, merged_into, intercom_id, local_id FROM intercom.sync_mappings WHERE status = 'merged'`))[0];
    expect(leadMap).toMatchObject({ status: 'merged', merged_into: user, intercom_id: null });
    expect((await h.q(`SELECT merge_into_id FROM intercom.contacts WHERE id = $1`, [leadMap.local_id]))[0].merge_into_id).toBe(userRow.id);
    const audit = await h.q(`SELECT details FROM intercom.audit_log WHERE action = 'merge'`);
    expect(audit).toHaveLength(1);
    expect(audit[0].details).toMatchObject({ merged_into: user, into_local_id: userRow.id });
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox`))[0].n).toBe(0);
  });

  it('a webhook for the merged lead (404) resolves through email to the user', async () => {
    const lead = await mk({ role: 'lead', email: 'lead2@example.com' });
    const user = await mk({ role: 'user', external_id: 'u-2' });
    const engine = h.engine();
    await engine.fullPullContacts({});
    await h.control('POST', '/merge', { from: lead, into: user });
    const r = await engine.pullContactsByIds([lead]);
    expect(r.counts).toEqual({ merged: 1 });
    expect((await h.q(`SELECT status, merged_into FROM intercom.sync_mappings WHERE status = 'merged'`))[0]).toEqual({ status: 'merged', merged_into: user });
  });

  it('a user re-created with the same external_id is relinked, never duplicated', async () => {
    const old = await mk({ role: 'user', external_id: 'r-1', email: 'r1@example.com', name: 'Old' });
    const engine = h.engine();
    await engine.pullContacts({});
    await h.control('DELETE', `/contacts/${old}`);
    await h.control('POST', '/clock', { advance_seconds: 5 });
    const fresh = await mk({ role: 'user', external_id: 'r-1', email: 'r1@example.com', name: 'New' });
    const r = await engine.pullContacts({});
    expect(r.counts).toEqual({ linked: 1 });
    expect(await h.q(`SELECT name, intercom_id FROM intercom.contacts`)).toEqual([{ name: 'New', intercom_id: fresh }]);
    expect(await mapping('r-1')).toMatchObject({ intercom_id: fresh, status: 'active' });
    const [relink] = await h.q(`SELECT changes, details FROM intercom.audit_log WHERE action = 'relink'`);
    expect(relink).toMatchObject({ changes: { intercom_id: { before: old, after: fresh } }, details: { previous_intercom_id: old } });
  });

  it('a mapped contact that answers 404 and matches nothing is marked deleted (webhook and full-pull sweep)', async () => {
    const a = await mk({ role: 'user', external_id: 'd-1', email: 'd1@example.com' });
    const b = await mk({ role: 'user', external_id: 'd-2', email: 'd2@example.com' });
    const engine = h.engine();
    await engine.fullPullContacts({});
    await h.control('DELETE', `/contacts/${a}`);
    await h.control('DELETE', `/contacts/${b}`);
    expect((await engine.pullContactsByIds([a])).counts).toEqual({ deleted: 1 });
    expect((await engine.fullPullContacts({})).counts).toEqual({ deleted: 1 });
    expect(await h.q(`SELECT status FROM intercom.sync_mappings ORDER BY local_id`)).toEqual([{ status: 'deleted' }, { status: 'deleted' }]);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts WHERE deleted_at IS NOT NULL`))[0].n).toBe(2);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'delete'`))[0].n).toBe(2);
  });
});
