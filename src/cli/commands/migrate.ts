import type { Command } from 'commander';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations to SYNC_SCHEMA (safe to run again; replicas take turns)')
    .action(async () => {
      const [{ runMigrations }, { createCliContext }] = await Promise.all([import('../../db/migrate.ts'), import('../context.ts')]);
      const ctx = await createCliContext();
      try {
        const result = await runMigrations(ctx.database.pool, ctx.config.schema, ctx.logger);
        process.stdout.write(
          result.applied.length > 0
            ? `applied ${result.applied.length} migration(s) to schema "${ctx.config.schema}": ${result.applied.join(', ')}\n`
            : `schema "${ctx.config.schema}" is up to date (${result.alreadyApplied} migrations)\n`,
        );
      } finally {
        await ctx.close();
      }
    });
}
