import type { Command } from 'commander';
import { registerMigrateCommand } from './migrate.ts';

/** Every subcommand, in the order `--help` lists them. */
export function registerCommands(program: Command): void {
  registerMigrateCommand(program);
}
