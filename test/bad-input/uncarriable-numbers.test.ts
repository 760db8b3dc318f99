import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchEngines, drainAll, UNLIMITED_RATE, type BenchEngines } from '../../bench/lib/engines.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

/**
 * Numbers an application may store in custom_attributes that JavaScript cannot carry. Postgres keeps a jsonb number
 * as an exact numeric, so `1e400` and `1e-400` are stored as written; read with JSON.parse they become Infinity (which
 * JSON.stringify writes as null: the attribute vanished from the write) and 0 (sent as if it were the value). Each
 * must end as a dead letter naming the row and the attribute, Intercom must receive no write for the row, the row
 * must keep its exact value (a pull that merges around it included), and every other row must go on syncing.
 */
const logger = pino({ level: 'silent' });
let db: TestDatabase;
let sim: RunningSimulator;
let engines: BenchEngines;

const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0, seedContacts: 30, seedCompanies: 30 });
  await control('POST', '/__sim/data_attributes', { name: 'score', model: 'contact', data_type: 'float' });
  await control('POST', '/__sim/data_attributes', { name: 'revenue', model: 'company', data_type: 'float' });
  await control('POST', '/__sim/data_attributes', { name: 'employees', model: 'company', data_type: 'integer' });
  engines = benchEngines({ pool: db.pool, databaseUrl: db.url, simUrl: sim.url, token: sim.token, ratePerMinute: UNLIMITED_RATE, logger });
  await engines.pull.pullCompanies();
  await engines.pull.pullContacts();
});

afterAll(async () => {
  await engines?.close();
  await sim?.close();
  await db?.drop();
});

type Table = 'contacts' | 'companies';
const entityOf = (t: Table) => (t === 'contacts' ? 'contact' : 'company');

/** Linked rows nobody else in this file uses: each case takes a fresh one. */
const taken = new Set<number>();
async function freshLinked(table: Table): Promise<{ id: number; intercom_id: string }> {
  const { rows } = await db.pool.query<{ id: number; intercom_id: string }>(
    `SELECT id, intercom_id FROM intercom.${table} WHERE intercom_id IS NOT NULL AND deleted_at IS NULL ORDER BY id`,
  );
  const row = rows.find((r) => !taken.has(r.id));
  if (!row) throw new Error(`no linked ${table} left`);
  taken.add(row.id);
  return row;
}

/** What Intercom holds for a record: any write to it changes this (updated_at included). */
function remoteState(table: Table, intercomId: string): string {
  const r = table === 'contacts' ? sim.state.contacts.byId.get(intercomId)?.data : sim.state.companies.byId.get(intercomId);
  if (!r) throw new Error(`no ${table} ${intercomId} in the simulator`);
  return JSON.stringify(r);
}

/** Whether the stored attribute is still exactly the number written, compared by Postgres as numerics. */
async function holdsExactly(table: Table, id: number, attr: string, literal: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ same: boolean }>(
    `SELECT (custom_attributes -> $2) = $3::jsonb AS same FROM intercom.${table} WHERE id = $1`,
    [id, attr, literal],
  );
  return rows[0]?.same === true;
}

async function outboxOf(table: Table, id: number) {
  const { rows } = await db.pool.query<{ status: string; last_error: string | null }>(
    `SELECT status, last_error FROM intercom.sync_outbox WHERE entity_type = $1 AND local_id = $2 AND related_id = 0`,
    [entityOf(table), id],
  );
  return rows;
}

const CASES = [
  { literal: '1e400', problem: /overflow|beyond/i },
  { literal: '-1e400', problem: /overflow|beyond/i },
  { literal: '1e-400', problem: /underflow|closer to zero/i },
] as const;

