import type pg from 'pg';
import { parseCompany, parseContact } from '../../src/intercom/payloads.ts';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import {
  canonicalJson,
  companyFromLocal,
  companyFromRemote,
  contactFromLocal,
  contactFromRemote,
  type LocalCompanyRow,
  type LocalContactRow,
} from '../../src/sync/snapshot.ts';
import { editableCompanyIds, historyKey, liveRemoteByEmail, type ChaosLog, type FieldHistory } from './world.ts';

/**
 * The end-state contract after faults stop and the system quiesces. Each check returns the problems it found, in
 * words a failure message can show; an empty list means the property holds.
 */
export interface CheckInput {
  pool: pg.Pool;
  sim: RunningSimulator;
  log: ChaosLog;
  daemonOutput: string;
}

const CONTACT_COLS = `id, external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, signed_up_at,
  last_seen_at, custom_attributes, merge_into_id, intercom_id, updated_at, deleted_at`;
const COMPANY_COLS = `id, company_id, name, plan, size, website, industry, monthly_spend, remote_created_at,
  custom_attributes, intercom_id, updated_at, deleted_at`;

/** The outbox holds nothing pending; anything dead-lettered says why. */
export async function outboxProblems({ pool }: CheckInput): Promise<string[]> {
  const { rows } = await pool.query<{ entity_type: string; local_id: number; status: string; last_error: string | null; attempts: number }>(
    `SELECT entity_type, local_id, status, last_error, attempts FROM intercom.sync_outbox ORDER BY id`,
  );
  const out: string[] = [];
  for (const r of rows) {
    if (r.status === 'pending') out.push(`outbox: ${r.entity_type} ${r.local_id} still pending (attempts ${r.attempts}, last error ${r.last_error ?? 'none'})`);
    else if (!r.last_error?.trim()) out.push(`outbox: dead ${r.entity_type} ${r.local_id} carries no reason`);
  }
  return out;
}

/** Entity keys that were dead-lettered: excluded from equality (their reason is checked above) and reported. */
export async function deadLetters({ pool }: CheckInput): Promise<Array<{ entity_type: string; local_id: number; last_error: string }>> {
  const { rows } = await pool.query<{ entity_type: string; local_id: number; last_error: string }>(
    `SELECT entity_type, local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead'`,
  );
  return rows;
}

/** Both sides hold the same contacts, each mapped once, with equal snapshots, and the fields hold allowed values. */
export async function contactProblems(input: CheckInput, dead: ReadonlySet<string>): Promise<string[]> {
  const { pool, sim, log } = input;
  const out: string[] = [];
  const { rows } = await pool.query<LocalContactRow>(`SELECT ${CONTACT_COLS} FROM intercom.contacts WHERE deleted_at IS NULL`);
  const localByEmail = new Map(rows.filter((r) => r.email).map((r) => [r.email!.toLowerCase(), r]));
  const { rows: maps } = await pool.query<{ local_id: number; intercom_id: string | null; status: string }>(
    `SELECT local_id, intercom_id, status FROM intercom.sync_mappings WHERE entity_type = 'contact'`,
  );
  const mapByLocal = new Map(maps.map((m) => [m.local_id, m]));

  for (const [email] of log.contacts) {
    const local = localByEmail.get(email);
    const remote = liveRemoteByEmail(sim, email);
    if (local && dead.has(`contact:${local.id}`)) continue;
    if (!local) {
      out.push(`contact ${email}: missing locally`);
      continue;
    }
    if (!remote) {
      out.push(`contact ${email}: missing in Intercom`);
      continue;
    }
    const m = mapByLocal.get(local.id);
    if (!m || m.status !== 'active' || m.intercom_id !== remote.data.id || local.intercom_id !== remote.data.id) {
      out.push(`contact ${email}: mapping ${JSON.stringify(m ?? null)}, local intercom_id ${local.intercom_id}, remote id ${remote.data.id}`);
      continue;
    }
    const l = contactFromLocal(local);
    const r = contactFromRemote(parseContact(sim.state.inspectContact(remote).contact));
    if (canonicalJson(l) !== canonicalJson(r)) out.push(`contact ${email}: sides differ\n  local  ${canonicalJson(l)}\n  remote ${canonicalJson(r)}`);
    out.push(...fieldProblems(`contact ${email}.name`, log.contactFields.get(historyKey(email, 'name')), l.name));
    out.push(
      ...fieldProblems(`contact ${email}.plan_name`, log.contactFields.get(historyKey(email, 'plan_name')), l.custom_attributes.plan_name ?? null),
    );
  }
  // Nothing exists on one side only, beyond what the log knows about.
  for (const r of rows) if (r.email && !log.contacts.has(r.email.toLowerCase())) out.push(`contact ${r.email}: unexpected local row`);
  // One live local row per contact (a merged lead keeps its row, pointing at the survivor): the check above keys rows
  // by email, so a second row would otherwise hide behind the first.
  const idsByEmail = new Map<string, number[]>();
  for (const r of rows) {
    if (!r.email || r.merge_into_id !== null) continue;
    const k = r.email.toLowerCase();
    idsByEmail.set(k, [...(idsByEmail.get(k) ?? []), r.id]);
  }
  for (const [email, ids] of idsByEmail) if (ids.length > 1) out.push(`contact ${email}: ${ids.length} live local rows (${ids.join(', ')})`);
  return out;
}

