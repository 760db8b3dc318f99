/**
 * The one place that decides when a request to Intercom may leave. Intercom counts a per-minute limit in 10-second
 * windows (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting), so we spend at most limit/6 per window from a Bottleneck reservoir and refill it when the
 * window resets. Other apps share the workspace budget, so the X-RateLimit-* headers of every answer correct our
 * own count, and a 429 empties the reservoir until the reset Intercom announced. With Redis the reservoir lives in
 * Redis (Bottleneck clustering), so several processes spend one budget.
 */
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterUnavailableError } from '../errors.ts';
import type { RateHeaders } from './errors-from-response.ts';

export type Priority = 'scroll' | 'push' | 'pull' | 'backfill' | 'verify';

// Bottleneck runs lower numbers first. The next page of an open company scroll goes before everything: the scroll
// dies after about a minute idle (Intercom's scroll reference: https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/scrolloverallcompanies) and there is one per workspace, so pushes filling the budget must
// not starve it; it is one request per page, so it costs pushes little. Pushes carry local edits users wait for;
// verification sweeps can always wait.
const PRIORITY: Record<Priority, number> = { scroll: 0, push: 1, pull: 3, backfill: 5, verify: 7 };

const PAUSED: unique symbol = Symbol('paused');

/**
 * Where the limiter reads the time and sets its timers. Production uses the system clock. Tests pass a clock they move
 * together with the simulator's, so the window a request lands in depends on the test's steps, not on how fast a busy
 * machine runs.
 */
export interface LimiterClock {
  now(): number;
  /** Calls fn once, delayMs later on this clock. */
  setTimer(fn: () => void, delayMs: number): LimiterTimer;
}

export interface LimiterTimer {
  clear(): void;
  /** Whether the timer keeps the process alive, as Node's ref()/unref(). */
  keepAlive(on: boolean): void;
}

export const systemClock: LimiterClock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const t = setTimeout(fn, delayMs);
    return {
      clear: () => clearTimeout(t),
      keepAlive: (on) => void (on ? t.ref() : t.unref()),
    };
  },
};

export interface LimiterOptions {
  ratePerMinute: number;
  windowMs: number;
  maxConcurrent: number;
  /** Safety net for a job that never settles; Redis would otherwise count it as running forever. */
  jobExpirationMs: number;
  limiterId: string;
  redisUrl?: string | undefined;
  logger: Logger;
  /** How long a call waits for Redis before failing with RateLimiterUnavailableError. Default 5 s. */
  redisConnectTimeoutMs?: number;
  /** Wait this long after a reset before spending the new window, to absorb clock rounding. */
  resetGuardMs?: number;
  random?: () => number;
  /** The clock of the rate windows; the system clock by default. */
  clock?: LimiterClock;
}

export interface LimiterState {
  /** Calls waiting for budget: in the queue, or sitting out a 429 pause. */
  queued: number;
  /** Calls the limiter has released and that have not finished. */
  running: number;
  /** Units left in this window, as last read (exact once nothing runs). */
  reservoir: number | null;
  pausedUntil: number | null;
}

export function windowBudget(ratePerMinute: number, windowMs: number): number {
  // Floor, so we never start above Intercom's allowance (500/min is 83 per 10 s); answers may then raise it a little.
  return Math.max(1, Math.floor((ratePerMinute * windowMs) / 60_000));
}

export class WindowLimiter {
  readonly windowMs: number;
  private readonly budgetCeiling: number;
  private budget: number;
  /** End of the window we are spending, on our clock (aligned to Intercom's reset once an answer tells us). */
  private windowEndsAt: number;
  private pausedUntil: number | null = null;
  private reservoirSeen: number | null;
  /** Bumped by every write of reservoirSeen, so a slow read cannot overwrite a newer value. */
  private seenVersion = 0;
  private refillTimer: LimiterTimer | null = null;
  private pending = 0;
  /** Calls sitting out a 429 pause outside the queue. */
  private sitting = 0;
  private closing: Promise<void> | null = null;
  /** The correction of the reservoir from an answer's X-RateLimit-Remaining in progress; they run one at a time. */
  private lowering: Promise<void> = Promise.resolve();
  private readonly guardMs: number;
  private readonly random: () => number;
  private readonly clock: LimiterClock;
  private readonly log: Logger;
  private readonly bottleneck: Bottleneck;
  private readonly redis: Redis | null = null;
  private readonly connection: Bottleneck.IORedisConnection | null = null;
  private readonly keyPrefix: string;

