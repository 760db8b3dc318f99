import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../errors.ts';
import { registerCommands } from './commands/index.ts';

/** Entry point of the `intercom-sync` executable. Only this function decides the exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('intercom-sync')
    .description('Two-way sync of contacts and companies between PostgreSQL and Intercom')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`intercom-sync: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

/** From package.json, two levels up from src/cli/ and from dist/cli/ alike, so the two can never disagree. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
