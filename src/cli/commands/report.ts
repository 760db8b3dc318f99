import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { REPORT_DESCRIPTIONS, REPORT_FORMATS, REPORT_NAMES, formatReport, parseReportName, type ReportFormat, type ReportName } from '../../reports/index.ts';

export type OutputFormat = ReportFormat | 'html';

interface ReportFlags {
  format: OutputFormat;
  limit?: number;
  output?: string;
}

/** `html` is the status page (for overview) or a page with the report's table: for people without access to `/`. */
export function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices([...REPORT_FORMATS, 'html']).default('table');
}

export function outputOption(): Option {
  return new Option('--output <file>', 'write to this file instead of stdout');
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Runs one report view and writes it to stdout or --output; shared by `report` and `status`. */
export async function printReport(name: ReportName, flags: ReportFlags): Promise<void> {
  const [{ reportQueries }, { statusQueries }, { createCliContext }] = await Promise.all([
    import('../../db/queries/reports.ts'),
    import('../../db/queries/status.ts'),
    import('../context.ts'),
  ]);
  const ctx = await createCliContext();
  const { schema } = ctx.config;
  const missingViews = (err: unknown) => {
    // 42P01 undefined_table: the views come with the migrations.
    if ((err as { code?: string }).code === '42P01') {
      throw new Error(`report views are missing in schema "${schema}": run \`intercom-sync migrate\` first`, { cause: err });
    }
    throw err;
  };
  try {
    let text: string;
    if (flags.format === 'html') {
      const { renderReportPage, renderStatusPage } = await import('../../reports/html.ts');
      const opts = { pii: ctx.config.log.pii, budgetPerMinute: ctx.config.intercom.ratePerMinute, schema };
      text =
        name === 'overview'
          ? renderStatusPage(await statusQueries(schema).snapshot(ctx.database.pool).catch(missingViews), opts)
          : renderReportPage(name, await reportQueries(schema).run(ctx.database.pool, name, limitOf(flags)).catch(missingViews), new Date(), opts);
    } else {
      text = formatReport(await reportQueries(schema).run(ctx.database.pool, name, limitOf(flags)).catch(missingViews), flags.format);
    }
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
  } finally {
    await ctx.close();
  }
}

function limitOf(flags: ReportFlags): { limit?: number } {
  return flags.limit === undefined ? {} : { limit: flags.limit };
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print a report (a SQL view in SYNC_SCHEMA; see docs/reports.md)')
    .argument('<name>', REPORT_NAMES.map((n) => `${n}: ${REPORT_DESCRIPTIONS[n]}`).join('\n'))
    .addOption(formatOption())
    .addOption(outputOption())
    .option('--limit <n>', 'at most n rows (newest first where rows are dated)', positiveInt)
    .action(async (input: string, flags: ReportFlags) => {
      const name = parseReportName(input);
      if (!name) throw new Error(`unknown report "${input}"; one of: ${REPORT_NAMES.join(', ')}`);
      await printReport(name, flags);
    });
}