  constructor(private readonly opts: LimiterOptions) {
    this.windowMs = opts.windowMs;
    this.budget = windowBudget(opts.ratePerMinute, opts.windowMs);
    this.budgetCeiling = Math.ceil((opts.ratePerMinute * opts.windowMs) / 60_000);
    this.reservoirSeen = this.budget;
    this.guardMs = opts.resetGuardMs ?? 100;
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.keyPrefix = `b_${opts.limiterId}`;
    // Windows start on multiples of the window length, as Intercom's and the simulator's do, so that processes
    // sharing Redis agree on window boundaries even before the first answer carries a reset time.
    this.windowEndsAt = (Math.floor(this.clock.now() / this.windowMs) + 1) * this.windowMs;

    const common: Bottleneck.ConstructorOptions = {
      id: opts.limiterId,
      maxConcurrent: opts.maxConcurrent,
      reservoir: this.budget,
      trackDoneStatus: false,
    };
    if (opts.redisUrl) {
      this.redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3 });
      this.connection = new Bottleneck.IORedisConnection({ client: this.redis, Redis });
      // ioredis reports every failed reconnect; one line per 30 s is enough to tell an operator Redis is down.
      let lastLogged = 0;
      this.connection.on('error', (err) => {
        if (Date.now() - lastLogged < 30_000) return;
        lastLogged = Date.now();
        this.log.error({ err }, 'rate limiter Redis error');
      });
      // clearDatastore false: a process joining later must not reset the budget the others are spending.
      this.bottleneck = new Bottleneck({ ...common, datastore: 'ioredis', connection: this.connection, clearDatastore: false });
    } else {
      this.bottleneck = new Bottleneck(common);
    }
    this.bottleneck.on('error', (err) => this.log.error({ err }, 'rate limiter error'));
    this.scheduleRefill(this.windowEndsAt, this.windowEndsAt + this.guardMs);
  }

  /** Resolves once the datastore (Redis) is reachable; local limiters are ready at once. */
  async ready(): Promise<void> {
    await this.bottleneck.ready();
  }

  async schedule<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new Error('Intercom rate limiter is closed');
    if (this.redis && this.redis.status !== 'ready') await this.awaitRedis();
    this.pending++;
    this.refTimer();
    try {
      for (;;) {
        const result = await this.bottleneck.schedule(
          { priority: PRIORITY[priority], expiration: this.opts.jobExpirationMs },
          async (): Promise<T | typeof PAUSED> => {
            // Jobs the queue released just before a 429's pause reached the reservoir go back in line instead of
            // sending into a window Intercom already closed. The unit they took is moot: the refill resets it.
            if (this.pausedUntil !== null && this.clock.now() < this.pausedUntil) return PAUSED;
            return await fn();
          },
        );
        if (result !== PAUSED) return result;
        // Wait out the pause outside the limiter: requeueing at once would spin through units another process may
        // already have refilled.
        const waitMs = Math.max(0, (this.pausedUntil ?? 0) - this.clock.now());
        this.sitting++;
        try {
          await new Promise<void>((resolve) => this.clock.setTimer(resolve, waitMs));
        } finally {
          this.sitting--;
        }
      }
    } finally {
      this.pending--;
      this.refTimer();
      void this.refreshSeen();
    }
  }

  /**
   * Bottleneck waits for Redis forever; a caller should rather learn that the shared budget is unreachable. While
   * Redis is down, calls fail fast with a retryable error and the sync loop backs off.
   */
  private async awaitRedis(): Promise<void> {
    const timeoutMs = this.opts.redisConnectTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      // The losing side of the race must not reject unobserved: a connection closed later fails this promise.
      this.bottleneck.ready().then(
        () => this.redis?.status === 'ready',
        () => false,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!ok) {
      throw new RateLimiterUnavailableError(
        `Redis for the shared Intercom rate limiter is unreachable (status ${this.redis?.status ?? 'none'})`,
      );
    }
  }

  /**
   * Called with the headers of every answer, while the answer's job still counts as running. Our reservoir already
   * counts everything we sent, so when Intercom reports less left than we think, someone else spent it: lower our
   * reservoir to what Intercom reports minus what we still have in flight.
   */
  async observe(rate: RateHeaders): Promise<void> {
    if (this.closing) return;
    // Intercom's own per-window number wins (1,000/min is 167 there, our floor says 166), but never above what the
    // configured per-minute rate allows.
    if (rate.limit !== null && rate.limit > 0) this.budget = Math.min(this.budgetCeiling, rate.limit);
    if (rate.resetAtMs !== null) {
      const drift = rate.resetAtMs - this.windowEndsAt;
      // An answer from the window we already left says nothing about this one.
      if (drift < -this.windowMs / 2) return;
      if (drift > this.windowMs / 2) {
        // Intercom is already counting a later window than the one we spend: our refill is late (clock skew).
        await this.refill(rate.resetAtMs - this.windowMs);
      } else if (drift !== 0 && this.pausedUntil === null) {
        this.windowEndsAt = rate.resetAtMs;
        this.scheduleRefill(rate.resetAtMs, rate.resetAtMs + this.guardMs);
      }
    }
    if (rate.remaining === null) return;
    // One correction at a time: answers observed together each read the same reservoir, and each subtracting its own
    // difference from it took the reservoir below zero, idling the rest of the window.
    const remaining = rate.remaining;
    const lowering = this.lowering.then(() => this.lowerTo(remaining));
    this.lowering = lowering;
    await lowering;
  }

  private async lowerTo(remaining: number): Promise<void> {
    if (this.closing) return;
    try {
      // Read together, so no job is released between the two reads and counted in both. Every job the queue has
      // released counts as in flight, started or not (Bottleneck starts a released job a timer tick later): counting
      // only those already sending left the reservoir one too high when an answer came in that tick, and the job
      // still to send met a 429.
      const [current, released] = await Promise.all([this.bottleneck.currentReservoir(), this.bottleneck.running()]);
      if (current === null || remaining >= current) return;
      const inFlightOthers = Math.max(0, released - 1);
      const target = Math.max(0, remaining - inFlightOthers);
      if (target < current) {
        this.setSeen(await this.bottleneck.incrementReservoir(target - current));
        this.log.debug({ remaining, reservoir: current, lowered: target }, 'window budget spent elsewhere: lowering reservoir');
      }
    } catch (err) {
      this.log.warn({ err }, 'could not adapt rate limiter to response headers');
    }
  }

  /** A 429: nobody sends until the window resets (plus jitter, so waiting processes do not return in step). */
  async rateLimited(resetAtMs: number | null): Promise<void> {
    if (this.closing) return;
    const now = this.clock.now();
    let reset = resetAtMs ?? this.windowEndsAt;
    if (reset < this.windowEndsAt - this.windowMs / 2) return; // a late 429 from a window already refilled
    if (reset < now) reset = now;
    const until = reset + Math.floor(this.random() * 1000);
    this.pausedUntil = Math.max(this.pausedUntil ?? 0, until);
    this.windowEndsAt = reset;
    this.scheduleRefill(reset, this.pausedUntil);
    this.log.warn({ pausedUntil: new Date(this.pausedUntil).toISOString() }, 'Intercom rate limit hit: pausing all callers');
    this.setSeen(0);
    try {
      // bottleneck's typings say updateSettings returns the limiter, but it returns a promise that settles once the
      // (Redis) store has the new reservoir: https://github.com/SGrondin/bottleneck/issues/193
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await this.bottleneck.updateSettings({ reservoir: 0 });
    } catch (err) {
      this.log.warn({ err }, 'could not pause rate limiter');
    }
    void this.refreshSeen();
  }

  /** Requests this window allows us (configured rate, corrected by Intercom's X-RateLimit-Limit). */
  windowBudget(): number {
    return this.budget;
  }

  state(): LimiterState {
    const c = this.bottleneck.counts();
    // Bottleneck counts a job as RUNNING from the moment it takes its unit until it starts (a timer tick later), then
    // EXECUTING: both are released, whether or not the request has left yet. A job just handed over (RECEIVED) is
    // in neither count for the tick it takes to reach the queue.
    return {
      queued: (c.QUEUED ?? 0) + this.sitting,
      running: (c.RUNNING ?? 0) + (c.EXECUTING ?? 0),
      reservoir: this.reservoirSeen,
      pausedUntil: this.pausedUntil,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.refillTimer?.clear();
      this.refillTimer = null;
      try {
        await this.bottleneck.stop({ dropWaitingJobs: true, dropErrorMessage: 'Intercom gateway closed' });
      } catch {
        // stop() rejects when called twice; the first call is the one that matters.
      }
      // Flushing needs a live connection; with Redis down, quitting would wait for a reconnect that never comes.
      const flush = this.redis === null || this.redis.status === 'ready';
      if (this.connection) {
        // Not bottleneck.disconnect(): on a connection we passed in it unsubscribes through a forEach of async
        // callbacks nobody awaits (bottleneck lib/IORedisConnection.js, __removeLimiter__), and when the clients close
        // under them they reject unobserved ("Connection is closed"). The connection's own disconnect clears the
        // heartbeat of every limiter on it and closes both clients.
        await this.connection.disconnect(flush);
      } else {
        await this.bottleneck.disconnect(flush);
      }
    })();
    return this.closing;
  }

  /** Starts the window [windowStart, windowStart + windowMs) with a full reservoir, once across all processes. */
  private async refill(windowStart: number): Promise<void> {
    if (this.closing) return;
    const windowEnd = windowStart + this.windowMs;
    // Already spending this window: a timer and an answer that announced the same reset both got here.
    if (windowEnd <= this.windowEndsAt && this.pausedUntil === null) return;
    this.windowEndsAt = windowEnd;
    this.pausedUntil = null;
    this.scheduleRefill(windowEnd, windowEnd + this.guardMs);
    // Said at once, not after the store answers: until then a reader would take the old window's 0 for this one's.
    this.setSeen(this.budget);
    try {
      if (this.redis) {
        const won = await this.redis.set(`${this.keyPrefix}_refill_${windowStart}`, '1', 'PX', this.windowMs * 6, 'NX');
        if (won !== 'OK') return;
      }
      // bottleneck's typings say updateSettings returns the limiter, but it returns a promise that settles once the
      // (Redis) store has the new reservoir: https://github.com/SGrondin/bottleneck/issues/193
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await this.bottleneck.updateSettings({ reservoir: this.budget });
    } catch (err) {
      this.log.error({ err }, 'could not refill rate limiter');
    }
    void this.refreshSeen();
  }

  private scheduleRefill(windowStart: number, fireAt: number): void {
    if (this.closing) return;
    this.refillTimer?.clear();
    // A refill needs Redis when the budget is shared: with Redis gone (or the limiter closing under it) the write
    // rejects, and a rejection nobody observes would take the process down. Calls meanwhile fail fast (awaitRedis).
    this.refillTimer = this.clock.setTimer(() => {
      this.refill(windowStart).catch((err: unknown) => {
        if (!this.closing) this.log.warn({ err }, 'rate limiter could not start the next window');
      });
    }, Math.max(0, fireAt - this.clock.now()));
    this.refTimer();
  }

  /** The refill timer keeps the process alive only while callers wait on the limiter. */
  private refTimer(): void {
    this.refillTimer?.keepAlive(this.pending > 0);
  }

  private setSeen(reservoir: number | null): void {
    this.seenVersion++;
    this.reservoirSeen = reservoir;
  }

  private async refreshSeen(): Promise<void> {
    if (this.closing) return;
    const version = ++this.seenVersion;
    try {
      const reservoir = await this.bottleneck.currentReservoir();
      if (version === this.seenVersion) this.reservoirSeen = reservoir;
    } catch {
      // Only feeds limiterState(); the next answer refreshes it.
    }
  }
}
