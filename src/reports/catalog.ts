import type { ReportName } from '../db/queries/reports.ts';

export type { ReportName } from '../db/queries/reports.ts';

/** What `intercom-sync report --help` and docs/reports.md say about each report. */
export const REPORT_DESCRIPTIONS: Record<ReportName, string> = {
  overview: 'per stream: last run and success, watermark, lag, outbox depth and dead letters',
  daily_activity: 'audit log counted per UTC day, direction, entity and action',
  conflicts: 'three-way-merge conflicts: fields both sides changed, and how they were resolved',
  merges: 'contacts merged in Intercom (and lead → user merges requested but not done yet)',
  errors: 'dead letters, retrying outbox entries, failed runs, stuck mappings and invalid records, with reasons',
  api_usage: 'Intercom requests per UTC hour and endpoint: answers by class (429s included), latency, priorities',
  duplicates: 'emails shared by several live contacts',
  unlinked: 'live local rows with no Intercom record yet, and why',
};

// From the descriptions (a Record over every view name), so listing reports does not load the database driver.
export const REPORT_NAMES = Object.keys(REPORT_DESCRIPTIONS) as ReportName[];

/** Accepts `daily-activity` as well as `daily_activity`. */
export function parseReportName(input: string): ReportName | null {
  const name = input.trim().toLowerCase().replaceAll('-', '_');
  return (REPORT_NAMES as string[]).includes(name) ? (name as ReportName) : null;
}
