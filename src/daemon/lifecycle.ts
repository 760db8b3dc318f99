import type { Logger } from 'pino';
import { within } from '../sleep.ts';

/**
 * Bounded, idempotent shutdown. Resources are registered as they are acquired and released in reverse order;
 * each release gets its own time limit so one stuck close (a dead socket, a hung pool) cannot hold the process.
 * stop() called twice returns the same promise.
 */
export interface Lifecycle {
  /** Registers a release step; steps run in reverse order of registration. */
  defer(name: string, release: () => Promise<void> | void, timeoutMs?: number): void;
  stop(reason: string): Promise<void>;
  stopping(): boolean;
}

export function createLifecycle(opts: { logger: Logger; stepTimeoutMs?: number }): Lifecycle {
  const log = opts.logger.child({ module: 'lifecycle' });
  const steps: { name: string; release: () => Promise<void> | void; timeoutMs: number }[] = [];
  let stopped: Promise<void> | null = null;
  return {
    defer(name, release, timeoutMs = opts.stepTimeoutMs ?? 5000) {
      if (stopped) throw new Error(`cannot register ${name}: shutdown already started`);
      steps.push({ name, release, timeoutMs });
    },
    stopping: () => stopped !== null,
    stop(reason) {
      return (stopped ??= (async () => {
        log.info({ reason }, 'shutting down');
        for (const step of steps.reverse()) {
          try {
            const r = await within(Promise.resolve().then(step.release), step.timeoutMs);
            if (r === 'timeout') log.warn({ step: step.name, timeoutMs: step.timeoutMs }, 'release step timed out');
          } catch (err) {
            log.error({ err, step: step.name }, 'release step failed');
          }
        }
        log.info('shutdown complete');
      })());
    },
  };
}

/**
 * SIGTERM/SIGINT: the first asks for a graceful stop, the second forces it. Returns a function that removes the
 * handlers. Only entry points install this, since only they may decide to exit.
 */
export function onShutdownSignals(handlers: {
  graceful: (signal: NodeJS.Signals) => void;
  force: (signal: NodeJS.Signals) => void;
}): () => void {
  let received = 0;
  const handler = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received === 1) handlers.graceful(signal);
    else handlers.force(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
