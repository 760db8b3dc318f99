import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { testSeed } from '../harness/seed.ts';
import {
  auditProblems,
  authProblems,
  companyProblems,
  contactDiagnostics,
  contactProblems,
  deadLetters,
  driftRecordedInvalid,
  duplicateProblems,
  excusedOverwrites,
  outboxProblems,
  type CheckInput,
} from './checks.ts';
import { DaemonSupervisor } from './daemons.ts';
import { planArbitrary, type Step } from './plan.ts';
import { newLog, runStep, type ChaosLog } from './world.ts';

/**
 * Chaos convergence: the real daemon (`intercom-sync run`, a child process) syncs a simulated workspace — the
 * simulator in its `realistic` profile (docs/simulator.md) — while the test writes on both sides in a random
 * interleaving (leads among the local creates; hard-delete/re-create, soft delete and undelete sequences) and
 * injects 429 bursts, 5xx, dropped connections, lost answers to applied writes, late-applied PUTs, cursor and
 * scroll expiry, SIGKILLs of the daemon and pg_terminate_backend on its connections. After the faults stop, the
 * system must settle into a state where both sides agree (checks.ts says exactly what that means). One seed per
 * run; CHAOS_SEED=<n> replays one; `npm run chaos -- --seeds 1-20` runs a range (test/chaos/run-seeds.ts).
 */
// `npm test` gates every submission, so it replays one plan by default; CHAOS_SEED=random explores new ones
// (and prints the seed), CHAOS_SEED=<n> replays one.
const { seed: SEED } = testSeed('CHAOS', 7);
const SIM_SEED = SEED % 100_000;
/** More than one search page (150), so full passes page with cursors that can expire. */
const SEED_CONTACTS = 160;
const SEED_COMPANIES = 6;
const CLIENT_TIMEOUT_SECONDS = 2;
/**
 * Search sees a write this long after it (Intercom: minutes; scaled down like the latency). A create whose answer
 * was lost may be proven absent by an email search only after it: CREATE_LOOKUP_DELAY_SECONDS must exceed it, or a
 * lead created late would be missed and created twice (which duplicateProblems would catch).
 */
const INDEXING_DELAY_SECONDS = 1;
const CREATE_LOOKUP_DELAY_SECONDS = 3;
/**
 * The realistic profile with its latency scaled down ×4 (same shape: log-normal, lists slower than single
 * objects, the same long tail), so a seed runs in about a minute. Every other harsh behaviour is the profile's
 * own: duplicate leads accepted, a lead's external_id dropped, cursors expiring after 60 s idle, scroll params
 * answering 404, embedded lists whose has_more lies, the archived 409 wording, HTML 403s and schema drift.
 */
const CHAOS_LATENCY = { listP50Ms: 62, singleP50Ms: 30, listSigma: 0.6, singleSigma: 0.35 };
/**
 * Upper bound on settling; the loop ends as soon as every check passes (usually within seconds). The bound is the
 * push lease (120 s, PushConfig.leaseSeconds) plus a margin: entries a SIGKILLed daemon had claimed stay locked until
 * their lease expires, so a kill that lands mid-push delays convergence by up to that long. Override with
 * CHAOS_SETTLE_LIMIT_SECONDS on a machine so loaded that the bound is too tight.
 */
/**
 * For diagnosis only: CHAOS_SIM='{"schemaDriftRate":0}' (SimulatorOptions, JSON) turns one harsh behaviour off to
 * tell which one a failing seed trips on. The documented runs never set it.
 */
const SIM_OVERRIDES = process.env.CHAOS_SIM ? (JSON.parse(process.env.CHAOS_SIM) as Partial<SimulatorOptions>) : {};
const SETTLE_LIMIT_MS = Number(process.env.CHAOS_SETTLE_LIMIT_SECONDS ?? 150) * 1_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let db: TestDatabase;
let sim: RunningSimulator;
let pool: pg.Pool;
let daemons: DaemonSupervisor;

beforeAll(async () => {
  if (process.env.CHAOS_SIM) console.log(`[chaos] CHAOS_SIM=${process.env.CHAOS_SIM}`);
  db = await createTestDatabase();
  // The test's own connections are named apart from the daemon's, so terminating "intercom-sync%" spares them.
  pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'chaos-test' });
  pool.on('error', () => undefined);
  sim = await startSimulator({
    port: 0,
    seed: SIM_SEED,
    profile: 'realistic',
    latency: CHAOS_LATENCY,
    rateLimitPerMinute: 3_000,
    indexingDelaySeconds: INDEXING_DELAY_SECONDS,
    seedContacts: SEED_CONTACTS,
    seedCompanies: SEED_COMPANIES,
    ...SIM_OVERRIDES,
  });
  daemons = new DaemonSupervisor({
    DATABASE_URL: db.url,
    INTERCOM_BASE_URL: sim.url,
    INTERCOM_ACCESS_TOKEN: sim.token,
    INTERCOM_RATE_LIMIT_PER_MINUTE: '3000',
    INTERCOM_TIMEOUT_SECONDS: String(CLIENT_TIMEOUT_SECONDS),
    INTERCOM_MAX_RETRIES: '3',
    CONTACTS_PULL_CRON: '* * * * * *',
    COMPANIES_PULL_CRON: '*/2 * * * * *',
    OUTBOX_SWEEP_CRON: '* * * * * *',
    VERIFY_CRON: '0 3 1 1 *',
    CONFLICT_POLICY: 'newest_wins',
    DELETE_MODE: 'archive',
    CREATE_LOOKUP_DELAY_SECONDS: String(CREATE_LOOKUP_DELAY_SECONDS),
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    // CHAOS_LOG_LEVEL=info for diagnosis; the full output of every daemon is written to DAEMON_LOG on failure.
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
  });
});

