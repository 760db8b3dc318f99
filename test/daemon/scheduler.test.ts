import cron from 'node-cron';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunTracker, type FinishedRun } from '../../src/daemon/run-tracker.ts';
import { createScheduler, type Scheduler } from '../../src/daemon/scheduler.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { silentLogger, waitFor } from './helpers.ts';

let tdb: TestDatabase;
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(schedulers.map((s) => s.stop(0)));
  await tdb.drop();
  // Leak guard: stopping destroys every cron task, none keeps ticking in the background.
  expect(cron.getTasks().size).toBe(0);
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function runsOf(job: string) {
  const { rows } = await tdb.pool.query<{ status: string; error: string | null; details: Record<string, unknown>; counts: Record<string, number> }>(
    `SELECT status, error, details, counts FROM intercom.sync_runs WHERE details->>'job' = $1 ORDER BY id`,
    [job],
  );
  return rows;
}

describe('scheduler', () => {
  it('never overlaps a job with itself and records each run in sync_runs', async () => {
    const finished: FinishedRun[] = [];
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'r1', logger: silentLogger, onFinished: (r) => finished.push(r) });
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let started = 0;
    // Counts the ticks that found the job busy (node-cron's overlap guard logs each one), so the test waits for them
    // instead of sleeping and hoping the ticks fired.
    let skippedTicks = 0;
    const logger = pino({ level: 'debug' }, { write: (line: string) => void (/overlap/.test(line) && skippedTicks++) });
    const s = createScheduler({
      tracker,
      logger,
      jobs: [
        {
          name: 'slow',
          cron: '* * * * * *',
          kind: 'pull_contacts',
          run: async () => {
            started += 1;
            active += 1;
            maxActive = Math.max(maxActive, active);
            await gate.promise;
            active -= 1;
            return { counts: { updated: 2 }, requests: 3 };
          },
        },
      ],
    });
    schedulers.push(s);
    s.start();
    await waitFor('the first run to start', () => started === 1);
    // While it is busy, ticks (and a manual trigger) are skipped rather than stacked.
    expect(await s.runNow('slow')).toBeNull();
    // At least two more per-second ticks fire while the first run is held, and none starts it again.
    await waitFor('two ticks to find the job busy', () => skippedTicks >= 2);
    expect(started).toBe(1);
    gate.resolve();
    await waitFor('the run to be recorded', async () => (await runsOf('slow'))[0]?.status === 'succeeded');
    await s.stop(1000);
    expect(maxActive).toBe(1);
    const [row] = await runsOf('slow');
    expect(row).toMatchObject({ status: 'succeeded', counts: { updated: 2 }, details: { job: 'slow', replica: 'r1' } });
    expect(finished[0]).toMatchObject({ kind: 'pull_contacts', status: 'succeeded' });
  });

  it('records a failing run with its error and keeps scheduling', async () => {
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'r1', logger: silentLogger });
    let calls = 0;
    const s = createScheduler({
      tracker,
      logger: silentLogger,
      jobs: [
        {
          name: 'failing',
          cron: '* * * * * *',
          kind: 'verify',
          run: async () => {
            calls += 1;
            throw new Error(`boom ${calls}`);
          },
        },
      ],
    });
    schedulers.push(s);
    s.start();
    await waitFor('two failed runs', async () => (await runsOf('failing')).filter((r) => r.status === 'failed').length >= 2);
    await s.stop(1000);
    const rows = await runsOf('failing');
    expect(rows[0]).toMatchObject({ status: 'failed', error: 'boom 1' });
  });

  it('on stop lets in-flight work finish within the grace period', async () => {
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'r1', logger: silentLogger });
    let started = false;
    const s = createScheduler({
      tracker,
      logger: silentLogger,
      jobs: [
        {
          name: 'finishes',
          cron: '0 0 1 1 *',
          kind: 'push',
          run: async ({ signal }) => {
            started = true;
            await new Promise((r) => setTimeout(r, 300));
            return { counts: { updated: 1 }, requests: 1, details: { aborted: signal.aborted } };
          },
        },
      ],
    });
    schedulers.push(s);
    s.start();
    const run = s.runNow('finishes');
    await waitFor('the run to start', () => started);
    await s.stop(10_000);
    expect((await run)?.status).toBe('succeeded');
    expect((await runsOf('finishes'))[0]).toMatchObject({ status: 'succeeded', details: { aborted: false } });
  });

  it('aborts in-flight work that outlives the grace period and records it as aborted', async () => {
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'r1', logger: silentLogger });
    let started = false;
    const s = createScheduler({
      tracker,
      logger: silentLogger,
      jobs: [
        {
          name: 'stuck',
          cron: '0 0 1 1 *',
          kind: 'push',
          run: ({ signal }) =>
            new Promise((_resolve, reject) => {
              started = true;
              signal.addEventListener('abort', () => reject(new Error('stopped by signal')), { once: true });
            }),
        },
      ],
    });
    schedulers.push(s);
    s.start();
    const run = s.runNow('stuck');
    await waitFor('the run to start', () => started);
    await s.stop(100);
    expect((await run)?.status).toBe('aborted');
    expect((await runsOf('stuck'))[0]).toMatchObject({ status: 'aborted', error: 'stopped by signal' });
    expect(s.running()).toBe(false);
  });

  it('refuses an invalid cron expression up front', () => {
    const tracker = createRunTracker({ pool: tdb.pool, schema: 'intercom', replicaId: 'r1', logger: silentLogger });
    expect(() =>
      createScheduler({ tracker, logger: silentLogger, jobs: [{ name: 'bad', cron: '61 * * * *', kind: 'push', run: async () => ({ counts: {}, requests: 0 }) }] }),
    ).toThrow(/invalid cron/);
  });
});
