import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usePullHarness } from './helpers.ts';

// Incremental contacts pull against the simulator (day-granular search in New York time, 120 s indexing delay)
// and real Postgres. The engine never reads a wall clock: the window comes from remote updated_at values.
const DELAY = 120;
const LOOKBACK = 300;

const h = usePullHarness({ indexingDelaySeconds: DELAY, timezone: 'America/New_York' });

const clock = (body: Record<string, unknown>) => h.control('POST', '/clock', body);
const createContact = async (i: number) =>
  (await h.control('POST', '/contacts', { role: 'user', external_id: `p-${i}`, email: `p${i}@example.com`, name: `v0-${i}` })).contact.id as string;

async function remoteNames(ids: string[]): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const id of ids) m.set(id, (await h.control('GET', `/contacts/${id}`)).contact.name);
  return m;
}
async function localNames(): Promise<Map<string, string>> {
  const rows = await h.q<{ intercom_id: string; name: string }>(`SELECT intercom_id, name FROM intercom.contacts`);
  return new Map(rows.map((r) => [r.intercom_id, r.name]));
}

describe('incremental contacts pull', () => {
  it('loses no change, whatever the time of day, midnight or indexing delay (property)', async () => {
    // A day in New York; edits start anywhere from 23:00 to 01:00 local, around midnight.
    const MIDNIGHT_NY = Date.UTC(2025, 2, 10, 4, 0, 0) / 1000;
    const step = fc.oneof(
      fc.record({ kind: fc.constant('edit' as const), who: fc.nat(4), advance: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ kind: fc.constant('cycle' as const) }),
      fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 900 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -3600, max: 3600 }), fc.array(step, { minLength: 3, maxLength: 14 }), async (start, steps) => {
        await h.resetAll();
        await clock({ freeze: true, set: MIDNIGHT_NY + start });
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await createContact(i));
        await clock({ advance_seconds: DELAY + 1 });
        const engine = h.engine({ lookbackSeconds: LOOKBACK });
        await engine.pullContacts({});
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'edit') {
            await clock({ advance_seconds: s.advance });
            await h.control('PATCH', `/contacts/${ids[s.who]}`, { name: `v${++n}` });
          } else if (s.kind === 'advance') await clock({ advance_seconds: s.seconds });
          else await engine.pullContacts({});
        }
        // Once the last change is searchable, at most two cycles bring everything in.
        await clock({ advance_seconds: DELAY + 1 });
        await engine.pullContacts({});
        await engine.pullContacts({});
        const remote = await remoteNames(ids);
        const local = await localNames();
        for (const id of ids) expect(local.get(id)).toBe(remote.get(id));
      }),
      { numRuns: 12 },
    );
    await clock({ freeze: false });
  });

  it('spends at most ceil(N/150) + 2 searches for N changes, 1–2 with none, and never enqueues outbox rows', async () => {
    await h.resetAll();
    await clock({ freeze: true, set: Date.UTC(2025, 5, 1, 15, 0, 0) / 1000 });
    await h.control('POST', '/seed', { contacts: 400, companies: 20 });
    const engine = h.engine({ lookbackSeconds: LOOKBACK });
    const first = await engine.pullContacts({});
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts`))[0].n).toBe(400);
    expect(first.counts.created).toBe(400);

    const listed = (await h.control('GET', '/contacts?email=user000001@example.com')).data;
    expect(listed.length).toBe(1);
    // N changed contacts an hour later, spread over ten minutes.
    const all = await h.q<{ intercom_id: string }>(`SELECT intercom_id FROM intercom.contacts ORDER BY id`);
    await clock({ advance_seconds: 3600 });
    const N = 320;
    for (let i = 0; i < N; i++) {
      if (i % 40 === 0) await clock({ advance_seconds: 60 });
      await h.control('PATCH', `/contacts/${all[i]!.intercom_id}`, { name: `changed ${i}` });
    }
    await clock({ advance_seconds: DELAY + 1 });
    await h.control('DELETE', '/stats');
    const cycle = await engine.pullContacts({});
    const searches = await h.searchRequests();
    expect(cycle.counts.updated).toBe(N);
    expect(searches).toBeLessThanOrEqual(Math.ceil(N / 150) + 2);
    // The run counts its own calls: only the searches. The workspace time zone was kept in sync_state by the first
    // run, so no cycle spends a request of its budget on GET /me, not even in a new process (a new engine below).
    expect(cycle.requests).toBe(searches);

    await h.control('DELETE', '/stats');
    const idle = await h.engine({ lookbackSeconds: LOOKBACK }).pullContacts({});
    expect(await h.searchRequests()).toBeLessThanOrEqual(2);
    expect(idle.requests).toBe(await h.searchRequests());
    expect(idle.counts.updated ?? 0).toBe(0);
    expect(idle.counts.created ?? 0).toBe(0);

    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_outbox`))[0].n).toBe(0);
    console.log(`[pull cost] N=${N}: ${searches} search requests (bound ${Math.ceil(N / 150) + 2}); idle cycle: ${idle.requests}`);
    await clock({ freeze: false });
  });
});
