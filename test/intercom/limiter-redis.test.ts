import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RateLimiterUnavailableError } from '../../src/errors.ts';
import { atWindowStart, harness, perMinuteFor, type Harness } from './helpers.ts';

// Two processes with one Redis-backed limiter spend one budget together: 8 per window, never more. The windows are
// 5 s here, not the other limiter tests' 2 s: through Redis each dispatch costs round trips in two processes, and a
// busy machine must still fill every window.
const BUDGET = 8;
const WINDOW_MS = 5_000;
const RATE = perMinuteFor(BUDGET, WINDOW_MS);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const limiterId = `test-intercom-${randomUUID()}`;
let h: Harness;
let redis: Redis;

beforeAll(async () => {
  h = await harness({ rateLimitPerMinute: RATE, rateWindowSeconds: WINDOW_MS / 1000, seedContacts: 5 });
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

/** Starts the worker; resolves once it has loaded, with `go()` to start its calls and `done` for what it sent. */
function startWorker(calls: number): Promise<{ go(): void; done: Promise<WorkerResult> }> {
  const script = fileURLToPath(new URL('./fixtures/limited-worker.ts', import.meta.url));
  let ready!: () => void;
  let failedEarly!: (err: unknown) => void;
  const loaded = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failedEarly = reject;
  });
  let child!: ReturnType<typeof spawn>;
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        SIM_URL: h.sim.url,
        SIM_TOKEN: h.sim.token,
        RATE: String(RATE),
        WINDOW_MS: String(WINDOW_MS),
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
      if (out.startsWith('ready\n')) ready();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as WorkerResult);
    });
  });
  done.catch(failedEarly);
  return loaded.then(() => ({ go: () => child.stdin!.end('go\n'), done }));
}

it('keeps two processes sharing Redis within one window budget, with zero 429s', async () => {
  const worker = await startWorker(BUDGET + 3);
  await atWindowStart(WINDOW_MS);
  const local = h.gateway({ ratePerMinute: RATE, windowMs: WINDOW_MS, redisUrl: REDIS_URL, limiterId });
  worker.go();
  const [mine, theirs] = await Promise.all([
    Promise.allSettled(Array.from({ length: BUDGET + 3 }, () => local.listContacts({ perPage: 1 }, 'pull'))),
    worker.done,
  ]);
  expect(mine.filter((r) => r.status === 'rejected')).toEqual([]);
  expect(theirs.failed).toBe(0);
  expect(await redis.exists(`b_${limiterId}_settings`)).toBe(1);

  const stats = await h.stats();
  expect(stats.total).toBe(2 * (BUDGET + 3));
  expect(stats.rate_limited).toBe(0);

  const all = [...h.records.map((r) => r.at.getTime()), ...theirs.records.map((r) => r.at)];
  const byWindow = new Map<number, number>();
  for (const at of all) byWindow.set(Math.floor(at / WINDOW_MS), (byWindow.get(Math.floor(at / WINDOW_MS)) ?? 0) + 1);
  const counts = [...byWindow.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  expect(Math.max(...counts)).toBeLessThanOrEqual(BUDGET);
  // Both processes had a backlog until the last window, so the earlier windows were used to the full budget.
  expect(counts.slice(0, -1)).toEqual(counts.slice(0, -1).map(() => BUDGET));
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
