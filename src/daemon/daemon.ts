import type { Logger } from 'pino';
import { createLeaderLock, type LeaderLockOptions, type Role } from './leader-lock.ts';
import type { Scheduler } from './scheduler.ts';
import { sleep, within } from '../sleep.ts';

/**
 * Leader-only work, switched on and off by the leader lock: the cron schedules and the continuous push loop.
 * A standby runs neither (it keeps serving HTTP). Losing the lock stops the work at once, without a grace period,
 * because another replica may already be doing it.
 */
export interface Daemon {
  role(): Role;
  start(): void;
  /** Stops leader work (in-flight runs get `graceMs` to finish), then releases the lock. Idempotent. */
  stop(graceMs: number): Promise<void>;
}

export interface DaemonOptions {
  lock: Omit<LeaderLockOptions, 'onAcquired' | 'onLost' | 'logger'>;
  scheduler: Scheduler;
  /** The push engine's continuous loop; must return once the signal fires. */
  pushLoop?: (signal: AbortSignal) => Promise<void>;
  /** Runs when leadership is won, before any work starts (e.g. closing runs a dead leader left open). */
  beforeLeading?: () => Promise<void>;
  onRoleChange?: (role: Role) => void;
  logger: Logger;
  /** Pause before restarting a push loop that failed. Default 5 s. */
  pushRestartMs?: number;
}

export function createDaemon(opts: DaemonOptions): Daemon {
  const log = opts.logger.child({ module: 'daemon' });
  let push: { controller: AbortController; done: Promise<void> } | null = null;
  let stopped: Promise<void> | null = null;
  let shuttingDown = false;

  function startPushLoop(): void {
    const pushLoop = opts.pushLoop;
    if (!pushLoop || push) return;
    const controller = new AbortController();
    const done = (async () => {
      while (!controller.signal.aborted) {
        try {
          await pushLoop(controller.signal);
        } catch (err) {
          if (controller.signal.aborted) break;
          log.error({ err }, 'push loop failed; restarting after a pause');
        }
        if (!controller.signal.aborted) await sleep(opts.pushRestartMs ?? 5000, controller.signal);
      }
    })();
    push = { controller, done };
  }

  async function stopPushLoop(graceMs: number): Promise<void> {
    const p = push;
    push = null;
    if (!p) return;
    p.controller.abort(new Error('push loop stopping'));
    if ((await within(p.done, graceMs)) === 'timeout') log.warn({ graceMs }, 'push loop did not stop in time');
  }

  async function stopWork(graceMs: number): Promise<void> {
    await Promise.all([opts.scheduler.stop(graceMs), stopPushLoop(graceMs)]);
  }

  const lock = createLeaderLock({
    ...opts.lock,
    logger: opts.logger,
    onAcquired: async () => {
      // The lock may be won while shutdown is under way; the lock is released right after, so start nothing.
      if (shuttingDown) return;
      await opts.beforeLeading?.();
      opts.scheduler.start();
      startPushLoop();
      opts.onRoleChange?.('leader');
    },
    onLost: async (reason) => {
      log.warn({ reason }, 'lost leadership: stopping leader work now');
      opts.onRoleChange?.('standby');
      await stopWork(0);
    },
  });

  return {
    role: () => lock.role(),
    start() {
      lock.start();
    },
    stop(graceMs) {
      return (stopped ??= (async () => {
        shuttingDown = true;
        await stopWork(graceMs);
        await lock.stop();
        // Work started by an acquisition that raced with the first stopWork ends here.
        await stopWork(0);
        opts.onRoleChange?.('stopped');
      })());
    },
  };
}
