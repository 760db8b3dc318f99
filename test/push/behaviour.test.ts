import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainAll, mappingOf, pushWorld, simContact, simContactsByExternalId, type PushWorld, type SimInspect } from './helpers.ts';

let w: PushWorld;
beforeAll(async () => {
  w = await pushWorld();
});
afterAll(async () => {
  await w?.close();
});

async function insertContact(fields: Record<string, unknown>): Promise<number> {
  const keys = Object.keys(fields);
  const rows = await w.sql<{ id: number }>(
    `INSERT INTO intercom.contacts (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    keys.map((k) => (k === 'custom_attributes' ? JSON.stringify(fields[k]) : fields[k])),
  );
  return rows[0]!.id;
}

async function linked(localId: number): Promise<string> {
  const m = await mappingOf(w, 'contact', localId);
  expect(m?.status).toBe('active');
  return m!.intercom_id!;
}

async function archiveDoubtsOf(localId: number) {
  return w.sql(`SELECT id FROM intercom.sync_write_doubts WHERE local_id = $1 AND op = 'archive'`, [localId]);
}

async function waitFor(done: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function deadLetters() {
  return w.sql<{ entity_type: string; local_id: number; last_error: string }>(
    `SELECT entity_type, local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead' ORDER BY id`,
  );
}

describe('create races and identity', () => {
  it('a user created remotely between the local insert and the push ends linked, not duplicated', async () => {
    const id = await insertContact({ external_id: 'race-1', role: 'user', name: 'Local Name' });
    await w.control('POST', '/__sim/contacts', { external_id: 'race-1', role: 'user', name: 'Remote', phone: '+4912345' });
    await drainAll(w);
    const all = await simContactsByExternalId(w, 'race-1');
    expect(all).toHaveLength(1);
    expect(await linked(id)).toBe(all[0]!.contact.id);
    // The row's values win where it has them; what only Intercom had comes back to the row.
    expect(all[0]!.contact.name).toBe('Local Name');
    const [row] = await w.sql<{ phone: string }>(`SELECT phone FROM intercom.contacts WHERE id = $1`, [id]);
    expect(row!.phone).toBe('+4912345');
    const audit = await w.sql<{ action: string }>(`SELECT action FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push'`, [id]);
    expect(audit.map((a) => a.action)).toEqual(['link']);
  });

  // Only a holder known to be archived is unarchived. This simulator's 409 does not say "archived" (the
  // plain wording), and Intercom's contact object has no archived flag, so a contact someone else archived is
  // linked and updated but left archived (Intercom unarchives it when the person is seen again).
  it('a holder of the external_id archived by someone else, with a plain 409, is linked but not unarchived', async () => {
    const remote = await w.control<SimInspect>('POST', '/__sim/contacts', { external_id: 'race-2', role: 'user', name: 'Old' });
    await w.control('POST', `/__sim/contacts/${remote.contact.id}/archive`);
    await w.resetStats();
    const id = await insertContact({ external_id: 'race-2', role: 'user', name: 'Back again' });
    await drainAll(w);
    expect(await linked(id)).toBe(remote.contact.id);
    const now = await simContact(w, remote.contact.id);
    expect(now.archived).toBe(true);
    expect(now.contact.name).toBe('Back again');
    expect((await w.stats()).by_route['POST /contacts/{id}/unarchive']).toBeUndefined();
  });

  it('a lead is created keyed by email, and a remote lead with that email is linked (409 names it)', async () => {
    const remote = await w.control<SimInspect>('POST', '/__sim/contacts', { role: 'lead', email: 'lead-race@example.com' });
    const id = await insertContact({ role: 'lead', email: 'lead-race@example.com', name: 'Lead L' });
    await drainAll(w);
    expect(await linked(id)).toBe(remote.contact.id);
    expect((await simContact(w, remote.contact.id)).contact.name).toBe('Lead L');
  });

  it('a crash between create and link does not create a second contact on retry', async () => {
    const id = await insertContact({ external_id: 'crash-1', role: 'user', name: 'C' });
    // What a killed worker leaves behind: the committed reservation, the contact in Intercom, no link, entry pending.
    await w.store.reservePendingMapping('contact', id, 'crash-1');
    await w.gateway.createContact({ external_id: 'crash-1', role: 'user', name: 'C' });
    await w.resetStats();
    await drainAll(w);
    expect(await simContactsByExternalId(w, 'crash-1')).toHaveLength(1);
    const stats = await w.stats();
    expect(stats.by_route['POST /contacts']).toBeUndefined();
    expect(stats.by_route['GET /contacts/find_by_external_id/{external_id}']?.['200']).toBe(1);
    expect(await linked(id)).toBe((await simContactsByExternalId(w, 'crash-1'))[0]!.contact.id);
  });

  it('404 on a linked id: found again by external_id, relinked, update sent once more', async () => {
    const id = await insertContact({ external_id: 'moved-1', role: 'user', name: 'Before' });
    await drainAll(w);
    const oldId = await linked(id);
    await w.control('DELETE', `/__sim/contacts/${oldId}`);
    const fresh = await w.control<SimInspect>('POST', '/__sim/contacts', { external_id: 'moved-1', role: 'user', phone: '+1555' });
    await w.sql(`UPDATE intercom.contacts SET name = 'After' WHERE id = $1`, [id]);
    await drainAll(w);
    expect(await linked(id)).toBe(fresh.contact.id);
    expect((await simContact(w, fresh.contact.id)).contact.name).toBe('After');
    const audit = await w.sql<{ action: string }>(
      `SELECT action FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push' ORDER BY id`,
      [id],
    );
    expect(audit.map((a) => a.action)).toEqual(['create', 'relink']);
  });

  it('several candidates after a 404: the row is marked ambiguous with the reason, not guessed', async () => {
    const id = await insertContact({ role: 'lead', email: 'shared@example.com', name: 'Lead' });
    await drainAll(w);
    const leadId = await linked(id);
    await w.control('POST', '/__sim/contacts', { external_id: 'amb-1', role: 'user', email: 'shared@example.com' });
    await w.control('POST', '/__sim/contacts', { external_id: 'amb-2', role: 'user', email: 'shared@example.com' });
    await w.control('DELETE', `/__sim/contacts/${leadId}`);
    await w.sql(`UPDATE intercom.contacts SET name = 'Lead 2' WHERE id = $1`, [id]);
    await drainAll(w);
    const m = await mappingOf(w, 'contact', id);
    expect(m?.status).toBe('ambiguous');
    expect(m?.status_reason).toMatch(/candidates/);
    const dead = (await deadLetters()).filter((d) => d.local_id === id);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.last_error).toMatch(new RegExp(`contact ${id}: .* 2 contacts could be it`));
  });
});

