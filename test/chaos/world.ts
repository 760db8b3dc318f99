import type pg from 'pg';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import type { DaemonSupervisor } from './daemons.ts';
import type { FaultRuleInput } from '../../src/simulator/faults.ts';
import type { ContactField, FaultKind, Step } from './plan.ts';

/** Every value each side wrote to one field, in order: what the end state is checked against. */
export interface FieldHistory {
  local: string[];
  remote: string[];
}

export interface ContactKey {
  /** Emails are unique in this world and never edited, so they identify a contact on both sides. */
  email: string;
  createdBy: 'seed' | 'local' | 'remote';
  /** What the application wants at the end: the contact live on both sides, or deleted locally (archived there). */
  state: 'live' | 'deleted';
}

export interface ChaosLog {
  contacts: Map<string, ContactKey>;
  /** key: `${email}|${field}` */
  contactFields: Map<string, FieldHistory>;
  /** key: company_id (the plan field). */
  companyPlans: Map<string, FieldHistory>;
  steps: string[];
  faults: number;
  kills: number;
  terminations: number;
  terminatedBackends: number;
  recreates: number;
  softDeletes: number;
  undeletes: number;
  leadsCreated: number;
  idleExpiries: number;
}

export interface WorldDeps {
  pool: pg.Pool;
  sim: RunningSimulator;
  daemons: DaemonSupervisor;
  seed: number;
  /** INTERCOM_TIMEOUT_SECONDS of the daemon, in ms: late answers and late applies are held longer than this. */
  clientTimeoutMs: number;
  sleep(ms: number): Promise<void>;
}

export const historyKey = (email: string, field: ContactField) => `${email}|${field}`;

function push(map: Map<string, FieldHistory>, key: string, side: 'local' | 'remote', value: string): void {
  const h = map.get(key) ?? { local: [], remote: [] };
  h[side].push(value);
  map.set(key, h);
}

export function newLog(sim: RunningSimulator): ChaosLog {
  const contacts = new Map<string, ContactKey>();
  for (const rec of sim.state.contacts.order) {
    if (rec.deleted || rec.mergedInto || rec.archived || !rec.data.email) continue;
    contacts.set(rec.data.email.toLowerCase(), { email: rec.data.email.toLowerCase(), createdBy: 'seed', state: 'live' });
  }
  return {
    contacts,
    contactFields: new Map(),
    companyPlans: new Map(),
    steps: [],
    faults: 0,
    kills: 0,
    terminations: 0,
    terminatedBackends: 0,
    recreates: 0,
    softDeletes: 0,
    undeletes: 0,
    leadsCreated: 0,
    idleExpiries: 0,
  };
}

/** Seeded companies with contacts: the ones Intercom's list and scroll show, so the pull can see their edits. */
export function editableCompanyIds(sim: RunningSimulator): string[] {
  return sim.state.companies
    .live()
    .filter((c) => c.contactIds.size > 0)
    .map((c) => c.company_id)
    .sort();
}

