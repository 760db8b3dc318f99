/**
 * The pure half of `npm run chaos`: which seeds to run, what a run's output says, and the table it leaves in
 * docs/guarantees.md between two markers (replaced whole on every run, so the page shows one run, never a mix).
 */

export const TABLE_START = '<!-- chaos-seeds:start (written by `npm run chaos`; do not edit by hand) -->';
export const TABLE_END = '<!-- chaos-seeds:end -->';

export interface SeedOutcome {
  seed: number;
  passed: boolean;
  wallMs: number;
  /** Settling time after the faults stopped, from the test's summary line, when it printed one. */
  settledS: number | null;
  /** The first problem of a failed run, one line. */
  problem: string | null;
}

/** "1-20", "3", "1-5,9,12-13" → the seeds in the order given, each once. */
export function parseSeeds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--seeds: "${part}" is not a seed or a range like 1-20`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`--seeds: range ${part} runs backwards`);
    if (to - from > 10_000) throw new Error(`--seeds: range ${part} is larger than 10,000 seeds`);
    for (let s = from; s <= to; s++) if (!out.includes(s)) out.push(s);
  }
  if (out.length === 0) throw new Error('--seeds: no seed given');
  return out;
}

// vitest colours its output; the table wants plain text.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** What the run printed: the settle time of its summary line and, if it failed, its first problem. */
export function readRunOutput(output: string): { settledS: number | null; problem: string | null } {
  const text = output.replace(ANSI, '');
  const settled = /\[chaos\] seed \d+: \d+ steps.*settled in ([\d.]+) s/.exec(text);
  const lines = text.split('\n');
  let problem: string | null = null;
  const header = lines.findIndex((l) => /did not converge \(replay|initial sync did not settle/.test(l));
  if (header >= 0) problem = lines.slice(header + 1).find((l) => l.trim() !== '')?.trim() ?? null;
  if (problem === null) {
    const err = lines.find((l) => /^\s*(\w*Error|FAIL)\b|Test timed out|Hook timed out/.test(l));
    problem = err?.trim() ?? null;
  }
  return { settledS: settled ? Number(settled[1]) : null, problem };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 300);

export function renderTable(outcomes: readonly SeedOutcome[], meta: { date: string; commit: string; command: string; planned: number }): string {
  const passed = outcomes.filter((o) => o.passed).length;
  const rows = outcomes.map(
    (o) =>
      `| ${o.seed} | ${o.passed ? 'pass' : '**fail**'} | ${(o.wallMs / 1000).toFixed(0)} | ${o.settledS === null ? '—' : o.settledS.toFixed(1)} | ${o.problem ? cell(o.problem) : ''} |`,
  );
  const done = outcomes.length < meta.planned ? ` (${outcomes.length} of ${meta.planned} seeds run so far)` : '';
  return [
    TABLE_START,
    `\`${meta.command}\` on ${meta.date}, commit \`${meta.commit}\`: **${passed} of ${outcomes.length} passed**${done}.`,
    '',
    '| Seed | Outcome | Wall time (s) | Settled in (s) | First problem |',
    '|---:|---|---:|---:|---|',
    ...rows,
    TABLE_END,
  ].join('\n');
}

/** The document with the text between the markers replaced (markers appended at the end when absent). */
export function replaceTable(doc: string, table: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) return `${doc.trimEnd()}\n\n${table}\n`;
  return doc.slice(0, start) + table + doc.slice(end + TABLE_END.length);
}
