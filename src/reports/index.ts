export { REPORT_DESCRIPTIONS, REPORT_NAMES, parseReportName, type ReportName } from './catalog.ts';
export { REPORT_FORMATS, cellText, formatReport, type ReportFormat, type Tabular } from './format.ts';
