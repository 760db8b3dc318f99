import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RateLimiterUnavailableError } from '../../src/errors.ts';
import type { LimiterState } from '../../src/intercom/limiter.ts';
import { harness, nextWindowAt, perMinuteFor, perSimWindow, RESET_GUARD_MS, simWindowAt, track, until, type Harness } from './helpers.ts';

// Two processes with one Redis-backed limiter spend one budget together: 8 per window, never more. The windows (5 s)
// run on manual clocks, the simulator's and both processes', which the test steps together once a window is spent.
const BUDGET = 8;
const WINDOW_MS = 5_000;
const RATE = perMinuteFor(BUDGET, WINDOW_MS);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const limiterId = `test-intercom-${randomUUID()}`;
let h: Harness;
let redis: Redis;

beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: RATE, rateWindowSeconds: WINDOW_MS / 1000, seedContacts: 5 }, { manualClock: true });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await h.close();
  const keys = await redis.keys(`b_${limiterId}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

interface WorkerResult {
  failed: number;
  records: { at: number; status: number | null }[];
}

interface Worker {
  go(): void;
  /** Moves the worker's clock to `ms`; resolves once it has, or once the worker is done anyway. */
  advanceTo(ms: number): Promise<void>;
  /** The worker's limiter state; null once it is done. */
  state(): Promise<LimiterState | null>;
  done: Promise<WorkerResult>;
}

/** Starts the worker; resolves once it has loaded. */
function startWorker(calls: number): Promise<Worker> {
  const script = fileURLToPath(new URL('./fixtures/limited-worker.ts', import.meta.url));
  let ready!: () => void;
  let failedEarly!: (err: unknown) => void;
  const loaded = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failedEarly = reject;
  });
  const acks = new Map<string, () => void>();
  let onState: ((s: LimiterState | null) => void) | null = null;
  let child!: ReturnType<typeof spawn>;
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        SIM_URL: h.sim.url,
        SIM_TOKEN: h.sim.token,
        RATE: String(RATE),
        WINDOW_MS: String(WINDOW_MS),
        CLOCK_MS: String(h.clock!.now()),
        REDIS_URL,
        LIMITER_ID: limiterId,
        CALLS: String(calls),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      for (const line of lines.slice(0, -1)) {
        if (line === 'ready') ready();
        if (line.startsWith('state ')) onState?.(JSON.parse(line.slice('state '.length)) as LimiterState | null);
        acks.get(line)?.();
        acks.delete(line);
      }
      if (lines.length > 1) out = lines.at(-1)!;
      result = lines.slice(0, -1).findLast((l) => l.startsWith('{')) ?? result;
    });
    let result: string | undefined;
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0 || result === undefined) reject(new Error(`worker exited ${code}: ${err}`));
      else resolve(JSON.parse(result) as WorkerResult);
    });
  });
  done.catch(failedEarly);
  return loaded.then(() => ({
    go: () => child.stdin!.write('go\n'),
    advanceTo: (ms) =>
      Promise.race([
        new Promise<void>((resolve) => {
          acks.set(`at ${ms}`, resolve);
          if (child.stdin!.writable) child.stdin!.write(`at ${ms}\n`);
        }),
        done.then(
          () => undefined,
          () => undefined,
        ),
      ]),
    state: () =>
      Promise.race([
        new Promise<LimiterState | null>((resolve) => {
          onState = resolve;
          if (child.stdin!.writable) child.stdin!.write('state\n');
        }),
        done.then(
          () => null,
          () => null,
        ),
      ]),
    done,
  }));
}

it('keeps two processes sharing Redis within one window budget, with zero 429s', async () => {
  const clock = h.clock!;
  const calls = BUDGET + 3;
  const worker = await startWorker(calls);
  const local = h.gateway({ ratePerMinute: RATE, windowMs: WINDOW_MS, redisUrl: REDIS_URL, limiterId });
  const first = simWindowAt(clock.now(), WINDOW_MS / 1000);
  worker.go();
  const mine = track(Array.from({ length: calls }, () => local.listContacts({ perPage: 1 }, 'pull')));
  let theirsDone = false;
  void worker.done.finally(() => (theirsDone = true)).catch(() => undefined);
  // Both processes had a backlog until the last window: each window must fill to the budget before the clocks move.
  // The clocks move once every answer is in, in two steps: all three into the next window first, then past its
  // start, where the refill timers fire. No process then counts an answer of the old window against the new budget,
  // or still counts the old window while another already spends the new one.
  for (;;) {
    const window = simWindowAt(clock.now(), WINDOW_MS / 1000);
    await until(
      async () => {
        if (mine.pending() === 0 && theirsDone) return true;
        if ((perSimWindow(await h.requests()).get(window)?.total ?? 0) < BUDGET) return false;
        return local.limiterState().running === 0 && ((await worker.state())?.running ?? 0) === 0;
      },
      () => `window ${window} filling; ${mine.pending()} of ours open, worker done ${theirsDone}`,
    );
    if (mine.pending() === 0 && theirsDone) break;
    const next = nextWindowAt(clock, local, WINDOW_MS);
    const inside = next - RESET_GUARD_MS / 2;
    clock.advanceTo(inside); // the simulator's clock and ours
    await worker.advanceTo(inside);
    clock.advanceTo(next);
    await worker.advanceTo(next);
  }
  const [results, theirs] = await Promise.all([mine.settled, worker.done]);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  expect(theirs.failed).toBe(0);
  expect(await redis.exists(`b_${limiterId}_settings`)).toBe(1);

  const stats = await h.stats();
  expect(stats.total).toBe(2 * calls);
  expect(stats.rate_limited).toBe(0);

  const windows = perSimWindow(await h.requests());
  const step = WINDOW_MS / 1000;
  expect([...windows.keys()]).toEqual([first, first + step, first + 2 * step]);
  expect([...windows.values()].map((w) => w.ok)).toEqual([BUDGET, BUDGET, 2 * calls - 2 * BUDGET]);
  expect(theirs.records.length).toBeGreaterThan(0);
});

it('fails fast with a retryable error when the shared limiter cannot reach Redis', async () => {
  const g = h.gateway({ redisUrl: 'redis://127.0.0.1:1', limiterId: `${limiterId}-down`, redisConnectTimeoutMs: 300 });
  const before = (await h.stats()).total;
  const err = await g.me().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RateLimiterUnavailableError);
  expect(err).toMatchObject({ retryable: true });
  expect((await h.stats()).total).toBe(before);
  await g.close();
});
