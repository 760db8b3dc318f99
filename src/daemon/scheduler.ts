import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { RunKind, RunSummary } from '../sync/outcome.ts';
import type { FinishedRun, RunContext, RunTracker } from './run-tracker.ts';
import { within } from '../sleep.ts';

/**
 * The leader's cron jobs. A job never overlaps itself: node-cron skips a tick while the previous run is busy, and a
 * flag of our own covers runs started by hand (runNow). Every run is recorded through the run tracker and gets the
 * scheduler's abort signal. The scheduler can be started and stopped repeatedly, as leadership comes and goes.
 */
export interface JobSpec {
  name: string;
  cron: string;
  kind: RunKind;
  run(ctx: RunContext): Promise<RunSummary>;
}

export interface Scheduler {
  start(): void;
  running(): boolean;
  /** Runs a job now unless it is already running; null when skipped. */
  runNow(name: string): Promise<FinishedRun | null>;
  /**
   * Stops ticking, lets in-flight runs finish for up to `graceMs`, then aborts them and waits briefly for them to
   * record their end. Idempotent while stopped.
   */
  stop(graceMs: number): Promise<void>;
}

export interface SchedulerOptions {
  jobs: readonly JobSpec[];
  tracker: RunTracker;
  logger: Logger;
  timezone?: string;
  /** How long aborted runs get to wind down and record themselves. Default 5 s. */
  abortGraceMs?: number;
}

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const log = opts.logger.child({ module: 'scheduler' });
  for (const job of opts.jobs) {
    if (!cron.validate(job.cron)) throw new Error(`job ${job.name}: invalid cron expression "${job.cron}"`);
  }
  const inFlight = new Map<string, Promise<FinishedRun>>();
  let tasks: ScheduledTask[] = [];
  let controller: AbortController | null = null;
  let stopping: Promise<void> | null = null;

  function execute(job: JobSpec): Promise<FinishedRun> | null {
    if (!controller || controller.signal.aborted) return null;
    if (inFlight.has(job.name)) {
      log.debug({ job: job.name }, 'previous run still busy: skipping this tick');
      return null;
    }
    const p = opts.tracker.track(job.kind, controller.signal, (ctx) => job.run(ctx), { job: job.name }).finally(() => {
      inFlight.delete(job.name);
    });
    inFlight.set(job.name, p);
    return p;
  }

  const cronLogger = toCronLogger(log);

  return {
    start() {
      if (controller) return;
      stopping = null;
      controller = new AbortController();
      tasks = opts.jobs.map((job) =>
        cron.createTask(
          job.cron,
          async () => {
            await execute(job);
          },
          {
            name: `intercom-sync:${job.name}`,
            noOverlap: true,
            logger: cronLogger,
            ...(opts.timezone ? { timezone: opts.timezone } : {}),
          },
        ),
      );
      for (const t of tasks) void t.start();
      log.info({ jobs: opts.jobs.map((j) => ({ name: j.name, cron: j.cron })) }, 'schedules started');
    },
    running: () => controller !== null,
    async runNow(name) {
      const job = opts.jobs.find((j) => j.name === name);
      if (!job) throw new Error(`no job named ${name}`);
      const p = execute(job);
      return p ? await p : null;
    },
    stop(graceMs) {
      return (stopping ??= (async () => {
        const c = controller;
        if (!c) return;
        const stopped = tasks;
        tasks = [];
        for (const t of stopped) await t.stop();
        const pending = [...inFlight.values()];
        if (pending.length > 0) {
          log.info({ runs: [...inFlight.keys()], graceMs }, 'waiting for in-flight runs');
          if ((await within(Promise.all(pending), graceMs)) === 'timeout') {
            log.warn({ runs: [...inFlight.keys()] }, 'in-flight runs did not finish in time: aborting them');
            c.abort(new Error('scheduler stopping'));
            await within(Promise.all(pending), opts.abortGraceMs ?? 5000);
          }
        }
        c.abort(new Error('scheduler stopped'));
        for (const t of stopped) await t.destroy();
        controller = null;
        log.info('schedules stopped');
      })());
    },
  };
}

function toCronLogger(log: Logger): CronLogger {
  return {
    info: (m) => log.debug(m),
    // A skipped tick while the previous run is busy is the designed behaviour, not something to warn about.
    warn: (m) => (/overlap/i.test(m) ? log.debug(m) : log.warn(m)),
    error: (m, err) => log.error({ err: err ?? m }, typeof m === 'string' ? m : 'cron error'),
    debug: (m, err) => log.debug({ err }, typeof m === 'string' ? m : 'cron debug'),
  };
}
