import type { Command } from 'commander';

const count = (min: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 100_000) throw new Error(`expected a whole number from ${min} to 100000`);
  return n;
};

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('see intercom-sync work: embedded Postgres + bundled Intercom simulator, both-way edits, reports')
    .option('--contacts <n>', 'contacts to seed in the simulator', count(50), 200)
    .option('--companies <n>', 'companies to seed in the simulator', count(5), 50)
    .action(async (flags: { contacts: number; companies: number }) => {
      // Loaded on demand here and in every command, so `--help` does not load the whole application.
      const [{ runDemo }, { createLogger }, { loadConfig }] = await Promise.all([
        import('../../demo/demo.ts'),
        import('../../logger.ts'),
        import('../context.ts'),
      ]);
      const config = loadConfig();
      // The demo speaks through its own output; logs would drown it, so only warnings are shown unless asked.
      const logger = createLogger({ level: process.env.LOG_LEVEL ? config.log.level : 'warn', pii: config.log.pii });
      await runDemo(config, logger, {
        contacts: flags.contacts,
        companies: flags.companies,
        out: (t) => process.stdout.write(t),
      });
      logger.flush();
    });
}
