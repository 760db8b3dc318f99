import { describe, expect, it } from 'vitest';
import { SyncStateError } from '../../src/errors.ts';
import { startOfLocalDay as simStartOfDay } from '../../src/simulator/timezone.ts';
import { usePullHarness } from './helpers.ts';

// Partitioned pulls against the simulator (search days in Kolkata time, +05:30) and real Postgres: every record
// arrives exactly once however the workspace is cut, while it is being edited, and when cursors die mid-partition.
const h = usePullHarness({ timezone: 'Asia/Kolkata' });

const count = async (sql: string) => (await h.q<{ n: number }>(sql))[0]!.n;
const localContacts = () => count(`SELECT count(*)::int AS n FROM intercom.contacts`);
const distinctMapped = () => count(`SELECT count(DISTINCT intercom_id)::int AS n FROM intercom.sync_mappings WHERE entity_type = 'contact'`);
const creates = () => count(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'create' AND entity_type = 'contact'`);
/** Every contact Intercom lists (the list endpoint, independent of the search the pull uses). */
async function remoteIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const page = await h.gateway.listContacts({ perPage: 150, startingAfter: cursor });
    ids.push(...page.data.map((c) => c.id));
    if (!page.nextCursor || page.data.length === 0) break;
    cursor = page.nextCursor;
  }
  return ids;
}

describe('partitioned pulls', () => {
  it('a full pull under concurrent edits and creations brings every record exactly once, and the next cycle converges', { timeout: 240_000 }, async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 2500, companies: 20 });
    const before = await remoteIds();
    // Slow pages, so edits land while partitions are mid-way.
    await h.control('POST', '/faults', { method: 'POST', path: '/contacts/search', kind: 'latency', latency_ms: 40 });
    const engine = h.engine();
    let stop = false;
    let edits = 0;
    const editor = (async () => {
      for (let i = 0; !stop && i < 400; i++) {
        await h.control('PATCH', `/contacts/${before[(i * 37) % before.length]!}`, { name: `edited ${i}` });
        if (i % 4 === 0) await h.control('POST', '/contacts', { role: 'user', external_id: `new-${i}`, email: `new${i}@example.com` });
        edits++;
      }
    })();
    const r = await engine.pullContacts({});
    stop = true;
    await editor;
    await h.control('DELETE', '/faults');
    expect(r.details).toMatchObject({ first_run: true });
    expect(r.details!.partitions as number).toBeGreaterThan(2);
    expect(edits).toBeGreaterThan(0);
    // Every record that existed before is here once; records created meanwhile may or may not be.
    const local = new Set((await h.q<{ intercom_id: string }>(`SELECT intercom_id FROM intercom.contacts`)).map((x) => x.intercom_id));
    for (const id of before) expect(local.has(id)).toBe(true);
    expect(await distinctMapped()).toBe(await localContacts());
    expect(await creates()).toBe(await localContacts());
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_state WHERE stream LIKE 'backfill:contacts:p:%'`))[0].n).toBe(0);

    // The next cycle (from the watermark noted before the full pull) brings the edits and creations made during it.
    await engine.pullContacts({});
    const remote = await remoteIds();
    expect(await localContacts()).toBe(remote.length);
    const names = new Map((await h.q<{ intercom_id: string; name: string }>(`SELECT intercom_id, name FROM intercom.contacts`)).map((x) => [x.intercom_id, x.name]));
    for (let i = 0; i < edits; i++) {
      const id = before[(i * 37) % before.length]!;
      expect(names.get(id)).toBe((await h.control('GET', `/contacts/${id}`)).contact.name);
    }
    expect(await creates()).toBe(remote.length);
  });

  it('a cursor that expires mid-partition restarts that partition from its last day: nothing lost, nothing twice', async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 2000, companies: 10 });
    await h.control('POST', '/faults', { method: 'POST', path: '/contacts/search', kind: 'latency', latency_ms: 30 });
    const engine = h.engine();
    const expire = setInterval(() => void h.control('POST', '/search/expire-cursors').catch(() => undefined), 150);
    let r;
    try {
      r = await engine.fullPullContacts({});
    } finally {
      clearInterval(expire);
      await h.control('DELETE', '/faults');
    }
    expect(r.details!.cursor_restarts as number).toBeGreaterThan(0);
    expect(await localContacts()).toBe(2000);
    expect(await distinctMapped()).toBe(2000);
    expect(await creates()).toBe(2000);
  });

  it('a large incremental backlog is pulled as partitions, each change applied once, the watermark moved once', { timeout: 240_000 }, async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 1800, companies: 10 });
    const engine = h.engine();
    await engine.pullContacts({});
    const [wm0] = await h.q(`SELECT watermark FROM intercom.sync_state WHERE stream = 'contacts'`);
    const ids = (await h.q<{ intercom_id: string }>(`SELECT intercom_id FROM intercom.contacts ORDER BY id LIMIT 1500`)).map((x) => x.intercom_id);
    await h.control('POST', '/clock', { advance_seconds: 3600 });
    for (const id of ids) await h.control('PATCH', `/contacts/${id}`, { name: `backlog ${id}` });
    await h.control('DELETE', '/stats');
    const r = await engine.pullContacts({});
    expect(r.details!.partitions as number).toBeGreaterThan(1);
    expect(r.counts.updated).toBe(1500);
    expect(await count(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'backlog %'`)).toBe(1500);
    expect(await count(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'update'`)).toBe(1500);
    const [wm1] = await h.q(`SELECT watermark FROM intercom.sync_state WHERE stream = 'contacts'`);
    expect(wm1.watermark.getTime()).toBeGreaterThan(wm0.watermark.getTime());
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_state WHERE stream LIKE 'contacts:backlog:p:%'`))[0].n).toBe(0);
    const searches = await h.searchRequests();
    // 10 pages of changes; the cut costs one probe page plus each part's partial last page.
    console.log(`[partitioned backlog] 1,500 changes: ${searches} searches over ${String(r.details!.partitions)} partitions (minimum ${Math.ceil(1500 / 150)})`);
    expect(searches).toBe(r.requests);
    // The window runs from a year-old watermark to today's burst: the burst's day is one part and the empty year
    // costs one probe per other part (cut evenly instead, each level probed empty ranges again: 29 searches).
    expect(searches).toBeLessThanOrEqual(Math.ceil(1500 / 150) + 5);
  });

  /**
   * A workspace whose busiest day is the window's first: 1,400 contacts updated at 00:30 local, one at 01:00, pulled.
   * The next window starts that day (at the floor, 00:45), so Intercom's total_count holds the 1,400 the last cycle
   * already read: only the changes since may decide how the window is read.
   */
  async function busyFirstDay(day: number) {
    await h.resetAll();
    await h.control('POST', '/clock', { set: day + 1800 });
    const ids: string[] = [];
    for (let i = 0; i < 1400; i++) {
      ids.push((await h.control('POST', '/contacts', { role: 'user', external_id: `busy-${i}`, email: `busy${i}@example.com` })).contact.id);
    }
    await h.control('POST', '/clock', { set: day + 3600 });
    await h.control('POST', '/contacts', { role: 'user', external_id: 'busy-last', email: 'busy-last@example.com' });
    const engine = h.engine();
    await engine.pullContacts({});
    return { engine, ids };
  }

  it('a few changes after a busy first day cost ⌈changes/150⌉ searches, not a cut of that day', { timeout: 120_000 }, async () => {
    const day = simStartOfDay(1_780_000_000, 'Asia/Kolkata');
    const { engine, ids } = await busyFirstDay(day);
    await h.control('POST', '/clock', { set: day + 3 * 3600 });
    for (const id of ids.slice(0, 300)) await h.control('PATCH', `/contacts/${id}`, { name: `later ${id}` });
    await h.control('DELETE', '/stats');
    const r = await engine.pullContacts({});
    expect(r.counts.updated).toBe(300);
    // 300 changes and the 01:00 contact inside the lookback: ⌈301/150⌉ pages, the last one reaching below the floor.
    expect(await h.searchRequests()).toBe(3);
    expect(r.details).not.toHaveProperty('partitions');
  });

  it('the first cycle after a full pull whose newest record is months old reads only the changes', { timeout: 120_000 }, async () => {
    const day = simStartOfDay(1_750_000_000, 'Asia/Kolkata');
    const { engine, ids } = await busyFirstDay(day);
    // The window runs from that day to months later, with nothing in between.
    await h.control('POST', '/clock', { set: day + 200 * 86_400 });
    for (const id of ids.slice(0, 1000)) await h.control('PATCH', `/contacts/${id}`, { name: `months later ${id}` });
    await h.control('DELETE', '/stats');
    const r = await engine.pullContacts({});
    expect(r.counts.updated).toBe(1000);
    expect(await h.searchRequests()).toBe(Math.ceil(1001 / 150));
    expect(await count(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'months later %'`)).toBe(1000);
  });

  it('a full pull of at most eight pages is one cursor: ⌈n/150⌉ pages and the newest-update probe', async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 1000, companies: 10 });
    const engine = h.engine();
    await engine.fullPullContacts({});
    // Again over a workspace that already matches, as a re-run backfill does: a cut would re-read its probe page and
    // end each part with a partial page.
    await h.control('DELETE', '/stats');
    const r = await engine.fullPullContacts({ resume: false });
    expect(r.counts).toEqual({ unchanged: 1000 });
    expect(r.details).toMatchObject({ partitions: 1, splits: 0 });
    expect(await h.searchRequests()).toBe(Math.ceil(1000 / 150) + 1);
  });

  it('saved partition progress that does not parse stops the pull with the row named, and changes nothing', async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 300, companies: 2 });
    const stream = 'backfill:contacts:p:updated_at:-:-:*';
    // A pass in progress whose partition row has a status this version never writes, as an older version or a hand
    // edit could leave it.
    await h.q(`INSERT INTO intercom.sync_state (stream, cursor, details) VALUES ('backfill:contacts', 'partitions', $1)`, [
      { status: 'running', mode: 'partitioned', started_at: new Date().toISOString(), initial_watermark: 1 },
    ]);
    await h.q(`INSERT INTO intercom.sync_state (stream, details) VALUES ($1, $2)`, [stream, { status: 'paused', pages: 1 }]);
    await h.control('DELETE', '/stats');
    const err = await h.engine().fullPullContacts({}).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SyncStateError);
    expect((err as SyncStateError).stream).toBe(stream);
    expect((err as Error).message).toContain('delete the backfill:contacts:p:* rows');
    expect(await localContacts()).toBe(0);
    expect(await h.searchRequests()).toBe(0);
    await h.q(`DELETE FROM intercom.sync_state WHERE stream LIKE 'backfill:contacts%'`);
  });

  it('with no budget limit, pages fetched ahead of the apply stay few however many partitions there are', { timeout: 240_000 }, async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 12_000, companies: 10 });
    // The gateway's in-flight target at this rate is its cap (256): only the apply can bound what is fetched.
    const gw = h.newGateway({ ratePerMinute: 1_000_000 });
    let asked = 0;
    let applied = 0;
    let most = 0;
    const observed = new Proxy(gw, {
      get(target, prop, receiver) {
        if (prop !== 'searchContacts') return Reflect.get(target, prop, receiver);
        return (...args: Parameters<typeof gw.searchContacts>) => {
          asked++;
          most = Math.max(most, asked - applied);
          return gw.searchContacts(...args);
        };
      },
    });
    // Latency makes many partitions worth fetching at once (partitions are sized by latency ÷ apply time).
    await h.control('POST', '/faults', { method: 'POST', path: '/contacts/search', kind: 'latency', latency_ms: 100 });
    let r;
    try {
      r = await h.engine({}, observed).fullPullContacts({ onProgress: () => applied++ });
    } finally {
      await h.control('DELETE', '/faults');
    }
    expect(r.counts.created).toBe(12_000);
    expect(r.details!.partitions as number).toBeGreaterThanOrEqual(10);
    // Searches asked for and not yet applied: apply-bound, so latency ÷ apply time plus a few pages ahead (the
    // partitions' probe pages and the newest-update probe are never applied, hence the margin).
    console.log(`[partitioned memory] at most ${most} pages ahead of the apply over ${String(r.details!.partitions)} partitions`);
    expect(most).toBeLessThanOrEqual(16);
  });
});
