import type { Command } from 'commander';
import type { SimulatorOptions } from '../../simulator/server.ts';

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
    return n;
  };
}

interface SimulatorFlags {
  port: number;
  host: string;
  token: string;
  seed?: number;
  seedContacts?: number;
  seedCompanies?: number;
  rateLimit?: number;
  workspaceRateLimit?: number;
  indexingDelay?: number;
  timezone?: string;
  profile?: string;
  latencyMs?: number;
}

export function registerSimulatorCommand(program: Command): void {
  program
    .command('simulator')
    .description('Run the local Intercom REST API 2.14 simulator (control API under /__sim/, see docs/simulator.md)')
    .option('--port <port>', 'port to listen on (0 = random)', int('port'), 4010)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--token <token>', 'accepted bearer token', 'sim-token')
    .option('--seed <n>', 'seed for deterministic ids and fixtures', int('seed'))
    .option('--seed-contacts <n>', 'contacts to create at start', int('seed-contacts'))
    .option('--seed-companies <n>', 'companies to create at start', int('seed-companies'))
    .option('--rate-limit <perMinute>', 'app rate limit per minute, enforced per 10 s window (0 = off)', int('rate-limit'))
    .option('--workspace-rate-limit <perMinute>', 'workspace-wide budget shared with foreign apps (0 = none)', int('workspace-rate-limit'))
    .option('--indexing-delay <seconds>', 'delay before writes reach search and list', int('indexing-delay'))
    .option('--timezone <iana>', 'workspace time zone used by date search', 'UTC')
    .option('--profile <name>', "'default' (friendly, fast) or 'realistic' (latency, lost answers, duplicate leads, ...; docs/simulator.md)")
    .option('--latency-ms <ms>', 'fixed latency on every API route, for reproducible benchmarks (overrides the profile)', int('latency-ms'))
    .action(async (flags: SimulatorFlags) => {
      const opts: SimulatorOptions = { port: flags.port, host: flags.host, token: flags.token };
      if (flags.seed !== undefined) opts.seed = flags.seed;
      if (flags.seedContacts !== undefined) opts.seedContacts = flags.seedContacts;
      if (flags.seedCompanies !== undefined) opts.seedCompanies = flags.seedCompanies;
      if (flags.rateLimit !== undefined) opts.rateLimitPerMinute = flags.rateLimit;
      if (flags.workspaceRateLimit !== undefined) opts.workspaceRateLimitPerMinute = flags.workspaceRateLimit;
      if (flags.indexingDelay !== undefined) opts.indexingDelaySeconds = flags.indexingDelay;
      if (flags.timezone !== undefined) opts.timezone = flags.timezone;
      const [{ startSimulator }, { parseProfile }] = await Promise.all([
        import('../../simulator/server.ts'),
        import('../../simulator/realism.ts'),
      ]);
      if (flags.profile !== undefined) {
        try {
          opts.profile = parseProfile(flags.profile);
        } catch {
          throw new Error("--profile must be 'default' or 'realistic'");
        }
      }
      if (flags.latencyMs !== undefined) opts.latency = { fixedMs: flags.latencyMs };
      const sim = await startSimulator(opts);
      // A local fake token, printed on purpose so curl users can copy it.
      process.stdout.write(`Intercom simulator listening on ${sim.url}\nBearer token: ${sim.token}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
      process.stdout.write('Intercom simulator stopped\n');
    });
}
