import type { Command } from 'commander';
import type { Logger } from '../../logger.ts';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the sync daemon: schedules (on the leader replica), push loop, HTTP health, metrics and webhooks')
    .action(async () => {
      const [{ onShutdownSignals }, { createCliLogger, loadConfig }] = await Promise.all([
        import('../../daemon/lifecycle.ts'),
        import('../context.ts'),
      ]);
      const config = loadConfig();
      const logger = createCliLogger(config);
      // Signals that arrive while we are still building must not kill the process without cleanup.
      let stopRequested: NodeJS.Signals | null = null;
      const building = new AbortController();
      let requestStop: (signal: NodeJS.Signals) => void = (signal) => {
        stopRequested = signal;
        building.abort();
      };
      const removeHandlers = onShutdownSignals({
        graceful: (signal) => requestStop(signal),
        force: (signal) => {
          logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
          logger.flush();
          process.exit(1);
        },
      });
      try {
        // Loaded on demand: the daemon's dependency graph is large and other commands do not need it.
        const { buildApp } = await import('../../main.ts');
        const bundled = config.intercom.accessToken ? null : await startBundledSimulator(logger);
        const app = await buildApp(
          bundled ? { ...config, intercom: { ...config.intercom, accessToken: bundled.token, baseUrl: bundled.url } } : config,
          logger,
          { signal: building.signal },
        ).catch(async (err: unknown) => {
          await bundled?.close();
          throw err;
        });
        const stopped = new Promise<void>((resolve) => {
          requestStop = (signal) => {
            app.logger.info({ signal }, 'signal received: shutting down gracefully');
            // A last resort if a release step hangs past every per-step limit.
            setTimeout(() => {
              app.logger.error('shutdown overran its deadline: exiting');
              app.logger.flush();
              process.exit(1);
            }, (config.daemon.shutdownTimeoutSeconds + 15) * 1000).unref();
            void app
              .stop(`signal ${signal}`)
              .then(() => bundled?.close())
              .then(resolve);
          };
        });
        if (stopRequested) requestStop(stopRequested);
        else {
          try {
            const { httpUrl } = await app.start();
            app.logger.info({ http: httpUrl, replica: app.replicaId }, 'intercom-sync daemon running');
          } catch (err) {
            // e.g. the HTTP port is taken: release the pool and the gateway, or they would keep the process alive.
            await app.stop('start failed');
            throw err;
          }
        }
        await stopped;
        process.exitCode = 0;
      } finally {
        removeHandlers();
        logger.flush();
      }
    });
}

/**
 * With no INTERCOM_ACCESS_TOKEN the daemon talks to the bundled simulator, seeded with sample data, so a newcomer
 * sees it work with nothing configured. It says so loudly: nobody should mistake this for a real workspace.
 */
async function startBundledSimulator(logger: Logger) {
  const { startSimulator } = await import('../../simulator/server.ts');
  const sim = await startSimulator({ port: 0, seedContacts: 1000, seedCompanies: 100, seed: 1 });
  logger.warn({ simulator: sim.url }, 'INTERCOM_ACCESS_TOKEN not set: syncing with the bundled Intercom simulator, not a real workspace');
  return sim;
}