/** No two live contacts in Intercom share an email or an external_id: a retried create never duplicated one. */
export function duplicateProblems({ sim }: CheckInput): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const rec of sim.state.contacts.order) {
    if (rec.deleted || rec.mergedInto) continue;
    for (const key of [rec.data.email ? `email ${rec.data.email.toLowerCase()}` : null, rec.data.external_id ? `external_id ${rec.data.external_id}` : null]) {
      if (!key) continue;
      const other = seen.get(key);
      if (other) out.push(`duplicate in Intercom: ${key} on ${other} and ${rec.data.id}`);
      seen.set(key, rec.data.id);
    }
  }
  return out;
}

export async function companyProblems(input: CheckInput, dead: ReadonlySet<string>): Promise<string[]> {
  const { pool, sim, log } = input;
  const out: string[] = [];
  const { rows } = await pool.query<LocalCompanyRow>(`SELECT ${COMPANY_COLS} FROM intercom.companies WHERE deleted_at IS NULL`);
  const byCompanyId = new Map(rows.map((r) => [r.company_id, r]));
  for (const companyId of editableCompanyIds(sim)) {
    const local = byCompanyId.get(companyId);
    const remote = sim.state.companies.live().find((c) => c.company_id === companyId)!;
    if (!local) {
      out.push(`company ${companyId}: missing locally`);
      continue;
    }
    if (dead.has(`company:${local.id}`)) continue;
    if (local.intercom_id !== remote.id) {
      out.push(`company ${companyId}: local intercom_id ${local.intercom_id}, remote ${remote.id}`);
      continue;
    }
    const l = companyFromLocal(local);
    const r = companyFromRemote(parseCompany(sim.state.companyJson(remote)));
    if (canonicalJson(l) !== canonicalJson(r)) out.push(`company ${companyId}: sides differ\n  local  ${canonicalJson(l)}\n  remote ${canonicalJson(r)}`);
    out.push(...fieldProblems(`company ${companyId}.plan`, log.companyPlans.get(companyId), l.plan));
  }
  return out;
}

/**
 * A field written by one side only ends with that side's last value. Written by both, it ends with one side's last
 * value (which one is the conflict policy's call and depends on timing we do not control); an older write winning
 * would be a lost update.
 */
export function fieldProblems(what: string, h: FieldHistory | undefined, actual: unknown): string[] {
  if (!h) return [];
  const lastLocal = h.local.at(-1);
  const lastRemote = h.remote.at(-1);
  const allowed = [lastLocal, lastRemote].filter((v): v is string => v !== undefined);
  return allowed.includes(actual as string) ? [] : [`${what} = ${JSON.stringify(actual)}, expected one of ${JSON.stringify(allowed)} (writes: ${JSON.stringify(h)})`];
}

/**
 * Every change that reached the other side has an audit row for that direction: local edits that won → a push row
 * touching the field; remote edits that won → a pull row; created contacts → a create/link row.
 */
