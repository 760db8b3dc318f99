import type pg from 'pg';
import { parseCompany, parseContact } from '../../src/intercom/payloads.ts';
import { driftOf } from '../../src/simulator/realism.ts';
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
  /** The simulator's seed: schema drift is a hash of the contact id and this seed. */
  simSeed: number;
}

const CONTACT_COLS = `id, external_id, role, email, phone, name, owner_id, unsubscribed_from_emails, signed_up_at,
  last_seen_at, custom_attributes, merge_into_id, intercom_id, updated_at, deleted_at`;
const COMPANY_COLS = `id, company_id, name, plan, size, website, industry, monthly_spend, remote_created_at,
  custom_attributes, intercom_id, updated_at, deleted_at`;

/**
 * The outbox holds nothing pending and nothing dead: every input of this world is valid (rows pass the table's
 * checks, attributes exist), so a dead letter means a transient failure or an ambiguous outcome was given up on.
 */
export async function outboxProblems({ pool }: CheckInput): Promise<string[]> {
  const { rows } = await pool.query<{ entity_type: string; local_id: number; status: string; last_error: string | null; attempts: number }>(
    `SELECT entity_type, local_id, status, last_error, attempts FROM intercom.sync_outbox WHERE status IN ('pending', 'dead') ORDER BY id`,
  );
  return rows.map((r) =>
    r.status === 'pending'
      ? `outbox: ${r.entity_type} ${r.local_id} still pending (attempts ${r.attempts}, last error ${r.last_error ?? 'none'})`
      : `outbox: dead letter for valid input: ${r.entity_type} ${r.local_id} after ${r.attempts} attempts: ${r.last_error?.trim() || '(no reason)'}`,
  );
}

/**
 * Dead-lettered entities, for the summary line. They are not excluded from any check: a dead letter fails the
 * run (outboxProblems) and its entity must still agree on both sides.
 */
export async function deadLetters({ pool }: CheckInput): Promise<Array<{ entity_type: string; local_id: number; last_error: string }>> {
  const { rows } = await pool.query<{ entity_type: string; local_id: number; last_error: string }>(
    `SELECT entity_type, local_id, last_error FROM intercom.sync_outbox WHERE status = 'dead'`,
  );
  return rows;
}

/**
 * Contacts Intercom serves in a shape the daemon may not parse (docs/simulator.md, "Schema drift"): such a record is
 * out of the daemon's hands, and the promise is only that it is recorded (`invalid` audit row) and blocks nothing else.
 * A drifted contact that synced anyway is held to every check.
 */
