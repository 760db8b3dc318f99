import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { testSeed } from '../harness/seed.ts';
import {
  auditProblems,
  authProblems,
  companyProblems,
  contactProblems,
  deadLetters,
  duplicateProblems,
  outboxProblems,
  type CheckInput,
} from './checks.ts';
import { DaemonSupervisor } from './daemons.ts';
import { planArbitrary, type Step } from './plan.ts';
import { newLog, runStep, type ChaosLog } from './world.ts';

/**
 * Chaos convergence: the real daemon (`intercom-sync run`, a child process) syncs a simulated workspace while the test
 * writes on both sides in a random interleaving and injects 429 bursts, 5xx, dropped connections, SIGKILLs of the
 * daemon and pg_terminate_backend on its connections. After the faults stop, the system must settle into a state
 * where both sides agree (checks.ts says exactly what that means). One seed per run; CHAOS_SEED=<n> replays one.
 */
// `npm test` gates every submission, so it replays one plan by default; CHAOS_SEED=random explores new ones
// (and prints the seed), CHAOS_SEED=<n> replays one. The documented 20-seed run loops over CHAOS_SEED=1..20.
const { seed: SEED } = testSeed('CHAOS', 7);
const SEED_CONTACTS = 40;
const SEED_COMPANIES = 6;
/**
 * Upper bound on settling; the loop ends as soon as every check passes (usually within seconds). The bound is the
 * push lease (120 s, PushConfig.leaseSeconds) plus a margin: entries a SIGKILLed daemon had claimed stay locked until
 * their lease expires, so a kill that lands mid-push delays convergence by up to that long.
 */
const SETTLE_LIMIT_MS = 150_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let db: TestDatabase;
let sim: RunningSimulator;
let pool: pg.Pool;
let daemons: DaemonSupervisor;

beforeAll(async () => {
  db = await createTestDatabase();
  // The test's own connections are named apart from the daemon's, so terminating "intercom-sync%" spares them.
  pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'chaos-test' });
  pool.on('error', () => undefined);
  sim = await startSimulator({ port: 0, seed: SEED % 100_000, rateLimitPerMinute: 3_000, seedContacts: SEED_CONTACTS, seedCompanies: SEED_COMPANIES });
  daemons = new DaemonSupervisor({
    DATABASE_URL: db.url,
    INTERCOM_BASE_URL: sim.url,
    INTERCOM_ACCESS_TOKEN: sim.token,
    INTERCOM_RATE_LIMIT_PER_MINUTE: '3000',
    INTERCOM_TIMEOUT_SECONDS: '5',
    INTERCOM_MAX_RETRIES: '3',
    CONTACTS_PULL_CRON: '* * * * * *',
    COMPANIES_PULL_CRON: '*/2 * * * * *',
    OUTBOX_SWEEP_CRON: '* * * * * *',
    VERIFY_CRON: '0 3 1 1 *',
    CONFLICT_POLICY: 'newest_wins',
    // This simulator indexes writes at once; a lead create whose answer a fault lost is searched for after 1 s.
    CREATE_LOOKUP_DELAY_SECONDS: '1',
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    LOG_LEVEL: 'warn',
  });
});

afterAll(async () => {
  await daemons?.stop();
  await sim?.close();
  await pool?.end();
  await db?.drop();
});

async function settle(input: () => CheckInput): Promise<{ problems: string[]; waitedMs: number; dead: number }> {
  const started = Date.now();
  let problems: string[] = [];
  let deadCount = 0;
  do {
    await daemons.ensureRunning();
    const inp = input();
    const dead = await deadLetters(inp);
    deadCount = dead.length;
    const deadKeys = new Set(dead.map((d) => `${d.entity_type}:${d.local_id}`));
    problems = [
      ...(await outboxProblems(inp)),
      ...(await contactProblems(inp, deadKeys)),
      ...duplicateProblems(inp),
      ...(await companyProblems(inp, deadKeys)),
      ...(await auditProblems(inp, deadKeys)),
      ...authProblems(inp),
    ];
    if (problems.length === 0) break;
    await sleep(1_000);
  } while (Date.now() - started < SETTLE_LIMIT_MS);
  return { problems, waitedMs: Date.now() - started, dead: deadCount };
}

it(`converges after random writes on both sides and injected faults (CHAOS_SEED=${SEED})`, { timeout: 300_000 }, async () => {
  await daemons.start();
  // The first run pulls the seeded workspace; chaos starts from a synced state so "initial" values are known.
  const initial = await settle(() => ({ pool, sim, log: newLog(sim), daemonOutput: daemons.allOutput() }));
  expect(initial.problems, `initial sync did not settle:\n${initial.problems.join('\n')}`).toEqual([]);

  let log: ChaosLog = newLog(sim);
  await fc.assert(
    fc.asyncProperty(planArbitrary, async (plan: Step[]) => {
      log = newLog(sim);
      for (const [i, step] of plan.entries()) await runStep({ pool, sim, daemons, seed: SEED, sleep }, log, step, i);
      sim.state.faults.clear();
      const result = await settle(() => ({ pool, sim, log, daemonOutput: daemons.allOutput() }));
      console.log(
        `[chaos] seed ${SEED}: ${plan.length} steps, ${log.faults} fault rules, ${log.kills} kills, ${log.terminations} pg_terminate_backend rounds (${log.terminatedBackends} connections), ` +
          `${daemons.restarts} restarts; settled in ${(result.waitedMs / 1000).toFixed(1)} s; dead letters ${result.dead}`,
      );
      if (result.problems.length > 0 || daemons.unexpectedExits.length > 0) {
        throw new Error(
          `did not converge (replay with CHAOS_SEED=${SEED}):\n${[...result.problems, ...daemons.unexpectedExits.map((e) => `daemon exited unexpectedly: ${e}`)].join('\n')}\n\n` +
            `steps:\n${log.steps.join('\n')}\n\ndaemon output (tail):\n${daemons.allOutput().slice(-6_000)}`,
        );
      }
    }),
    // One long run per seed: shrinking would replay a minute-long scenario dozens of times.
    { seed: SEED, numRuns: 1, endOnFailure: true },
  );
});
