import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { daemonMetricsQueries } from '../../src/db/queries/daemon-metrics.ts';
import { reportQueries } from '../../src/db/queries/reports.ts';
import { statusQueries } from '../../src/db/queries/status.ts';
import { createVerifyStore } from '../../src/db/queries/verify.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { renderStatusPage } from '../../src/reports/html.ts';
import { FUTURE_SKEW_SECONDS } from '../../src/sync/pull/future.ts';
import { createVerifyEngine } from '../../src/sync/verify/index.ts';
import { parsePrometheusText } from '../http/prom-text.ts';
import { usePullHarness, silent } from './helpers.ts';

// One Intercom record stamped in the year 2100 (a bad import, a writer with a broken clock) must not carry a watermark
// there: the record is recorded invalid with its value, its page goes on, and later edits of other records are pulled
// as before. The simulator's Date header follows its clock, which the gateway reads as Intercom's now.
const Y2100 = Date.UTC(2100, 0, 1) / 1000;

const h = usePullHarness();
beforeEach(async () => {
  await h.resetAll();
});

const simNow = async (): Promise<number> => (await h.control('GET', '/clock')).now;
const advance = (seconds: number) => h.control('POST', '/clock', { advance_seconds: seconds });
const createContact = async (i: number, extra: Record<string, unknown> = {}) =>
  (await h.control('POST', '/contacts', { role: 'user', external_id: `fd-${i}`, email: `fd${i}@example.com`, name: `v0-${i}`, ...extra })).contact
    .id as string;
const watermark = async (stream: string): Promise<number | null> => {
  const rows = await h.q(`SELECT extract(epoch FROM watermark)::float8 AS w FROM intercom.sync_state WHERE stream = $1`, [stream]);
  return rows[0]?.w ?? null;
};
const localName = async (table: 'contacts' | 'companies', intercomId: string) =>
  (await h.q(`SELECT name FROM intercom.${table} WHERE intercom_id = $1`, [intercomId]))[0]?.name;
/** The invalid rows `intercom-sync report errors` shows. */
const reportedInvalid = async () =>
  (await reportQueries('intercom').run(h.db.pool, 'errors')).rows.filter((r) => r.kind === 'invalid');

