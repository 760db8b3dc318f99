import { InvalidArgumentError, Option, type Command } from 'commander';
import { REPORT_DESCRIPTIONS, REPORT_FORMATS, REPORT_NAMES, formatReport, parseReportName, type ReportFormat, type ReportName } from '../../reports/index.ts';

interface ReportFlags {
  format: ReportFormat;
  limit?: number;
}

export function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices(REPORT_FORMATS).default('table');
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Runs one report view and writes it to stdout; shared by `report` and `status`. */
export async function printReport(name: ReportName, flags: ReportFlags): Promise<void> {
  const [{ reportQueries }, { createCliContext }] = await Promise.all([import('../../db/queries/reports.ts'), import('../context.ts')]);
  const ctx = await createCliContext();
  try {
    const result = await reportQueries(ctx.config.schema)
      .run(ctx.database.pool, name, flags.limit === undefined ? {} : { limit: flags.limit })
      .catch((err: unknown) => {
        // 42P01 undefined_table: the views come with the migrations.
        if ((err as { code?: string }).code === '42P01') {
          throw new Error(`report views are missing in schema "${ctx.config.schema}": run \`intercom-sync migrate\` first`, { cause: err });
        }
        throw err;
      });
    process.stdout.write(formatReport(result, flags.format));
  } finally {
    await ctx.close();
  }
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print a report (a SQL view in SYNC_SCHEMA; see docs/reports.md)')
    .argument('<name>', REPORT_NAMES.map((n) => `${n}: ${REPORT_DESCRIPTIONS[n]}`).join('\n'))
    .addOption(formatOption())
    .option('--limit <n>', 'at most n rows (newest first where rows are dated)', positiveInt)
    .action(async (input: string, flags: ReportFlags) => {
      const name = parseReportName(input);
      if (!name) throw new Error(`unknown report "${input}"; one of: ${REPORT_NAMES.join(', ')}`);
      await printReport(name, flags);
    });
}
