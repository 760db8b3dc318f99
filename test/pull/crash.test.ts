import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { usePullHarness } from './helpers.ts';

const h = usePullHarness();

const WORKER = fileURLToPath(new URL('./fixtures/full-pull-worker.ts', import.meta.url));

describe('crash and resume', () => {
  it('a partitioned full pull killed with SIGKILL mid-way resumes each partition from its committed cursor without loss or duplication', async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 1200, companies: 30 });
    // Slow search pages so the kill lands in the middle of the run.
    await h.control('POST', '/faults', { method: 'POST', path: '/contacts/search', kind: 'latency', latency_ms: 250 });
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, h.db.url, h.sim.url, h.sim.token], { stdio: ['ignore', 'pipe', 'inherit'] });
    const killedAt = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = [...buf.matchAll(/progress (\d+)/g)];
        // A third of the workspace committed: partitions are mid-way, each at its own cursor.
        if (m.length > 0 && Number(m.at(-1)![1]) >= 400) {
          child.kill('SIGKILL');
          resolve(Number(m.at(-1)![1]));
        }
        if (buf.includes('finished')) reject(new Error('worker finished before it could be killed'));
      });
      child.on('error', reject);
    });
    await new Promise((r) => child.once('exit', r));
    await h.control('DELETE', '/faults');

    const [state] = await h.q(`SELECT cursor, details FROM intercom.sync_state WHERE stream = 'backfill:contacts'`);
    expect(state.details.status).toBe('running');
    // Each partition's cursor and progress were committed with its pages.
    const parts = await h.q(`SELECT cursor, details FROM intercom.sync_state WHERE stream LIKE 'backfill:contacts:p:%'`);
    expect(parts.some((p) => p.details.status === "running" && p.cursor !== null), JSON.stringify(parts)).toBe(true);
    const applied = parts.reduce((n, p) => n + (p.details.status === 'split' ? 0 : p.details.items), 0);
    const committed = (await h.q(`SELECT count(*)::int AS n FROM intercom.contacts`))[0].n;
    expect(committed).toBeGreaterThanOrEqual(killedAt);
    expect(committed).toBe(applied);
    expect(committed).toBeLessThan(1200);

    const r = await h.engine().fullPullContacts({ resume: true });
    expect(r.details).toMatchObject({ resumed: true });
    // Only what the killed run had not committed is created now (at most one page is re-read and found unchanged).
    expect((r.counts.created ?? 0) + committed).toBe(1200);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts`))[0].n).toBe(1200);
    expect((await h.q(`SELECT count(DISTINCT intercom_id)::int AS n FROM intercom.sync_mappings WHERE entity_type = 'contact'`))[0].n).toBe(1200);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'create' AND entity_type = 'contact'`))[0].n).toBe(1200);
    expect((await h.q(`SELECT details->>'status' AS s, cursor FROM intercom.sync_state WHERE stream = 'backfill:contacts'`))[0]).toEqual({ s: 'done', cursor: null });
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.sync_state WHERE stream LIKE 'backfill:contacts:p:%'`))[0].n).toBe(0);
  });

  it('an incremental pull aborted mid-run keeps its watermark, and the next run brings everything in once', async () => {
    await h.resetAll();
    await h.control('POST', '/seed', { contacts: 400, companies: 10 });
    const engine = h.engine({ lookbackSeconds: 300 });
    await engine.pullContacts({});
    const [before] = await h.q(`SELECT watermark FROM intercom.sync_state WHERE stream = 'contacts'`);
    const ids = (await h.q(`SELECT intercom_id FROM intercom.contacts ORDER BY id LIMIT 320`)).map((r) => r.intercom_id);
    await h.control('POST', '/clock', { advance_seconds: 3600 });
    for (const id of ids) await h.control('PATCH', `/contacts/${id}`, { name: `after ${id}` });
    const ac = new AbortController();
    // Abort once the first page has been committed.
    const hook = setInterval(() => {
      void h.q(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'after %'`).then(([row]) => {
        if (row.n > 0) ac.abort();
      });
    }, 5);
    await expect(engine.pullContacts({ signal: ac.signal })).rejects.toThrow();
    clearInterval(hook);
    expect((await h.q(`SELECT watermark FROM intercom.sync_state WHERE stream = 'contacts'`))[0].watermark).toEqual(before.watermark);
    const partial = (await h.q(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'after %'`))[0].n;
    const r = await engine.pullContacts({});
    expect(r.counts.updated).toBe(320 - partial);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.contacts WHERE name LIKE 'after %'`))[0].n).toBe(320);
    expect((await h.q(`SELECT count(*)::int AS n FROM intercom.audit_log WHERE action = 'update'`))[0].n).toBe(320);
  });
});