export async function auditProblems(input: CheckInput, dead: ReadonlySet<string>): Promise<string[]> {
  const { pool, log } = input;
  const out: string[] = [];
  const { rows: audit } = await pool.query<{ direction: string; entity_type: string; local_id: number | null; action: string; fields: string[] }>(
    `SELECT direction, entity_type, local_id, action, ARRAY(SELECT jsonb_object_keys(changes)) AS fields FROM intercom.audit_log`,
  );
  const has = (entity: string, localId: number, direction: string, pred: (a: { action: string; fields: string[] }) => boolean) =>
    audit.some((a) => a.entity_type === entity && a.local_id === localId && a.direction === direction && pred(a));
  const { rows: contacts } = await pool.query<{ id: number; email: string; name: string | null; plan_name: string | null }>(
    `SELECT id, lower(email) AS email, name, custom_attributes->>'plan_name' AS plan_name FROM intercom.contacts WHERE deleted_at IS NULL`,
  );
  for (const c of contacts) {
    if (dead.has(`contact:${c.id}`)) continue;
    const key = log.contacts.get(c.email);
    // A daemon killed between Intercom's answer and its own commit leaves the created contact for the next pull to
    // find and link (the crash-safe create protocol); that link row is the record of the change.
    if (
      key?.createdBy === 'local' &&
      !has('contact', c.id, 'push', (a) => ['create', 'link', 'relink'].includes(a.action)) &&
      !has('contact', c.id, 'pull', (a) => ['link', 'relink'].includes(a.action))
    )
      out.push(`audit: locally created contact ${c.email} has neither a push create/link row nor a pull link row`);
    if (key?.createdBy === 'remote' && !has('contact', c.id, 'pull', (a) => ['create', 'link', 'relink'].includes(a.action)))
      out.push(`audit: remotely created contact ${c.email} has no pull create/link row`);
    for (const [field, column, value] of [
      ['name', 'name', c.name],
      ['plan_name', 'custom_attributes', c.plan_name],
    ] as const) {
      const h = log.contactFields.get(historyKey(c.email, field));
      if (!h || value === null) continue;
      const touches = (a: { action: string; fields: string[] }) => a.action === 'create' || a.action === 'conflict' || a.fields.includes(column);
      if (h.local.at(-1) === value && !has('contact', c.id, 'push', touches))
        out.push(`audit: ${c.email}.${field} = ${value} (local write) has no push row touching ${column}`);
      if (h.remote.at(-1) === value && !has('contact', c.id, 'pull', touches))
        out.push(`audit: ${c.email}.${field} = ${value} (remote write) has no pull row touching ${column}`);
    }
  }
  const { rows: companies } = await pool.query<{ id: number; company_id: string; plan: string | null }>(
    `SELECT id, company_id, plan FROM intercom.companies WHERE deleted_at IS NULL`,
  );
  for (const c of companies) {
    const h = log.companyPlans.get(c.company_id);
    if (!h || c.plan === null || dead.has(`company:${c.id}`)) continue;
    const touches = (a: { action: string; fields: string[] }) => a.action === 'create' || a.action === 'conflict' || a.fields.includes('plan');
    if (h.local.at(-1) === c.plan && !has('company', c.id, 'push', touches)) out.push(`audit: company ${c.company_id}.plan = ${c.plan} (local write) has no push row`);
    if (h.remote.at(-1) === c.plan && !has('company', c.id, 'pull', touches)) out.push(`audit: company ${c.company_id}.plan = ${c.plan} (remote write) has no pull row`);
  }
  return out;
}

/** Credentials were never refused (none of the injected faults is a 401), so nothing may have halted on one. */
export function authProblems({ sim, daemonOutput }: CheckInput): string[] {
  const out: string[] = [];
  const s = sim.state.stats.snapshot();
  if (s.by_status['401'] || s.by_status['403']) out.push(`Intercom answered 401/403 ${JSON.stringify(s.by_status)}`);
  if (/rejected our credentials|IntercomAuthError/.test(daemonOutput)) out.push('the daemon reported a credentials halt');
  return out;
}