export async function runStep(w: WorldDeps, log: ChaosLog, step: Step, i: number): Promise<void> {
  // Writes target contacts the application still has; undeletes target the ones it deleted.
  const emails = [...log.contacts.values()].filter((c) => c.state === 'live').map((c) => c.email).sort();
  const deletedEmails = [...log.contacts.values()].filter((c) => c.state === 'deleted').map((c) => c.email).sort();
  const say = (s: string): void => {
    log.steps.push(`${i}: ${s}`);
  };
  switch (step.kind) {
    case 'local-update': {
      const email = emails[step.target % emails.length]!;
      const { rows } = await w.pool.query<{ id: number }>(
        `SELECT id FROM intercom.contacts WHERE lower(email) = $1 AND deleted_at IS NULL`,
        [email],
      );
      const id = rows[0]?.id;
      if (id === undefined) return say(`local-update ${email}: not local yet, skipped`);
      const value = `L${i}`;
      if (step.field === 'name') await w.pool.query(`UPDATE intercom.contacts SET name = $2 WHERE id = $1`, [id, value]);
      else
        await w.pool.query(
          `UPDATE intercom.contacts SET custom_attributes = custom_attributes || jsonb_build_object('plan_name', $2::text) WHERE id = $1`,
          [id, value],
        );
      push(log.contactFields, historyKey(email, step.field), 'local', value);
      return say(`local ${email}.${step.field} = ${value}`);
    }
    case 'remote-update': {
      const email = emails[step.target % emails.length]!;
      const rec = liveRemoteByEmail(w.sim, email);
      if (!rec) return say(`remote-update ${email}: not in Intercom yet, skipped`);
      const value = `R${i}`;
      const body = step.field === 'name' ? { name: value } : { custom_attributes: { plan_name: value } };
      w.sim.state.contacts.update(rec.data.id, body, { silent: false });
      push(log.contactFields, historyKey(email, step.field), 'remote', value);
      return say(`remote ${email}.${step.field} = ${value}`);
    }
    case 'local-company-update': {
      const ids = editableCompanyIds(w.sim);
      const companyId = ids[step.target % ids.length]!;
      const value = `L${i}`;
      const r = await w.pool.query(`UPDATE intercom.companies SET plan = $2 WHERE company_id = $1 AND deleted_at IS NULL`, [companyId, value]);
      if (r.rowCount === 0) return say(`local-company-update ${companyId}: not local yet, skipped`);
      push(log.companyPlans, companyId, 'local', value);
      return say(`local company ${companyId}.plan = ${value}`);
    }
    case 'remote-company-update': {
      const ids = editableCompanyIds(w.sim);
      const companyId = ids[step.target % ids.length]!;
      const c = w.sim.state.companies.live().find((x) => x.company_id === companyId)!;
      const value = `R${i}`;
      w.sim.state.companies.update(c.id, { plan: value });
      push(log.companyPlans, companyId, 'remote', value);
      return say(`remote company ${companyId}.plan = ${value}`);
    }
    case 'local-create': {
      const email = `local${i}.s${w.seed}@example.com`;
      const externalId = step.role === 'user' && step.withExternalId ? `local-${w.seed}-${i}` : null;
      await w.pool.query(`INSERT INTO intercom.contacts (external_id, email, name, role) VALUES ($1, $2, $3, $4)`, [
        externalId,
        email,
        `LC${i}`,
        step.role,
      ]);
      log.contacts.set(email, { email, createdBy: 'local', state: 'live' });
      if (step.role === 'lead') log.leadsCreated += 1;
      return say(`local create ${step.role} ${email}${externalId ? ' with external_id' : ' (email only)'}`);
    }
    case 'local-recreate': {
      // Only rows keyed by an external_id: re-inserting that key is the case of docs/guarantees.md, "Re-created
      // contacts".
      const { rows } = await w.pool.query<{ id: number; email: string; external_id: string }>(
        `SELECT id, lower(email) AS email, external_id FROM intercom.contacts
          WHERE deleted_at IS NULL AND role = 'user' AND external_id IS NOT NULL AND lower(email) = ANY($1::text[]) ORDER BY id`,
        [emails],
      );
      const row = rows[step.target % Math.max(rows.length, 1)];
      if (!row) return say('local-recreate: no local user with an external_id, skipped');
      await w.pool.query(`DELETE FROM intercom.contacts WHERE id = $1`, [row.id]);
      await w.sleep(step.gapMs);
      const value = `LR${i}`;
      const { rows: created } = await w.pool.query<{ id: number }>(
        `INSERT INTO intercom.contacts (external_id, email, name, role, custom_attributes)
         VALUES ($1, $2, $3, 'user', jsonb_build_object('plan_name', $3::text)) RETURNING id`,
        [row.external_id, row.email, value],
      );
      // The new row is the application's truth from now on: earlier writes of either side are history.
      log.contacts.set(row.email, { email: row.email, createdBy: 'local', state: 'live' });
      for (const f of ['name', 'plan_name'] as const) log.contactFields.set(historyKey(row.email, f), { local: [value], remote: [] });
      log.recreates += 1;
      return say(`local hard DELETE of ${row.email} (row ${row.id}), ${step.gapMs} ms later INSERT row ${created[0]!.id} with external_id ${row.external_id}`);
    }
    case 'local-soft-delete': {
      const email = emails[step.target % Math.max(emails.length, 1)];
      if (!email) return say('local-soft-delete: nothing live, skipped');
      const r = await w.pool.query(`UPDATE intercom.contacts SET deleted_at = now() WHERE lower(email) = $1 AND deleted_at IS NULL`, [email]);
      if (r.rowCount === 0) return say(`local-soft-delete ${email}: not local yet, skipped`);
      log.contacts.set(email, { ...log.contacts.get(email)!, state: 'deleted' });
      log.softDeletes += 1;
      return say(`local soft delete ${email}`);
    }
    case 'local-undelete': {
      const email = deletedEmails[step.target % Math.max(deletedEmails.length, 1)];
      if (!email) return say('local-undelete: nothing deleted, skipped');
      const r = await w.pool.query(
        `UPDATE intercom.contacts SET deleted_at = NULL
          WHERE id = (SELECT id FROM intercom.contacts WHERE lower(email) = $1 AND deleted_at IS NOT NULL ORDER BY id DESC LIMIT 1)`,
        [email],
      );
      if (r.rowCount === 0) return say(`local-undelete ${email}: no soft-deleted row, skipped`);
      log.contacts.set(email, { ...log.contacts.get(email)!, state: 'live' });
      log.undeletes += 1;
      return say(`local undelete ${email}`);
    }
    case 'remote-create': {
      const email = `remote${i}.s${w.seed}@example.com`;
      w.sim.state.contacts.create({ role: 'user', external_id: `remote-${w.seed}-${i}`, email, name: `RC${i}` });
      log.contacts.set(email, { email, createdBy: 'remote', state: 'live' });
      return say(`remote create ${email}`);
    }
    case 'fault': {
      const late = w.clientTimeoutMs + 1_500;
      const rule = faultRule(step.fault, i, late);
      w.sim.state.faults.add(rule);
      log.faults += 1;
      return say(`fault ${JSON.stringify(rule)}`);
    }
    case 'idle-expiry': {
      // Idle time, compressed without moving the simulator's clock (a clock jump would also skew every remote
      // updated_at against Postgres's clock): for a moment every cursor counts as idle past its limit (400 "Invalid
      // starting_after param") and every scroll_param as gone (404), whatever pass is in flight.
      const before = { cursorIdleSeconds: w.sim.state.settings.cursorIdleSeconds, scrollParam404Probability: w.sim.state.settings.scrollParam404Probability };
      w.sim.state.applySettings({ cursorIdleSeconds: 0.001, scrollParam404Probability: 1 });
      try {
        await w.sleep(step.ms);
      } finally {
        w.sim.state.applySettings(before);
      }
      log.idleExpiries += 1;
      return say(`for ${step.ms} ms every cursor and scroll_param expires`);
    }
    case 'kill-daemon': {
      await w.daemons.kill();
      await w.sleep(step.downMs);
      await w.daemons.start();
      log.kills += 1;
      return say(`SIGKILL daemon, down ${step.downMs} ms, restarted`);
    }
    case 'terminate-backends': {
      // Right after a kill the daemon may not have connected yet; a round that terminates nothing tests nothing.
      for (let waited = 0; waited < 8_000; waited += 100) {
        const { rows: live } = await w.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'intercom-sync%'`,
        );
        if ((live[0]?.n ?? 0) > 0) break;
        await w.sleep(100);
      }
      const { rows } = await w.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name LIKE 'intercom-sync%') t`,
      );
      log.terminations += 1;
      log.terminatedBackends += rows[0]?.n ?? 0;
      return say(`pg_terminate_backend × ${rows[0]?.n ?? 0}`);
    }
    case 'pause':
      await w.sleep(step.ms);
      return;
  }
}