export async function driftRecordedInvalid({ pool, sim, simSeed }: CheckInput): Promise<Set<string>> {
  const rate = sim.state.settings.schemaDriftRate;
  const drifted = sim.state.contacts.order.map((r) => r.data.id).filter((id) => driftOf(id, rate, simSeed) !== null);
  if (drifted.length === 0) return new Set();
  const { rows } = await pool.query<{ id: string }>(
    `SELECT DISTINCT d.id FROM unnest($1::text[]) AS d(id)
       JOIN intercom.audit_log a ON a.action = 'invalid' AND (a.intercom_id = d.id OR a.details::text LIKE '%' || d.id || '%')`,
    [drifted],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Both sides hold the same contacts, each mapped once, with equal snapshots, and the fields hold allowed values.
 * A contact the application deleted is live on neither side (DELETE_MODE=archive: archived in Intercom).
 */
export async function contactProblems(input: CheckInput, driftInvalid: ReadonlySet<string>): Promise<string[]> {
  const { pool, sim, log } = input;
  const out: string[] = [];
  excusedOverwrites.length = 0;
  const { rows } = await pool.query<LocalContactRow>(`SELECT ${CONTACT_COLS} FROM intercom.contacts WHERE deleted_at IS NULL`);
  const localByEmail = new Map(rows.filter((r) => r.email).map((r) => [r.email!.toLowerCase(), r]));
  const { rows: maps } = await pool.query<{ local_id: number; intercom_id: string | null; status: string }>(
    `SELECT local_id, intercom_id, status FROM intercom.sync_mappings WHERE entity_type = 'contact'`,
  );
  const mapByLocal = new Map(maps.map((m) => [m.local_id, m]));

  for (const [email, key] of log.contacts) {
    const local = localByEmail.get(email);
    const remote = liveRemoteByEmail(sim, email);
    if (key.state === 'deleted') {
      if (local) out.push(`contact ${email}: deleted by the application, live again locally (row ${local.id})`);
      if (remote) out.push(`contact ${email}: deleted locally, still live in Intercom (${remote.data.id})`);
      continue;
    }
    if (remote && driftInvalid.has(remote.data.id)) continue;
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
    const excused = await lateOverwriteOfUnseen(pool, local.id);
    out.push(...fieldProblems(`contact ${email}.name`, log.contactFields.get(historyKey(email, 'name')), l.name, excused));
    out.push(
      ...fieldProblems(
        `contact ${email}.plan_name`,
        log.contactFields.get(historyKey(email, 'plan_name')),
        l.custom_attributes.plan_name ?? null,
        excused,
      ),
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

/**
 * No two contacts in Intercom share an email or an external_id — leads included, and archived contacts included:
 * every email in this world belongs to one person, so a second contact (a retried create whose first answer was
 * lost, a lead re-created beside its archived self) is a duplicate we made.
 */
export function duplicateProblems({ sim }: CheckInput): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const rec of sim.state.contacts.order) {
    if (rec.deleted || rec.mergedInto) continue;
    const what = `${rec.data.role}${rec.archived ? ', archived' : ''}`;
    for (const key of [rec.data.email ? `email ${rec.data.email.toLowerCase()}` : null, rec.data.external_id ? `external_id ${rec.data.external_id}` : null]) {
      if (!key) continue;
      const other = seen.get(key);
      if (other) out.push(`duplicate in Intercom: ${key} on ${other} and ${rec.data.id} (${what})`);
      seen.set(key, `${rec.data.id} (${what})`);
    }
  }
  return out;
}

export async function companyProblems(input: CheckInput): Promise<string[]> {
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
export function fieldProblems(
  what: string,
  h: FieldHistory | undefined,
  actual: unknown,
  /** The documented exception (README, Known limits): see lateOverwriteOfUnseen. */
  excused: (lastRemote: string, actual: unknown) => boolean = () => false,
): string[] {
  if (!h) return [];
  const lastLocal = h.local.at(-1);
  const lastRemote = h.remote.at(-1);
  const allowed = [lastLocal, lastRemote].filter((v): v is string => v !== undefined);
  if (allowed.includes(actual as string)) return [];
  if (lastRemote !== undefined && excused(lastRemote, actual)) {
    excusedOverwrites.push(`${what}: remote ${lastRemote} overwritten by our late write of ${JSON.stringify(actual)}`);
    return [];
  }
  return [`${what} = ${JSON.stringify(actual)}, expected one of ${JSON.stringify(allowed)} (writes: ${JSON.stringify(h)})`];
}

/** Overwrites excused by lateOverwriteOfUnseen in the last check, for the run's summary line. */
export const excusedOverwrites: string[] = [];

/**
 * Intercom has no conditional update (README, Known limits): a PUT of ours whose answer was lost can be applied
 * after a remote edit of the same field, and if no pull saw that edit first, nothing on our side ever knew it. The
 * chaos run makes that window seconds long (late-applied PUTs). Excused only when exactly that happened: no audit
 * row of this contact ever mentions the remote value (no pull saw it), and the value that ended on both sides is one
 * a push row says landed late (`landed_late`: applied while its answer was lost).
 */
async function lateOverwriteOfUnseen(pool: CheckInput['pool'], localId: number): Promise<(lastRemote: string, actual: unknown) => boolean> {
  const { rows } = await pool.query<{ direction: string; late: boolean; t: string }>(
    `SELECT direction, coalesce((details->>'landed_late')::boolean, false) AS late, changes::text || ' ' || coalesce(details::text, '') AS t
       FROM intercom.audit_log WHERE entity_type = 'contact' AND local_id = $1`,
    [localId],
  );
  return (lastRemote, actual) =>
    typeof actual === 'string' &&
    !rows.some((r) => r.t.includes(JSON.stringify(lastRemote))) &&
    rows.some((r) => r.direction === 'push' && r.late && r.t.includes(JSON.stringify(actual)));
}

/**
 * Every change that reached the other side has an audit row for that direction: local edits that won → a push row
 * touching the field; remote edits that won → a pull row; created (or re-created) contacts → a push row linking the
 * row to its Intercom contact (or a pull link row); contacts deleted locally that Intercom had → a push archive row.
 */
export async function auditProblems(input: CheckInput, driftInvalid: ReadonlySet<string>): Promise<string[]> {
  const { pool, sim, log } = input;
  const out: string[] = [];
  const { rows: audit } = await pool.query<{
    direction: string;
    entity_type: string;
    local_id: number | null;
    intercom_id: string | null;
    action: string;
    fields: string[];
  }>(`SELECT direction, entity_type, local_id, intercom_id, action, ARRAY(SELECT jsonb_object_keys(changes)) AS fields FROM intercom.audit_log`);
  type Row = (typeof audit)[number];
  const has = (entity: string, localId: number, direction: string, pred: (a: Row) => boolean) =>
    audit.some((a) => a.entity_type === entity && a.local_id === localId && a.direction === direction && pred(a));
  const { rows: contacts } = await pool.query<{ id: number; email: string; intercom_id: string | null; name: string | null; plan_name: string | null }>(
    `SELECT id, lower(email) AS email, intercom_id, name, custom_attributes->>'plan_name' AS plan_name FROM intercom.contacts WHERE deleted_at IS NULL`,
  );
  for (const c of contacts) {
    if (c.intercom_id && driftInvalid.has(c.intercom_id)) continue;
    const key = log.contacts.get(c.email);
    // A daemon killed between Intercom's answer and its own commit leaves the created contact for the next pull to
    // find and link (the crash-safe create protocol); that link row is the record of the change. A re-created row
    // may be linked to its archived contact under whatever action the daemon names it; what matters is a push row
    // for this row that names the Intercom contact it now stands for.
    if (
      key?.createdBy === 'local' &&
      !has('contact', c.id, 'push', (a) => ['create', 'link', 'relink'].includes(a.action) || (a.intercom_id !== null && a.intercom_id === c.intercom_id && a.action !== 'invalid' && a.action !== 'dead')) &&
      !has('contact', c.id, 'pull', (a) => ['link', 'relink'].includes(a.action))
    )
      out.push(`audit: locally created contact ${c.email} (row ${c.id}) has neither a push row linking it nor a pull link row`);
    if (key?.createdBy === 'remote' && !has('contact', c.id, 'pull', (a) => ['create', 'link', 'relink'].includes(a.action)))
      out.push(`audit: remotely created contact ${c.email} has no pull create/link row`);
    for (const [field, column, value] of [
      ['name', 'name', c.name],
      ['plan_name', 'custom_attributes', c.plan_name],
    ] as const) {
      const h = log.contactFields.get(historyKey(c.email, field));
      if (!h || value === null) continue;
      // Changes name a field whole (`custom_attributes`) or one attribute of it (`custom_attributes.plan_name`, as the
      // pull records a late-landed write of ours: src/sync/pull/echo.ts).
      const touches = (a: { action: string; fields: string[] }) =>
        a.action === 'create' || a.action === 'conflict' || a.fields.some((f) => f === column || f.startsWith(`${column}.`));
      if (h.local.at(-1) === value && !has('contact', c.id, 'push', (a) => touches(a) || (key?.createdBy === 'local' && a.intercom_id === c.intercom_id)))
        out.push(`audit: ${c.email}.${field} = ${value} (local write) has no push row touching ${column}`);
      if (h.remote.at(-1) === value && !has('contact', c.id, 'pull', touches))
        out.push(`audit: ${c.email}.${field} = ${value} (remote write) has no pull row touching ${column}`);
    }
  }
  // A soft-deleted row whose contact Intercom holds (archived, as DELETE_MODE=archive asks) was archived by a push
  // that says so. A row deleted before it ever reached Intercom has nothing to archive.
  const { rows: softDeleted } = await pool.query<{ id: number; email: string }>(
    `SELECT id, lower(email) AS email FROM intercom.contacts WHERE deleted_at IS NOT NULL`,
  );
  for (const c of softDeleted) {
    if (log.contacts.get(c.email)?.state !== 'deleted') continue;
    const inIntercom = sim.state.contacts.order.find((r) => !r.deleted && !r.mergedInto && r.data.email?.toLowerCase() === c.email);
    // The archive may have been recorded under an earlier row of the same key: a row deleted, re-created and deleted
    // again before its create took the contact over never owned it (its own delete is then a no-op).
    const archivedThere = (a: Row) => a.action === 'archive' || a.action === 'delete';
    if (
      inIntercom &&
      !has('contact', c.id, 'push', archivedThere) &&
      !audit.some((a) => a.direction === 'push' && a.intercom_id === inIntercom.data.id && archivedThere(a))
    )
      out.push(`audit: contact ${c.email} (row ${c.id}) deleted locally and archived in Intercom, but no push archive/delete row`);
  }
  const { rows: companies } = await pool.query<{ id: number; company_id: string; plan: string | null }>(
    `SELECT id, company_id, plan FROM intercom.companies WHERE deleted_at IS NULL`,
  );
  for (const c of companies) {
    const h = log.companyPlans.get(c.company_id);
    if (!h || c.plan === null) continue;
    const touches = (a: { action: string; fields: string[] }) => a.action === 'create' || a.action === 'conflict' || a.fields.includes('plan');
    if (h.local.at(-1) === c.plan && !has('company', c.id, 'push', touches)) out.push(`audit: company ${c.company_id}.plan = ${c.plan} (local write) has no push row`);
    if (h.remote.at(-1) === c.plan && !has('company', c.id, 'pull', touches)) out.push(`audit: company ${c.company_id}.plan = ${c.plan} (remote write) has no pull row`);
  }
  return out;
}

/**
 * Credentials were never refused: none of the injected faults is a 401, so nothing may have halted on one. 403s do
 * happen (the realistic profile's HTML 403s from the load balancer, and `token_unauthorized` on GET /admins, which
 * the sync never calls): they are transient or out of scope, never a halt.
 */
export function authProblems({ sim, daemonOutput }: CheckInput): string[] {
  const out: string[] = [];
  const s = sim.state.stats.snapshot();
  if (s.by_status['401']) out.push(`Intercom answered 401 ${JSON.stringify(s.by_status)}`);
  if (/rejected our credentials/.test(daemonOutput)) out.push('the daemon reported a credentials halt');
  return out;
}

/**
 * For a failure message: the sync state of every local contact a problem names (by email), so a failing seed can be
 * diagnosed from its output alone — mappings, audit rows in order, doubts and outbox entries.
 */
export async function contactDiagnostics(pool: CheckInput['pool'], problems: readonly string[]): Promise<string> {
  const emails = [...new Set(problems.flatMap((p) => [...p.matchAll(/([a-z0-9.]+@example\.com)/g)].map((m) => m[1]!)))].slice(0, 4);
  const out: string[] = [];
  for (const email of emails) {
    const { rows: ids } = await pool.query<{ id: number }>(`SELECT id FROM intercom.contacts WHERE lower(email) = $1 ORDER BY id`, [email]);
    const auditByKey = await pool.query(
      `SELECT to_char(at, 'HH24:MI:SS.MS') AS at, run_id, direction, local_id, intercom_id, action, changes, details
         FROM intercom.audit_log WHERE entity_type = 'contact' AND (local_id = ANY($1) OR external_key = $2 OR intercom_id IN
           (SELECT intercom_id FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = ANY($1) AND intercom_id IS NOT NULL))
        ORDER BY id`,
      [ids.map((r) => r.id), email],
    );
    const maps = await pool.query(`SELECT local_id, intercom_id, status, status_reason FROM intercom.sync_mappings WHERE entity_type = 'contact' AND local_id = ANY($1)`, [
      ids.map((r) => r.id),
    ]);
    const doubts = await pool.query(`SELECT * FROM intercom.sync_write_doubts WHERE entity_type = 'contact' AND local_id = ANY($1) ORDER BY id`, [ids.map((r) => r.id)]);
    const outbox = await pool.query(`SELECT id, local_id, op, status, attempts, last_error FROM intercom.sync_outbox WHERE entity_type = 'contact' AND local_id = ANY($1)`, [
      ids.map((r) => r.id),
    ]);
    out.push(
      `--- ${email} (rows ${ids.map((r) => r.id).join(', ') || 'none'})`,
      `mappings: ${JSON.stringify(maps.rows)}`,
      `doubts: ${JSON.stringify(doubts.rows)}`,
      `outbox: ${JSON.stringify(outbox.rows)}`,
      'audit:',
      ...auditByKey.rows.map((a) => `  ${JSON.stringify(a)}`),
    );
  }
  return out.join('\n');
}
