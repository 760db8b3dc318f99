import type { Command } from 'commander';
import type { ReportFormat } from '../../reports/index.ts';
import { formatOption, printReport } from './report.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('print the overview report: per stream last success, lag, watermark, outbox depth, dead letters')
    .addOption(formatOption())
    .action(async (flags: { format: ReportFormat }) => {
      await printReport('overview', { format: flags.format });
    });
}