export function faultRule(fault: FaultKind, i: number, lateMs: number): FaultRuleInput {
  switch (fault) {
    case 'burst-429':
      return { kind: 'status', status: 429, count: 6 };
    case '5xx':
      return { kind: 'status', status: [500, 502, 503][i % 3]!, probability: 0.5, count: 6 };
    case 'drop':
      return { kind: 'drop', probability: 0.5, count: 4 };
    case 'lost-create':
      // The contact is created; the answer is lost (dropped connection or a 502 after the fact).
      return i % 2 === 0
        ? { method: 'POST', path: '/contacts', kind: 'drop', after_apply: true, probability: 0.5, count: 3 }
        : { method: 'POST', path: '/contacts', kind: 'status', status: 502, after_apply: true, probability: 0.5, count: 3 };
    case 'lost-put':
      return { method: 'PUT', path: '/contacts/{id}', kind: 'latency', latency_ms: lateMs, after_apply: true, probability: 0.5, count: 4 };
    case 'late-put':
      return { method: 'PUT', path: '/contacts/{id}', kind: 'latency', latency_ms: lateMs, probability: 0.5, count: 4 };
  }
}

export function liveRemoteByEmail(sim: RunningSimulator, email: string) {
  return sim.state.contacts.order.find((r) => !r.deleted && !r.mergedInto && !r.archived && r.data.email?.toLowerCase() === email);
}
