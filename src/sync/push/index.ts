/**
 * The push engine: drains the outbox into Intercom. Claims due entries in batches (FOR UPDATE SKIP LOCKED + lease),
 * runs up to `concurrency` entities at once (the gateway's limiter owns the request rate), and wakes on the
 * outbox NOTIFY as well as on its poll interval so a local change leaves within a second when the budget is free.
 */
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { IntercomAuthError } from '../../errors.ts';
import { sleep } from '../../sleep.ts';
import { countOutcome, type RunSummary } from '../outcome.ts';
import { AttributeCatalog } from './attributes.ts';
import { DEFAULT_WRITE_DOUBT_WINDOW_SECONDS } from './doubt.ts';
import type { PushConfig, PushContext } from './context.ts';
import { planPending, type PushPlan } from './plan.ts';
import type { OutboxEntry, PushGatewayPort, PushStorePort } from './ports.ts';
import { processEntry, type EntryResult } from './process-entry.ts';
import { countingGateway } from '../request-counter.ts';

export type { PushConfig } from './context.ts';
export type { PushGatewayPort, PushStorePort, OutboxEntry } from './ports.ts';
export type { PushPlan } from './plan.ts';

/** The process this engine runs in, injected by the caller (src/daemon/host.ts) so sync/ never touches the OS. */
export interface WorkerHost {
  name: string;
  pid: number;
  /** False only when the pid certainly names no process on this host. */
  isRunning(pid: number): boolean;
}

export interface PushDeps {
  gateway: PushGatewayPort;
  store: PushStorePort;
  logger: Logger;
  config: PushConfig;
  host: WorkerHost;
  /**
   * Why Intercom refuses the token right now, if it does (the gateway's own state). A round that had nothing to send
   * while the token is refused is reported halted too, so no run during a halt reads as a success.
   */
  tokenRefused?: () => string | null;
  /** The gateway's Little's-law estimate; without it the engine runs `config.concurrency` entities at once. */
  budget?: BudgetPort;
}

/** What the push needs to size its concurrency from the budget: the gateway's in-flight target. */
export interface BudgetPort {
  inFlightTarget(): number;
}

export interface PushEngine {
  drainOnce(opts?: { signal?: AbortSignal; runId?: number | null; max?: number }): Promise<RunSummary>;
  runLoop(opts: {
    signal: AbortSignal;
    listen: (onNotify: () => void) => Promise<() => Promise<void>>;
    pollIntervalMs?: number;
    onRun?: (s: RunSummary) => void;
  }): Promise<void>;
  plan(opts?: { includeUnlinked?: boolean; limit?: number }): Promise<PushPlan>;
  requeueDead(filter?: { entityType?: string; localIds?: number[] }): Promise<number>;
  isHalted(): IntercomAuthError | null;
  /**
   * Shutdown: every drain (push loop and outbox sweep alike) stops claiming at once and gives back the entries it
   * claimed but has not started; entries in flight get `graceMs` to finish, then their leases are released too and
   * the drains return without them. Idempotent.
   */
  shutdown(graceMs: number): Promise<void>;
}

const PUSH_METHODS = {
  getContact: true,
  findContactByExternalId: true,
  searchContacts: true,
  createContact: true,
  updateContact: true,
  deleteContact: true,
  archiveContact: true,
  unarchiveContact: true,
  mergeContacts: true,
  attachCompany: true,
  detachCompany: true,
  upsertCompany: true,
  deleteCompany: true,
  listDataAttributes: true,
  createDataAttribute: true,
} as const satisfies Record<keyof PushGatewayPort, true>;

/** Worker ids name their host and process, so a successor can tell a crashed local worker from a live one. */
function localWorkerId(host: WorkerHost, suffix: string): string {
  return `push:${host.name}:${host.pid}:${suffix}`;
}

function isDeadLocalWorker(host: WorkerHost, workerId: string): boolean {
  const [kind, name, pid] = workerId.split(':');
  if (kind !== 'push' || name !== host.name || !pid || !/^\d+$/.test(pid)) return false;
  return !host.isRunning(Number(pid));
}

