import type { Command } from 'commander';
import { onShutdownSignals } from '../../daemon/lifecycle.ts';
import { createCliLogger, loadConfig } from '../context.ts';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the sync daemon: schedules (on the leader replica), push loop, HTTP health, metrics and webhooks')
    .action(async () => {
      const config = loadConfig();
      const logger = createCliLogger(config);
      // Signals that arrive while we are still building must not kill the process without cleanup.
      let stopRequested: NodeJS.Signals | null = null;
      let requestStop: (signal: NodeJS.Signals) => void = (signal) => {
        stopRequested = signal;
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
        const app = await buildApp(config, logger);
        const stopped = new Promise<void>((resolve) => {
          requestStop = (signal) => {
            app.logger.info({ signal }, 'signal received: shutting down gracefully');
            // A last resort if a release step hangs past every per-step limit.
            setTimeout(() => {
              app.logger.error('shutdown overran its deadline: exiting');
              app.logger.flush();
              process.exit(1);
            }, (config.daemon.shutdownTimeoutSeconds + 15) * 1000).unref();
            void app.stop(`signal ${signal}`).then(resolve);
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