describe('validation, dead letters and requeue', () => {
  it('invalid rows become dead letters naming row and field while the rest sync; requeue after a fix delivers', async () => {
    const good = await insertContact({ external_id: 'ok-1', role: 'user', name: 'Fine' });
    const unknownAttr = await insertContact({ external_id: 'bad-attr', role: 'user', custom_attributes: { tier: 'gold' } });
    const tooLong = await insertContact({ external_id: 'bad-long', role: 'user', name: 'x'.repeat(300) });
    await drainAll(w);
    await linked(good);
    const dead = await deadLetters();
    const byId = new Map(dead.map((d) => [d.local_id, d.last_error]));
    expect(byId.get(unknownAttr)).toBe(
      `contact ${unknownAttr}: custom_attributes.tier is not a data attribute in Intercom (create it, or set AUTO_CREATE_ATTRIBUTES=true)`,
    );
    expect(byId.get(tooLong)).toBe(`contact ${tooLong}: name is 300 characters long (Intercom allows 255)`);
    const invalidAudit = await w.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'invalid' AND local_id = ANY($1::bigint[])`,
      [[unknownAttr, tooLong]],
    );
    expect(invalidAudit[0]!.n).toBe(2);

    // The operator fixes both: defines the attribute in Intercom, shortens the name.
    await w.control('POST', '/__sim/data_attributes', { name: 'tier', model: 'contact', data_type: 'string' });
    await w.sql(`UPDATE intercom.contacts SET name = 'Short' WHERE id = $1`, [tooLong]);
    expect(await w.engine.requeueDead({ localIds: [unknownAttr, tooLong] })).toBe(2);
    await drainAll(w);
    expect((await simContact(w, await linked(unknownAttr))).contact.custom_attributes).toMatchObject({ tier: 'gold' });
    expect((await simContact(w, await linked(tooLong))).contact.name).toBe('Short');
    expect((await deadLetters()).filter((d) => [unknownAttr, tooLong].includes(d.local_id))).toHaveLength(0);
  });

  it('AUTO_CREATE_ATTRIBUTES creates missing data attributes with the value type', async () => {
    const engine = w.engineWith({ autoCreateAttributes: true });
    const id = await insertContact({ external_id: 'auto-1', role: 'user', custom_attributes: { seats_n: 12, vip_flag: true } });
    await drainAll(w, engine);
    const remote = await simContact(w, await linked(id));
    expect(remote.contact.custom_attributes).toMatchObject({ seats_n: 12, vip_flag: true });
  });

  it("Intercom's own 400 goes dead at once with its message", async () => {
    const id = await insertContact({ external_id: 'role-1', role: 'user' });
    await drainAll(w);
    await w.sql(`UPDATE intercom.contacts SET role = 'lead' WHERE id = $1`, [id]);
    await drainAll(w);
    const dead = (await deadLetters()).filter((d) => d.local_id === id);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.last_error).toMatch(/PUT \/contacts\/\{id\} failed with 400/);
    const [entry] = await w.sql<{ attempts: number }>(`SELECT attempts FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'dead'`, [id]);
    expect(entry!.attempts).toBe(1);
  });
});

describe('deletes, companies, associations, merges', () => {
  // Chaos seed 19 (range run on 25153fd): a worker was killed after its archive request and before its finish; the
  // row was restored while no worker ran, so the entry's next run saw a live row, an active mapping and nothing to
  // send, and the contact stayed archived in Intercom. The archive is now a write in doubt, recorded before it is sent.
  it('an archive applied by a worker killed before recording it is undone when the row comes back', async () => {
    const id = await insertContact({ external_id: 'del-crash', role: 'user', name: 'Before' });
    await drainAll(w);
    const intercomId = await linked(id);
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [id]);
    // The archive is in doubt while it is out: a crash from here on leaves this row behind.
    await w.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts/{id}/archive', kind: 'latency', latency_ms: 800, count: 1 });
    const pushing = w.engine.drainOnce();
    await waitFor(async () => (await archiveDoubtsOf(id)).length === 1);
    await pushing;
    expect(await archiveDoubtsOf(id)).toEqual([]); // recorded: settled with the mapping's 'archived'
    expect((await mappingOf(w, 'contact', id))?.status).toBe('archived');
    // Back to before the delete, then what a killed worker leaves: the archive applied, its doubt, the entry pending.
    await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL WHERE id = $1`, [id]);
    await drainAll(w);
    expect((await simContact(w, intercomId)).archived).toBe(false);
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [id]);
    await w.store.recordWriteDoubt({ entityType: 'contact', localId: id, intercomId, op: 'archive', fields: { archived: true } });
    await w.gateway.archiveContact(intercomId, 'push');
    // The row is restored before any worker runs the entry again.
    await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL, name = 'Restored' WHERE id = $1`, [id]);
    await drainAll(w);
    const back = await simContact(w, intercomId);
    expect(back.archived).toBe(false);
    expect(back.contact.name).toBe('Restored');
    expect((await mappingOf(w, 'contact', id))?.status).toBe('active');
    expect(await archiveDoubtsOf(id)).toEqual([]);
    const audit = await w.sql<{ action: string }>(
      `SELECT action FROM intercom.audit_log WHERE local_id = $1 AND direction = 'push' ORDER BY id`,
      [id],
    );
    expect(audit.map((a) => a.action).slice(-1)).toEqual(['unarchive']);
  });

  it('an unarchive applied by a worker killed before recording it is undone when the row is deleted again', async () => {
    const id = await insertContact({ external_id: 'undel-crash', role: 'user', name: 'Before' });
    await drainAll(w);
    const intercomId = await linked(id);
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [id]);
    await drainAll(w);
    expect((await mappingOf(w, 'contact', id))?.status).toBe('archived');
    // The row comes back; its unarchive is in doubt while it is out.
    await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL WHERE id = $1`, [id]);
    await w.control('POST', '/__sim/faults', { method: 'POST', path: '/contacts/{id}/unarchive', kind: 'latency', latency_ms: 800, count: 1 });
    const pushing = w.engine.drainOnce();
    await waitFor(async () => (await archiveDoubtsOf(id)).length === 1);
    await pushing;
    expect(await archiveDoubtsOf(id)).toEqual([]);
    expect((await mappingOf(w, 'contact', id))?.status).toBe('active');
    // Deleted again, then what a killed worker leaves: the unarchive applied, its doubt, the mapping still archived.
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [id]);
    await drainAll(w);
    await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL WHERE id = $1`, [id]);
    await w.store.recordWriteDoubt({ entityType: 'contact', localId: id, intercomId, op: 'archive', fields: { archived: false } });
    await w.gateway.unarchiveContact(intercomId, 'push');
    // Deleted again before any worker runs the entry: the mapping says archived, Intercom says live.
    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [id]);
    await drainAll(w);
    expect((await simContact(w, intercomId)).archived).toBe(true);
    expect((await mappingOf(w, 'contact', id))?.status).toBe('archived');
    expect(await archiveDoubtsOf(id)).toEqual([]);
  });

  it('soft delete archives (default), restoring unarchives; delete mode deletes; ignore leaves Intercom alone', async () => {
    const a = await insertContact({ external_id: 'del-a', role: 'user' });
    const b = await insertContact({ external_id: 'del-b', role: 'user' });
    const c = await insertContact({ external_id: 'del-c', role: 'user' });
    await drainAll(w);
    const [ia, ib, ic] = [await linked(a), await linked(b), await linked(c)];

    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [a]);
    await drainAll(w);
    expect((await simContact(w, ia)).archived).toBe(true);
    expect((await mappingOf(w, 'contact', a))?.status).toBe('archived');

    await w.sql(`UPDATE intercom.contacts SET deleted_at = NULL, name = 'Restored' WHERE id = $1`, [a]);
    await drainAll(w);
    const back = await simContact(w, ia);
    expect(back.archived).toBe(false);
    expect(back.contact.name).toBe('Restored');
    expect(await linked(a)).toBe(ia);

    await w.sql(`DELETE FROM intercom.contacts WHERE id = $1`, [b]);
    await drainAll(w, w.engineWith({ deleteMode: 'delete' }));
    expect((await simContact(w, ib)).deleted).toBe(true);

    await w.sql(`UPDATE intercom.contacts SET deleted_at = now() WHERE id = $1`, [c]);
    await w.resetStats();
    await drainAll(w, w.engineWith({ deleteMode: 'ignore' }));
    expect((await w.stats()).total).toBe(0);
    const still = await simContact(w, ic);
    expect(still.archived || still.deleted).toBe(false);
  });

  it('company upserts, attach and detach, company delete', async () => {
    const [co] = await w.sql<{ id: number }>(
      `INSERT INTO intercom.companies (company_id, name, plan, monthly_spend) VALUES ('acme', 'Acme', 'pro', 100) RETURNING id`,
    );
    const contact = await insertContact({ external_id: 'emp-1', role: 'user' });
    await w.sql(`INSERT INTO intercom.contact_companies (contact_id, company_id) VALUES ($1, $2)`, [contact, co!.id]);
    await w.resetStats();
    await drainAll(w);
    const companyMap = await mappingOf(w, 'company', co!.id);
    expect(companyMap?.status).toBe('active');
    const remoteCo = await w.control<{ company: Record<string, unknown>; contact_ids: string[] }>(
      'GET',
      `/__sim/companies/${companyMap!.intercom_id}`,
    );
    expect(remoteCo.company).toMatchObject({ company_id: 'acme', name: 'Acme', monthly_spend: 100 });
    expect(remoteCo.contact_ids).toEqual([await linked(contact)]);
    // company upsert + contact create + attach
    expect((await w.stats()).total).toBe(3);

    await w.sql(`UPDATE intercom.companies SET name = 'Acme Inc' WHERE id = $1`, [co!.id]);
    await w.resetStats();
    await drainAll(w);
    expect((await w.stats()).by_route['POST /companies']?.['200']).toBe(1);
    const renamed = await w.control<{ company: Record<string, unknown> }>('GET', `/__sim/companies/${companyMap!.intercom_id}`);
    expect(renamed.company.name).toBe('Acme Inc');

    await w.sql(`DELETE FROM intercom.contact_companies WHERE contact_id = $1`, [contact]);
    await drainAll(w);
    const detached = await w.control<{ contact_ids: string[] }>('GET', `/__sim/companies/${companyMap!.intercom_id}`);
    expect(detached.contact_ids).toEqual([]);

    await w.sql(`UPDATE intercom.companies SET deleted_at = now() WHERE id = $1`, [co!.id]);
    await drainAll(w);
    const gone = await w.control<{ deleted: boolean }>('GET', `/__sim/companies/${companyMap!.intercom_id}`);
    expect(gone.deleted).toBe(true);
    expect((await mappingOf(w, 'company', co!.id))?.status).toBe('deleted');
  });

  it('a lead marked merged into a user locally is merged in Intercom; other combinations are refused clearly', async () => {
    const user = await insertContact({ external_id: 'merge-user', role: 'user', name: 'The User' });
    const lead = await insertContact({ role: 'lead', email: 'merge-lead@example.com', phone: '+100' });
    const otherLead = await insertContact({ role: 'lead', email: 'merge-lead2@example.com' });
    await drainAll(w);
    const [userId, leadId] = [await linked(user), await linked(lead)];

    await w.sql(`UPDATE intercom.contacts SET merge_into_id = $2 WHERE id = $1`, [lead, user]);
    await w.sql(`UPDATE intercom.contacts SET merge_into_id = $2 WHERE id = $1`, [user, otherLead]);
    await drainAll(w);
    const leadNow = await simContact(w, leadId);
    expect(leadNow.merged_into).toBe(userId);
    const leadMap = await mappingOf(w, 'contact', lead);
    expect(leadMap?.status).toBe('merged');
    expect(await linked(user)).toBe(userId);
    // The user gained the lead's phone in Intercom; the user row takes it since it had none.
    const [userRow] = await w.sql<{ phone: string | null }>(`SELECT phone FROM intercom.contacts WHERE id = $1`, [user]);
    expect(userRow!.phone).toBe('+100');
    const refused = (await deadLetters()).find((d) => d.local_id === user);
    expect(refused?.last_error).toBe(
      `contact ${user}: merge_into_id ${otherLead}: Intercom merges leads into users only, and contact ${user} is a user`,
    );
  });
});

describe('concurrent remote change', () => {
  it('a local change made while a remote change to other fields is pending ends with both', async () => {
    const id = await insertContact({ external_id: 'both-1', role: 'user', name: 'N0', phone: '+1' });
    await drainAll(w);
    const ic = await linked(id);
    await w.control('PATCH', `/__sim/contacts/${ic}`, { phone: '+2', custom_attributes: {} });
    await w.sql(`UPDATE intercom.contacts SET name = 'N1' WHERE id = $1`, [id]);
    await drainAll(w);
    const remote = await simContact(w, ic);
    expect(remote.contact.name).toBe('N1');
    expect(remote.contact.phone).toBe('+2');
    const [row] = await w.sql<{ name: string; phone: string }>(`SELECT name, phone FROM intercom.contacts WHERE id = $1`, [id]);
    expect(row).toEqual({ name: 'N1', phone: '+2' });
    // Nothing echoes back: the row took Intercom's phone in sync-apply mode.
    const pending = await w.sql(`SELECT 1 FROM intercom.sync_outbox WHERE local_id = $1 AND status = 'pending'`, [id]);
    expect(pending).toHaveLength(0);
    // The next local change does not undo Intercom's phone.
    await w.sql(`UPDATE intercom.contacts SET name = 'N2' WHERE id = $1`, [id]);
    await drainAll(w);
    expect((await simContact(w, ic)).contact).toMatchObject({ name: 'N2', phone: '+2' });
  });
});

describe('a long-lived push engine', () => {
  // The daemon drains the outbox with one engine for its whole life, a round every second or so; each round used to
  // leave an abort listener on the engine's stop signal, and Node warned of a leak after ten rounds.
  it('leaves no listener behind per round: many empty rounds raise no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const engine = w.engineWith({});
      for (let round = 0; round < 25; round++) await engine.drainOnce();
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((m) => m.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });
});
