import type { Command } from 'commander';
import { registerDemoCommand } from './demo.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerRunCommand } from './run.ts';
import { registerSimulatorCommand } from './simulator.ts';
import { registerReportCommand } from './report.ts';
import { registerStatusCommand } from './status.ts';
import { registerBackfillCommand } from './backfill.ts';
import { registerVerifyCommand } from './verify.ts';
import { registerRequeueCommand } from './requeue.ts';
import { registerSyncCommand } from './sync.ts';

/** Every subcommand, in the order `--help` lists them. */
export function registerCommands(program: Command): void {
  registerDemoCommand(program);
  registerMigrateCommand(program);
  registerRunCommand(program);
  registerSimulatorCommand(program);
  registerStatusCommand(program);
  registerReportCommand(program);
  registerBackfillCommand(program);
  registerSyncCommand(program);
  registerVerifyCommand(program);
  registerRequeueCommand(program);
}
