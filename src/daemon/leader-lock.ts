import type { Logger } from 'pino';
import { sessionLock } from '../db/advisory-lock.ts';
import { sleep, within } from '../sleep.ts';

/**
 * One active replica per schema: the leader holds a session-level Postgres advisory lock on a connection of its
 * own. When the leader process dies (even kill -9) Postgres ends its session and frees the lock, and a standby,
 * retrying every `retryMs`, takes over. The leader pings its lock connection on the same period and steps down
 * as soon as that connection is gone, because from then on another replica may already hold the lock.
 */
export type Role = 'starting' | 'standby' | 'leader' | 'stopped';

/** The part of pg.Client the lock needs; a dedicated connection, never one shared with a pool. */
export interface LockConnection {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
}

export interface LeaderLockOptions {
  connect: () => Promise<LockConnection>;
  /** Signed 64-bit advisory key as a decimal string (see advisoryKey in db/advisory-lock.ts). */
  key: string;
  retryMs: number;
  logger: Logger;
  /** Called once leadership is won; the lock loop waits for it, so keep it to starting work, not doing it. */
  onAcquired: () => Promise<void> | void;
  /** Called when leadership is lost while running (not on stop()); must stop all leader-only work. */
  onLost: (reason: string) => Promise<void> | void;
  /** A ping that takes longer than this counts as a lost connection. Default: retryMs, at least 1 s. */
  pingTimeoutMs?: number;
}

export interface LeaderLock {
  role(): Role;
  start(): void;
  /** Ends the loop and releases the lock; idempotent. Stop leader work first: after this another replica may lead. */
  stop(): Promise<void>;
}

export function createLeaderLock(opts: LeaderLockOptions): LeaderLock {
  const log = opts.logger.child({ module: 'leader-lock' });
  const pingTimeoutMs = opts.pingTimeoutMs ?? Math.max(1000, opts.retryMs);
  const stopping = new AbortController();
  let role: Role = 'starting';
  let conn: LockConnection | null = null;
  let connBroken = false;
  // The loop naps between checks; a lost connection or stop() cuts the nap short.
  let nap: AbortController | null = null;
  let wakePending = false;
  const wakeUp = (): void => {
    wakePending = true;
    nap?.abort();
  };
  let loop: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;

  async function openConnection(): Promise<LockConnection> {
    const c = await opts.connect();
    connBroken = false;
    const broken = (err?: Error): void => {
      if (conn !== c || connBroken) return;
      connBroken = true;
      log.warn({ err }, 'leader lock connection lost');
      wakeUp();
    };
    c.on('error', broken);
    c.on('end', broken);
    return c;
  }

  async function dropConnection(): Promise<void> {
    const c = conn;
    conn = null;
    // end() on a dead socket can hang until TCP gives up; do not let it stall the loop or shutdown.
    if (c) await within(c.end().catch(() => undefined), 2000);
  }

  async function tryAcquire(): Promise<boolean> {
    if (!conn || connBroken) {
      await dropConnection();
      conn = await openConnection();
    }
    return sessionLock.tryLock(conn, opts.key);
  }

  async function stillHeld(): Promise<boolean> {
    if (!conn || connBroken) return false;
    const r = await within(
      sessionLock.ping(conn).then(
        () => true,
        () => false,
      ),
      pingTimeoutMs,
    );
    return r === true && !connBroken;
  }

  async function run(): Promise<void> {
    let lastStandbyLog = 0;
    while (!stopping.signal.aborted) {
      // A replica that just lost the lock waits longer than the standbys' retry period before competing again, so
      // a healthy standby takes over rather than the flapping ex-leader winning its own lock back.
      let steppedDown = false;
      try {
        if (role !== 'leader') {
          if (await tryAcquire()) {
            if (stopping.signal.aborted) break;
            role = 'leader';
            log.info('acquired leader lock: this replica now runs the schedules');
            try {
              await opts.onAcquired();
            } catch (err) {
              log.error({ err }, 'failed to start leader work; giving the lock back');
              role = 'standby';
              steppedDown = true;
              await opts.onLost('leader start failed');
              await dropConnection();
            }
          } else {
            if (role !== 'standby' || Date.now() - lastStandbyLog > 60_000) {
              log.info({ retryMs: opts.retryMs }, 'another replica holds the leader lock: standing by');
              lastStandbyLog = Date.now();
            }
            role = 'standby';
          }
        } else if (!(await stillHeld())) {
          role = 'standby';
          steppedDown = true;
          log.error('leader lock connection lost: stepping down');
          await dropConnection();
          await opts.onLost('leader lock connection lost');
        }
      } catch (err) {
        // Database unreachable: a standby keeps trying; a leader cannot be sure it still leads, so it steps down.
        log.warn({ err }, 'leader lock check failed');
        await dropConnection();
        if (role === 'leader') {
          role = 'standby';
          steppedDown = true;
          await opts.onLost('leader lock check failed');
        } else role = 'standby';
      }
      if ((steppedDown || !wakePending) && !stopping.signal.aborted) {
        wakePending = false;
        nap = new AbortController();
        await sleep(steppedDown ? 2 * opts.retryMs : opts.retryMs, nap.signal);
        nap = null;
      }
      wakePending = false;
    }
  }

  return {
    role: () => role,
    start() {
      loop ??= run();
    },
    stop() {
      return (stopped ??= (async () => {
        stopping.abort();
        nap?.abort();
        await loop;
        if (role === 'leader' && conn && !connBroken) {
          await within(sessionLock.unlock(conn, opts.key).catch(() => undefined), 2000);
          log.info('released leader lock');
        }
        role = 'stopped';
        await dropConnection();
      })());
    },
  };
}