export function createPushEngine(deps: PushDeps): PushEngine {
  const log = deps.logger.child({ module: 'push' });
  const workerId = deps.config.workerId ?? localWorkerId(deps.host, randomUUID().slice(0, 8));
  const leaseSeconds = deps.config.leaseSeconds ?? 120;
  const attributes = new AttributeCatalog(deps.gateway, deps.config.autoCreateAttributes);
  let halted: IntercomAuthError | null = null;
  // Shutdown state shared by every drain of this engine (see shutdown()).
  const stopping = new AbortController();
  let abandon: () => void = () => undefined;
  const abandoned = new Promise<void>((resolve) => (abandon = resolve));
  let abandonedNow = false;
  const drains = new Set<Promise<unknown>>();
  let shutdownDone: Promise<void> | null = null;

  /**
   * Entries a SIGKILLed worker had claimed stay locked until their lease expires (minutes). When that worker ran on
   * this host and its process is gone, its leases are ended at once. Workers elsewhere are left to their lease.
   */
  async function releaseLeasesOfDeadLocalWorkers(): Promise<void> {
    const dead = (await deps.store.leaseHolders()).filter((w) => w !== workerId && isDeadLocalWorker(deps.host, w));
    if (dead.length === 0) return;
    const n = await deps.store.releaseWorkers(dead);
    log.warn({ workers: dead, entries: n }, 'released outbox leases held by push workers whose process has ended');
  }

  /**
   * Ends this worker's leases on entries it will not finish. The reason is often a lost database connection (a leader
   * stepping down after its sessions were terminated), and a release that fails leaves the entries leased —
   * unclaimable by anyone, this process included — for the whole lease (chaos seeds 7 and 8: two minutes, past the
   * settle bound). The pool opens new connections, so the release is tried again for a few seconds first.
   */
  async function giveBack(entries: readonly OutboxEntry[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.store.release(entries, workerId);
      } catch (err) {
        if (attempt >= 6) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  let lastExpiryMs = 0;
  /** Update doubts older than the window are forgotten (at most once a minute: one small DELETE). */
  async function expireDoubts(): Promise<void> {
    const now = Date.now();
    if (now - lastExpiryMs < 60_000) return;
    lastExpiryMs = now;
    const n = await deps.store.expireWriteDoubts(deps.config.writeDoubtWindowSeconds ?? DEFAULT_WRITE_DOUBT_WINDOW_SECONDS);
    if (n > 0) log.info({ expired: n }, 'forgot update doubts older than WRITE_DOUBT_WINDOW_SECONDS');
  }

  function drainOnce(opts: { signal?: AbortSignal; runId?: number | null; max?: number } = {}): Promise<RunSummary> {
    const p = drain(opts);
    drains.add(p);
    void p.finally(() => drains.delete(p)).catch(() => undefined);
    return p;
  }

  async function drain(opts: { signal?: AbortSignal; runId?: number | null; max?: number }): Promise<RunSummary> {
    const signal = opts.signal ? AbortSignal.any([opts.signal, stopping.signal]) : stopping.signal;
    const counted = countingGateway(deps.gateway, PUSH_METHODS);
    const ctx: PushContext = {
      gateway: counted.gateway,
      store: afterAbandonment(deps.store),
      log,
      config: deps.config,
      workerId,
      runId: opts.runId ?? null,
      attributes,
    };
    const summary: RunSummary = { counts: {}, requests: 0 };
    // Each round asks the gateway again: it refuses without a request until its GET /me probe finds the token works.
    halted = null;
    await releaseLeasesOfDeadLocalWorkers();
    await expireDoubts();
    const tally = { dead: 0, deferred: 0, retried: 0, stale: 0, claimed: 0 };
    // PUSH_CONCURRENCY is an upper limit; below it the budget decides: at 10,000/min and 300 ms a round trip, ~50
    // entities must be in flight to spend it, at 500/min about 4 (Little's law, measured latency).
    const concurrency = () => Math.max(1, Math.min(deps.config.concurrency, deps.budget?.inFlightTarget() ?? deps.config.concurrency));
    const queue = new PQueue({ concurrency: concurrency() });
    const max = opts.max ?? Number.POSITIVE_INFINITY;

    const record = (r: EntryResult) => {
      switch (r.kind) {
        case 'done':
          countOutcome(summary.counts, r.outcome);
          break;
        case 'dead':
          tally.dead++;
          countOutcome(summary.counts, r.outcome);
          break;
        case 'deferred':
          tally.deferred++;
          break;
        case 'retry':
          tally.retried++;
          countOutcome(summary.counts, 'failed');
          break;
        case 'stale':
          tally.stale++;
          countOutcome(summary.counts, 'skipped');
          break;
        case 'halt':
          if (!halted) {
            halted = r.error;
            log.warn({ err: r.error.message }, 'Intercom refuses the access token: push round halted; the next round re-checks');
          }
          break;
      }
    };

    // Claimed and not started yet: on abort these are given back at once, in one statement, not one by one as the
    // queue reaches them (which waits for the entries in flight).
    const notStarted = new Set<OutboxEntry>();
    const releaseNotStarted = () => {
      const entries = [...notStarted];
      notStarted.clear();
      return giveBack(entries);
    };
    // Everything claimed and not yet finished, queued or in flight. Its leases are renewed while we hold it: a
    // claim can wait behind the limiter (a 429 pause, a full budget) longer than a lease, and an expired lease lets
    // another worker write the same entity a second time.
    const held = new Set<OutboxEntry>();
    const renewal = setInterval(() => {
      if (held.size === 0) return;
      deps.store
        .extendLeases([...held], workerId, leaseSeconds)
        .catch((err: unknown) => log.warn({ err }, 'could not renew outbox leases; they may expire and be claimed again'));
    }, Math.max(250, (leaseSeconds * 1000) / 3));
    renewal.unref?.();
    let releasing: Promise<void> = Promise.resolve();
    const onAbort = () => {
      releasing = releaseNotStarted().catch((err: unknown) => log.error({ err }, 'could not release unstarted outbox entries'));
    };
    // Both listeners go when the round ends, however it ends: the daemon's stop signal outlives every round, and a
    // listener left on it per round grew without bound (Node's MaxListenersExceededWarning after ten rounds).
    let onAborted = (): void => undefined;
    const abortedP = new Promise<void>((resolve) => {
      onAborted = resolve;
    });
    signal.addEventListener('abort', onAbort, { once: true });
    signal.addEventListener('abort', onAborted, { once: true });
    try {
      const run = async (entry: OutboxEntry) => {
        try {
          if (!notStarted.delete(entry)) return; // released by the abort
          if (halted || signal.aborted) {
            await deps.store.release([entry], workerId);
            return;
          }
          try {
            record(await processEntry(ctx, entry));
          } catch (err) {
            // The database failed under us (finish, retry bookkeeping). The entry goes back at once rather than when its
            // lease runs out (two minutes: chaos seed 14 outlived its settle bound that way): its writes are recorded as
            // doubts before they are sent, so the next round resolves what this one may have done instead of redoing it.
            log.error({ err, entry: entry.id }, 'could not record the result of an outbox entry');
            countOutcome(summary.counts, 'failed');
            await giveBack([entry]).catch(() => undefined);
          }
        } finally {
          held.delete(entry);
        }
      };

      const batches: Promise<unknown>[] = [];
      while (!halted && !signal.aborted && tally.claimed < max) {
        // Keep the workers fed without hoarding leases: claim the next batch once the queue runs low.
        queue.concurrency = concurrency();
        // Waiting for room must not outlast an abort: in-flight entries may be stuck behind the limiter.
        if (queue.size >= queue.concurrency) await Promise.race([queue.onSizeLessThan(queue.concurrency), abortedP]);
        if (halted || signal.aborted) break;
        // A batch at least as large as the in-flight target, or the queue would run dry between claims.
        const room = Math.min(Math.max(deps.config.batchSize, queue.concurrency), max - tally.claimed);
        const batch = await deps.store.claim(workerId, room, leaseSeconds);
        for (const e of batch) {
          notStarted.add(e);
          held.add(e);
        }
        // A claim that was under way when the signal came: its entries go back with the rest.
        if (signal.aborted) {
          await releaseNotStarted();
          break;
        }
        if (batch.length === 0) {
          // In-flight entries may hand work back (a newer version, a stale base): look again once they settle.
          if (queue.size + queue.pending === 0) break;
          await Promise.race([queue.onIdle(), abortedP]);
          continue;
        }
        tally.claimed += batch.length;
        // Entities first, then the associations that need their links: no attach waits a round for a create.
        const entities = batch.filter((e) => e.entityType !== 'contact_company');
        const associations = batch.filter((e) => e.entityType === 'contact_company');
        batches.push(
          queue
            .addAll(entities.map((e) => () => run(e)))
            .then(() => queue.addAll(associations.map((e) => () => run(e)))),
        );
      }
      // On shutdown, entries still in flight after the grace are left behind: shutdown() releases their leases.
      await Promise.race([Promise.all(batches).then(() => queue.onIdle()), abandoned]);
      await releasing;
      summary.requests = counted.requests();
      summary.details = { ...tally, workerId };
      const refused = halted ? (halted as IntercomAuthError).message : (deps.tokenRefused?.() ?? null);
      if (refused) summary.halted = refused;
      return summary;
    } finally {
      clearInterval(renewal);
      signal.removeEventListener('abort', onAbort);
      signal.removeEventListener('abort', onAborted);
    }
  }

  /**
   * Entries abandoned at shutdown keep running in the background until the process exits; what they report after
   * their lease was released is most likely our own shutdown (the gateway closing), so a failure is not recorded
   * against them (no attempt counted, no dead letter). A success is still recorded: the write did happen.
   */
  function afterAbandonment(store: PushStorePort): PushStorePort {
    return {
      ...store,
      retryLater: (entry, w, o) => (abandonedNow ? Promise.resolve() : store.retryLater(entry, w, o)),
      dead: (entry, w, error, details, audit) => (abandonedNow ? Promise.resolve() : store.dead(entry, w, error, details, audit)),
    };
  }

  function shutdown(graceMs: number): Promise<void> {
    return (shutdownDone ??= (async () => {
      stopping.abort(new Error('push engine shutting down'));
      const inFlight = Promise.allSettled([...drains]).then(() => 'done' as const);
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([inFlight, timer])) === 'timeout') {
        abandonedNow = true;
        abandon();
        const n = await deps.store.releaseWorkers([workerId]);
        log.warn({ graceMs, released: n }, 'push entries still in flight at the shutdown deadline: leases released');
      }
    })());
  }

  async function runLoop(opts: Parameters<PushEngine['runLoop']>[0]): Promise<void> {
    const pollMs = opts.pollIntervalMs ?? 5_000;
    let woken = false;
    let wake: (() => void) | null = null;
    const notify = () => {
      woken = true;
      wake?.();
    };
    const unlisten = await opts.listen(notify);
    const onAbort = () => wake?.();
    opts.signal.addEventListener('abort', onAbort);
    try {
      // A refused token does not end the loop: each round is refused by the gateway without a request until its probe
      // finds the token accepted again, so a restored token resumes pushing without a restart.
      while (!opts.signal.aborted) {
        woken = false;
        try {
          const s = await drainOnce({ signal: opts.signal });
          if (Object.keys(s.counts).length > 0 || s.requests > 0) opts.onRun?.(s);
        } catch (err) {
          log.error({ err }, 'push round failed; backing off');
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Math.min(pollMs, 5_000));
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          continue;
        }
        // A notification that arrived while we drained means there may be work we did not claim yet.
        if ((woken && !halted) || opts.signal.aborted) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      wake = null;
      await unlisten();
    }
  }

  return {
    drainOnce,
    runLoop,
    plan: (opts = {}) =>
      planPending(deps.store, { includeUnlinked: opts.includeUnlinked ?? false, limit: opts.limit ?? 100_000, deleteMode: deps.config.deleteMode }),
    requeueDead: (filter = {}) => {
      // The operator fixed something (maybe created a data attribute in Intercom): forget what we cached about it.
      attributes.invalidate();
      return deps.store.requeueDead(filter, null);
    },
    isHalted: () => halted,
    shutdown,
  };
}
