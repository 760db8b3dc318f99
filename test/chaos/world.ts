import type pg from 'pg';
import type { RunningSimulator } from '../../src/simulator/server.ts';
import type { DaemonSupervisor } from './daemons.ts';
import type { ContactField, Step } from './plan.ts';

/** Every value each side wrote to one field, in order: what the end state is checked against. */
export interface FieldHistory {
  local: string[];
  remote: string[];
}

export interface ContactKey {
  /** Emails are unique in this world and never edited, so they identify a contact on both sides. */
  email: string;
  createdBy: 'seed' | 'local' | 'remote';
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
}

export interface WorldDeps {
  pool: pg.Pool;
  sim: RunningSimulator;
  daemons: DaemonSupervisor;
  seed: number;
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
    contacts.set(rec.data.email.toLowerCase(), { email: rec.data.email.toLowerCase(), createdBy: 'seed' });
  }
  return { contacts, contactFields: new Map(), companyPlans: new Map(), steps: [], faults: 0, kills: 0, terminations: 0, terminatedBackends: 0 };
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
  const emails = [...log.contacts.keys()].sort();
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
      await w.pool.query(
        `INSERT INTO intercom.contacts (external_id, email, name, role) VALUES ($1, $2, $3, 'user')`,
        [step.withExternalId ? `local-${w.seed}-${i}` : null, email, `LC${i}`],
      );
      log.contacts.set(email, { email, createdBy: 'local' });
      return say(`local create ${email}${step.withExternalId ? ' with external_id' : ' (email only)'}`);
    }
    case 'remote-create': {
      const email = `remote${i}.s${w.seed}@example.com`;
      w.sim.state.contacts.create({ role: 'user', external_id: `remote-${w.seed}-${i}`, email, name: `RC${i}` });
      log.contacts.set(email, { email, createdBy: 'remote' });
      return say(`remote create ${email}`);
    }
    case 'fault': {
      const rule =
        step.fault === 'burst-429'
          ? { kind: 'status' as const, status: 429, count: 6 }
          : step.fault === '5xx'
            ? { kind: 'status' as const, status: [500, 502, 503][i % 3]!, probability: 0.5, count: 6 }
            : { kind: 'drop' as const, probability: 0.5, count: 4 };
      w.sim.state.faults.add(rule);
      log.faults += 1;
      return say(`fault ${JSON.stringify(rule)}`);
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

export function liveRemoteByEmail(sim: RunningSimulator, email: string) {
  return sim.state.contacts.order.find((r) => !r.deleted && !r.mergedInto && !r.archived && r.data.email?.toLowerCase() === email);
}