afterAll(async () => {
  await daemons?.stop();
  await sim?.close();
  await pool?.end();
  await db?.drop();
});

const DAEMON_LOG = join(tmpdir(), 'intercom-sync-chaos', `daemon-seed-${SEED}.log`);

/** Every daemon's whole output, for the failure message to point at (the message itself carries only a tail). */
function saveDaemonOutput(): string {
  mkdirSync(dirname(DAEMON_LOG), { recursive: true });
  writeFileSync(DAEMON_LOG, daemons.allOutput());
  return DAEMON_LOG;
}

/** The first problems in full and a count of the rest: a failure message stays readable. */
function summarize(problems: string[]): string {
  const shown = problems.slice(0, 25).join('\n');
  return problems.length > 25 ? `${shown}\n… and ${problems.length - 25} more problems` : shown;
}

async function settle(input: () => CheckInput): Promise<{ problems: string[]; waitedMs: number; dead: number; driftInvalid: number }> {
  const started = Date.now();
  let problems: string[] = [];
  let deadCount = 0;
  let driftCount = 0;
  do {
    await daemons.ensureRunning();
    const inp = input();
    deadCount = (await deadLetters(inp)).length;
    const drift = await driftRecordedInvalid(inp);
    driftCount = drift.size;
    problems = [
      ...(await outboxProblems(inp)),
      ...(await contactProblems(inp, drift)),
      ...duplicateProblems(inp),
      ...(await companyProblems(inp)),
      ...(await auditProblems(inp, drift)),
      ...authProblems(inp),
    ];
    if (problems.length === 0) break;
    await sleep(1_000);
  } while (Date.now() - started < SETTLE_LIMIT_MS);
  return { problems, waitedMs: Date.now() - started, dead: deadCount, driftInvalid: driftCount };
}

it(`converges after random writes on both sides and injected faults (CHAOS_SEED=${SEED})`, { timeout: 300_000 }, async () => {
  await daemons.start();
  // The first run pulls the seeded workspace; chaos starts from a synced state so "initial" values are known.
  const initial = await settle(() => ({ pool, sim, log: newLog(sim), daemonOutput: daemons.allOutput(), simSeed: SIM_SEED }));
  if (initial.problems.length > 0) {
    throw new Error(
      `initial sync did not settle (replay with CHAOS_SEED=${SEED}):\n${summarize(initial.problems)}\n\n` +
        `daemon output (tail; all of it in ${saveDaemonOutput()}):\n${daemons.allOutput().slice(-6_000)}`,
    );
  }

  console.log(`[chaos] seed ${SEED}: initial sync of ${SEED_CONTACTS} contacts settled in ${(initial.waitedMs / 1000).toFixed(1)} s`);

  let log: ChaosLog = newLog(sim);
  await fc.assert(
    fc.asyncProperty(planArbitrary, async (plan: Step[]) => {
      log = newLog(sim);
      const deps = { pool, sim, daemons, seed: SEED, clientTimeoutMs: CLIENT_TIMEOUT_SECONDS * 1_000, sleep };
      for (const [i, step] of plan.entries()) await runStep(deps, log, step, i);
      sim.state.faults.clear();
      const result = await settle(() => ({ pool, sim, log, daemonOutput: daemons.allOutput(), simSeed: SIM_SEED }));
      const stats = sim.state.stats.snapshot();
      console.log(`[chaos] seed ${SEED}: Intercom answers by status ${JSON.stringify(stats.by_status)} (0 = dropped connection)`);
      console.log(
        `[chaos] seed ${SEED}: ${plan.length} steps, ${log.faults} fault rules (${stats.faults_injected} fired), ${log.kills} kills, ` +
          `${log.terminations} pg_terminate_backend rounds (${log.terminatedBackends} connections), ${daemons.restarts} restarts, ` +
          `${log.leadsCreated} leads created, ${log.recreates} re-creates, ${log.softDeletes} soft deletes, ${log.undeletes} undeletes, ` +
          `${log.idleExpiries} idle expiries, ${stats.by_status['403'] ?? 0} 403s; settled in ${(result.waitedMs / 1000).toFixed(1)} s; ` +
          `dead letters ${result.dead}; drifted contacts recorded invalid ${result.driftInvalid}; ` +
          `late overwrites of unseen remote edits (a known limit) ${excusedOverwrites.length}${excusedOverwrites.length ? `: ${excusedOverwrites.join('; ')}` : ''}`,
      );
      if (result.problems.length > 0 || daemons.unexpectedExits.length > 0) {
        throw new Error(
          `did not converge (replay with CHAOS_SEED=${SEED}):\n${summarize([...result.problems, ...daemons.unexpectedExits.map((e) => `daemon exited unexpectedly: ${e}`)])}\n\n` +
            `state of the contacts named above:\n${await contactDiagnostics(pool, result.problems)}\n\n` +
            `steps:\n${log.steps.join('\n')}\n\ndaemon output (tail; all of it in ${saveDaemonOutput()}):\n${daemons.allOutput().slice(-6_000)}`,
        );
      }
    }),
    // One long run per seed: shrinking would replay a minute-long scenario dozens of times.
    { seed: SEED, numRuns: 1, endOnFailure: true },
  );
});