async function expectRecordedFuture(entity: 'contact' | 'company', intercomId: string): Promise<void> {
  const rows = await reportedInvalid();
  const mine = rows.filter((r) => r.intercom_id === intercomId);
  expect(mine).toHaveLength(1);
  expect(mine[0]!.entity_type).toBe(entity);
  expect((mine[0]!.details as Record<string, unknown>).remote_updated_at).toBe(Y2100);
  expect(String(mine[0]!.reason)).toMatch(/2100-01-01T00:00:00\.000Z.*ahead of Intercom's clock/);
}

describe('a contact dated in the future', () => {
  it('incremental pull: recorded invalid and not applied; the watermark stays at Intercom time; later edits are still pulled', async () => {
    const a = await createContact(1);
    const b = await createContact(2);
    const engine = h.engine();
    await engine.pullContacts({});
    const before = await watermark('contacts');
    expect(before).not.toBeNull();

    await advance(5);
    await h.control('PATCH', `/contacts/${a}`, { name: 'from the future', updated_at: Y2100 });
    await createContact(3);
    const r = await engine.pullContacts({});
    expect(r.counts).toMatchObject({ invalid: 1, created: 1 });
    expect(await watermark('contacts')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    expect(await localName('contacts', a)).toBe('v0-1');
    await expectRecordedFuture('contact', a);

    // A later, ordinary edit of another contact, and a run after a restart (a new engine): both pulled.
    await advance(5);
    await h.control('PATCH', `/contacts/${b}`, { name: 'edited later' });
    const again = await h.engine().pullContacts({});
    expect(again.counts.updated).toBe(1);
    expect(await localName('contacts', b)).toBe('edited later');
    expect(await watermark('contacts')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    // Read again on every run, audited once per remote version.
    expect(again.counts.invalid).toBe(1);
    expect(await reportedInvalid()).toHaveLength(1);

    // An edit in Intercom stamps a real time: the record comes in like any other change.
    await advance(5);
    await h.control('PATCH', `/contacts/${a}`, { name: 'back to today' });
    const fixed = await engine.pullContacts({});
    expect(fixed.counts.invalid ?? 0).toBe(0);
    expect(await localName('contacts', a)).toBe('back to today');
  });

  it('full pull (backfill, first run): recorded invalid; the watermark it leaves is the newest believable one', async () => {
    const ids = [await createContact(1), await createContact(2)];
    const future = await createContact(3, { updated_at: Y2100 });
    const engine = h.engine();
    const r = await engine.fullPullContacts({ resume: false });
    expect(r.counts).toMatchObject({ created: 2, invalid: 1 });
    const limit = (await simNow()) + FUTURE_SKEW_SECONDS;
    expect(r.details?.watermark).toBeLessThanOrEqual(limit);
    expect(await watermark('contacts')).toBeLessThanOrEqual(limit);
    expect(await h.q(`SELECT 1 FROM intercom.contacts WHERE intercom_id = $1`, [future])).toHaveLength(0);
    await expectRecordedFuture('contact', future);

    await advance(5);
    await h.control('PATCH', `/contacts/${ids[0]}`, { name: 'edited after the backfill' });
    const next = await engine.pullContacts({});
    expect(next.counts.updated).toBe(1);
    expect(await localName('contacts', ids[0]!)).toBe('edited after the backfill');
  });

  it('the first incremental run (a full pull) of a workspace whose newest records are all from the future', async () => {
    const today = await createContact(1);
    for (let i = 2; i <= 4; i++) await createContact(i, { updated_at: Y2100 + i });
    const engine = h.engine();
    const r = await engine.pullContacts({});
    expect(r.counts).toMatchObject({ created: 1, invalid: 3 });
    expect(await watermark('contacts')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    await advance(5);
    await h.control('PATCH', `/contacts/${today}`, { name: 'edited' });
    expect((await engine.pullContacts({})).counts.updated).toBe(1);
  });

  it('verify: a listed contact from the future is recorded invalid, not applied', async () => {
    await createContact(1);
    const future = await createContact(2, { updated_at: Y2100 });
    const pull = h.engine();
    const verify = createVerifyEngine({ gateway: h.gateway, store: createVerifyStore(h.db.pool, 'intercom'), pull, logger: silent });
    const r = await verify.verify({ signal: new AbortController().signal, runId: null, budget: 100, entity: 'contacts' });
    expect(r.counts).toMatchObject({ created: 1, invalid: 1 });
    expect(await h.q(`SELECT 1 FROM intercom.contacts WHERE intercom_id = $1`, [future])).toHaveLength(0);
    await expectRecordedFuture('contact', future);
  });
});

describe("Intercom's clock, not this host's", () => {
  it('reads the Date header: records a day ahead of this host but not of Intercom are applied', async () => {
    await advance(86_400);
    try {
      const id = await createContact(1);
      const r = await h.engine().pullContacts({});
      expect(r.counts).toMatchObject({ created: 1 });
      expect(r.counts.invalid).toBeUndefined();
      const clock = h.gateway.serverClock();
      expect(clock.source).toBe('intercom');
      // Whole seconds in the header, and the answer's latency: well within a minute of the simulator's clock.
      expect(Math.abs(clock.nowMs / 1000 - (await simNow()))).toBeLessThan(60);
      expect(await localName('contacts', id)).toBe('v0-1');
    } finally {
      await advance(-86_400);
    }
  });
});

describe('a company dated in the future', () => {
  async function companyWithContact(i: number): Promise<string> {
    const contact = await createContact(100 + i);
    const co = (await h.control('POST', '/companies', { company_id: `fd-co-${i}`, name: `Co ${i}` })).company.id as string;
    await h.control('POST', '/attach', { contact_id: contact, company_id: co });
    return co;
  }

  it('companies pull and full pull: recorded invalid, the watermark stays at Intercom time, later edits are pulled', async () => {
    const a = await companyWithContact(1);
    const b = await companyWithContact(2);
    const engine = h.engine();
    await engine.pullCompanies({});
    expect(await watermark('companies')).not.toBeNull();

    await advance(5);
    await h.control('PATCH', `/companies/${a}`, { name: 'from the future', updated_at: Y2100 });
    const r = await engine.pullCompanies({});
    expect(r.counts.invalid).toBe(1);
    expect(await watermark('companies')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    expect(await localName('companies', a)).toBe('Co 1');
    await expectRecordedFuture('company', a);

    await advance(5);
    await h.control('PATCH', `/companies/${b}`, { name: 'edited later' });
    expect((await engine.pullCompanies({})).counts.updated).toBe(1);
    expect(await localName('companies', b)).toBe('edited later');

    // The backfill's full scroll: the same rule.
    const full = await engine.fullPullCompanies({});
    expect(full.counts.invalid).toBe(1);
    expect(await watermark('companies')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    expect(await reportedInvalid()).toHaveLength(1);
  });
});

describe('a watermark stored in the future by an earlier version', () => {
  it('is lowered on the next contacts run, and the changes made since are pulled', async () => {
    const a = await createContact(1);
    const b = await createContact(2);
    const engine = h.engine();
    await engine.pullContacts({});
    // What an earlier version left: the watermark and the mapping of a contact it applied from the year 2100.
    await h.q(`UPDATE intercom.sync_state SET watermark = to_timestamp($1) WHERE stream = 'contacts'`, [Y2100]);
    await h.q(`UPDATE intercom.sync_mappings SET remote_updated_at = to_timestamp($1) WHERE intercom_id = $2`, [Y2100, b]);

    await advance(5);
    await h.control('PATCH', `/contacts/${a}`, { name: 'edited while stuck' });
    await h.control('PATCH', `/contacts/${b}`, { name: 'edited after a future version' });
    const r = await engine.pullContacts({});
    expect(r.details?.watermark_repaired).toMatchObject({ from: '2100-01-01T00:00:00.000Z' });
    expect(await localName('contacts', a)).toBe('edited while stuck');
    expect(await localName('contacts', b)).toBe('edited after a future version');
    expect(await watermark('contacts')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
    const [state] = await h.q(`SELECT details FROM intercom.sync_state WHERE stream = 'contacts'`);
    expect(state.details.watermark_repaired.from).toBe('2100-01-01T00:00:00.000Z');
  });

  it('is lowered on the next companies run, and by a backfill of contacts', async () => {
    const contact = await createContact(1);
    const co = (await h.control('POST', '/companies', { company_id: 'fd-co', name: 'Co' })).company.id as string;
    await h.control('POST', '/attach', { contact_id: contact, company_id: co });
    const engine = h.engine();
    await engine.pullCompanies({});
    await engine.pullContacts({});
    await h.q(`UPDATE intercom.sync_state SET watermark = to_timestamp($1) WHERE stream IN ('contacts', 'companies')`, [Y2100]);

    await advance(5);
    await h.control('PATCH', `/companies/${co}`, { name: 'renamed' });
    await engine.pullCompanies({});
    expect(await localName('companies', co)).toBe('renamed');
    expect(await watermark('companies')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);

    const full = await engine.fullPullContacts({ resume: false });
    expect(full.details?.watermark_repaired).toMatchObject({ from: '2100-01-01T00:00:00.000Z' });
    expect(await watermark('contacts')).toBeLessThanOrEqual((await simNow()) + FUTURE_SKEW_SECONDS);
  });
});

describe('what an operator sees', () => {
  it('the status page lists the record', async () => {
    const future = await createContact(1, { updated_at: Y2100 });
    await h.engine().pullContacts({});
    const snapshot = await statusQueries('intercom').snapshot(h.db.pool, 24);
    expect(snapshot.invalid.total).toBe(1);
    const html = renderStatusPage(snapshot, { schema: 'intercom', pii: false, budgetPerMinute: 1000 });
    expect(html).toContain(future);
    expect(html).toMatch(/Invalid records in the last 24 hours \(1\)/);
  });

  it('the watermark-age metric never goes negative', async () => {
    await createContact(1);
    await h.engine().pullContacts({});
    // A watermark ahead of the database's clock, as an earlier version could leave it.
    await h.q(`UPDATE intercom.sync_state SET watermark = to_timestamp($1) WHERE stream = 'contacts'`, [Y2100]);
    const q = daemonMetricsQueries('intercom');
    const metrics = createMetrics(
      { readDb: async () => ({ outbox: await q.outbox(h.db.pool), pullLag: await q.pullLag(h.db.pool), mappings: await q.mappings(h.db.pool) }) },
      pino({ level: 'silent' }),
    );
    const { samples } = parsePrometheusText((await metrics.render()).body);
    const age = samples.find((s) => s.name === 'intercom_sync_pull_watermark_age_seconds' && s.labels.stream === 'contacts');
    expect(age?.value).toBe(0);
  });
});