describe('numbers JavaScript cannot carry, in custom attributes', () => {
  for (const table of ['contacts', 'companies'] as const) {
    for (const c of CASES) {
      it(`${entityOf(table)} ${c.literal}: named dead letter, no write to Intercom, the row keeps its value, others sync`, async () => {
        const attr = table === 'contacts' ? 'score' : 'revenue';
        const bad = await freshLinked(table);
        const good = await freshLinked(table);
        const before = remoteState(table, bad.intercom_id);
        await db.pool.query(
          `UPDATE intercom.${table} SET custom_attributes = custom_attributes || jsonb_build_object($2::text, $3::jsonb) WHERE id = $1`,
          [bad.id, attr, c.literal],
        );
        await db.pool.query(
          `UPDATE intercom.${table} SET custom_attributes = custom_attributes || jsonb_build_object($2::text, 2.5) WHERE id = $1`,
          [good.id, attr],
        );
        const requestsBefore = engines.records.length;

        await drainAll(engines, db.pool);

        const dead = await outboxOf(table, bad.id);
        expect(dead).toEqual([{ status: 'dead', last_error: expect.stringContaining(`${entityOf(table)} ${bad.id}: custom_attributes.${attr} `) }]);
        expect(dead[0]!.last_error).toMatch(c.problem);
        expect(remoteState(table, bad.intercom_id), 'Intercom received no write for the row').toBe(before);
        expect(await holdsExactly(table, bad.id, attr, c.literal), 'the stored value is untouched').toBe(true);
        const { rows: audit } = await db.pool.query<{ action: string }>(
          `SELECT action FROM intercom.audit_log WHERE entity_type = $1 AND local_id = $2 AND direction = 'push'`,
          [entityOf(table), bad.id],
        );
        expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining([expect.stringMatching(/^(invalid|dead)$/)]));

        // The row beside it synced, with one write: the only one of the drain.
        const goodRemote = JSON.parse(remoteState(table, good.intercom_id)) as { custom_attributes: Record<string, unknown> };
        expect(goodRemote.custom_attributes[attr]).toBe(2.5);
        const writes = engines.records.slice(requestsBefore).filter((r) => r.method !== 'GET');
        expect(writes).toHaveLength(1);
      });
    }
  }

  it('a new contact holding 1e400 is never created in Intercom', async () => {
    const externalId = `uncarriable-${Date.now()}`;
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO intercom.contacts (external_id, custom_attributes) VALUES ($1, '{"score": 1e400}') RETURNING id`,
      [externalId],
    );
    const id = rows[0]!.id;
    const requestsBefore = engines.records.length;
    await drainAll(engines, db.pool);
    expect(await outboxOf('contacts', id)).toEqual([
      { status: 'dead', last_error: expect.stringMatching(new RegExp(`^contact ${id}: custom_attributes\\.score .*(overflow|beyond)`, 'i')) },
    ]);
    expect([...sim.state.contacts.byId.values()].filter((r) => r.data.external_id === externalId)).toEqual([]);
    expect(engines.records.slice(requestsBefore).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('a pull merging remote edits around pending 1e400 / 1e-400 keeps the exact local values', async () => {
    // Two contacts reached by the incremental pull (one page: its set-based write), one by a targeted pull by id (a
    // webhook's: the per-record write), and a company. Each also has a remote edit of a custom attribute, so the
    // merged attributes, the uncarriable local ones among them, are written back to the row.
    const byPage = [await freshLinked('contacts'), await freshLinked('contacts')];
    const byId = await freshLinked('contacts');
    const company = await freshLinked('companies');
    const contacts = [...byPage, byId];
    for (const c of contacts) {
      await db.pool.query(
        `UPDATE intercom.contacts SET custom_attributes = custom_attributes || '{"score": 1e400, "seats": 1e-400}' WHERE id = $1`,
        [c.id],
      );
    }
    await db.pool.query(
      `UPDATE intercom.companies SET custom_attributes = custom_attributes || '{"revenue": -1e400, "employees": 1e-400}' WHERE id = $1`,
      [company.id],
    );
    // Intercom's users change other fields meanwhile; the pull merges them in while the local change is pending.
    const remoteEdit = { name: 'Renamed in Intercom', custom_attributes: { plan_name: 'Remote plan' } };
    for (const c of byPage) await control('PATCH', `/__sim/contacts/${c.intercom_id}`, remoteEdit);
    await control('PATCH', `/__sim/companies/${company.intercom_id}`, { name: 'Renamed company', custom_attributes: { tier: 'platinum' } });
    await engines.pull.pullContacts();
    await engines.pull.pullCompanies();
    await control('PATCH', `/__sim/contacts/${byId.intercom_id}`, remoteEdit);
    await engines.pull.pullContactsByIds([byId.intercom_id]);

    for (const c of contacts) {
      const { rows } = await db.pool.query<{ name: string; plan: string }>(
        `SELECT name, custom_attributes ->> 'plan_name' AS plan FROM intercom.contacts WHERE id = $1`,
        [c.id],
      );
      expect(rows[0]).toEqual({ name: 'Renamed in Intercom', plan: 'Remote plan' });
      expect(await holdsExactly('contacts', c.id, 'score', '1e400')).toBe(true);
      expect(await holdsExactly('contacts', c.id, 'seats', '1e-400')).toBe(true);
    }
    const { rows: co } = await db.pool.query<{ name: string; tier: string }>(
      `SELECT name, custom_attributes ->> 'tier' AS tier FROM intercom.companies WHERE id = $1`,
      [company.id],
    );
    expect(co[0]).toEqual({ name: 'Renamed company', tier: 'platinum' });
    expect(await holdsExactly('companies', company.id, 'revenue', '-1e400')).toBe(true);
    expect(await holdsExactly('companies', company.id, 'employees', '1e-400')).toBe(true);

    // And the push still refuses them by name.
    await drainAll(engines, db.pool);
    for (const c of contacts) {
      expect(await outboxOf('contacts', c.id)).toEqual([{ status: 'dead', last_error: expect.stringMatching(/custom_attributes\.(score|seats) /) }]);
    }
    expect(await outboxOf('companies', company.id)).toEqual([
      { status: 'dead', last_error: expect.stringMatching(/custom_attributes\.(revenue|employees) /) },
    ]);
  });

});
