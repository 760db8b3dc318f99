import { expect, it } from 'vitest';
import { atMost, reportOnly, type Figure } from '../../bench/lib/figures.ts';
import { EXPECTED_FIGURES, formatTable, incompleteness, machine, toJsonFigures, type BenchResults } from '../../bench/lib/report.ts';

// The bench smoke run (`npm run bench -- --quick`, a few minutes with its own Postgres) is not part of `npm test`;
// it checks itself with `incompleteness` and exits 1 when a scenario failed or a figure is missing. This covers that
// check, so a smoke run cannot pass while incomplete.
function results(figures: Figure[], failures: BenchResults['failures'] = []): BenchResults {
  return {
    at: new Date(0).toISOString(),
    mode: 'quick',
    machine: machine(),
    postgres: { source: 'none', version: 'none' },
    figures: toJsonFigures(figures),
    failures,
  };
}
const figure = (id: string, value = 1): Figure => ({ id, label: `label of ${id}`, value, unit: 'x', goal: atMost(2) });

it('a run with every expected figure, each a number printed with its goal, is complete', () => {
  const r = results(EXPECTED_FIGURES.map((id) => figure(id)));
  expect(incompleteness(r, formatTable(r.figures), EXPECTED_FIGURES)).toEqual([]);
});

it('names a failed scenario, a missing or unknown figure, a non-number, a missing goal and an unprinted goal', () => {
  const [first, second, ...rest] = EXPECTED_FIGURES;
  const figures = [
    figure(second!, Number.NaN),
    { ...figure(rest[0]!), goal: reportOnly('') },
    ...rest.slice(1).map((id) => figure(id)),
    figure('extra.figure'),
  ];
  const r = results(figures, [{ scenario: 'latency', error: 'boom' }]);
  const table = formatTable(r.figures).replace(`label of ${rest[1]!}`, 'renamed');
  expect(incompleteness(r, table, EXPECTED_FIGURES)).toEqual([
    'scenario latency failed',
    `figure ${first!} is missing`,
    'figure extra.figure is not in EXPECTED_FIGURES',
    `figure ${second!} is NaN, not a number`,
    `figure ${rest[0]!} has no goal`,
    `figure ${rest[1]!} is not printed with its goal`,
  ]);
});

it('with --only, judges the figures present without asking for the others', () => {
  const r = results([figure('latency.p50_ms')]);
  expect(incompleteness(r, formatTable(r.figures), null)).toEqual([]);
});

it('expects the memory figure of the sizes the run measures (a full run is not a quick one)', async () => {
  const { memoryFigureIds } = await import('../../bench/scenarios/memory.ts');
  expect(memoryFigureIds({ quick: true, million: false })).toEqual(['memory.peak_rss_1000']);
  expect(memoryFigureIds({ quick: false, million: false })).toEqual(['memory.peak_rss_100000']);
  expect(memoryFigureIds({ quick: false, million: true })).toEqual(['memory.peak_rss_100000', 'memory.peak_rss_1000000']);
});
