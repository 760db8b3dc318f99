/** Command-line flags of `npm run bench`. */
export interface BenchOptions {
  /** Small sizes and a short budget window: the smoke run (`npm run bench -- --quick`), which checks itself. */
  quick: boolean;
  /** Adds the 1,000,000-contact memory run. */
  million: boolean;
  /** Run only these scenarios (repeatable). */
  only: string[];
  /** Where the JSON goes; default bench/results.json. */
  out: string;
  /**
   * Simulator latency for the budget-use scenario: a fixed number of ms on every route (reproducible; default 300,
   * the figure the earlier budget-use measurements used, so results stay comparable) or 'realistic' (the realistic
   * profile's long-tailed distribution).
   */
  latency: number | 'realistic';
  /** Budgets (requests/min) the budget-use scenario runs at. */
  budgets: number[];
  /** Workspace size of the budget-use scenario (default 20,000; other sizes scale with it). */
  contacts: number | null;
}

/**
 * The budgets (requests/min) the budget-use scenario measures at: the project's default, twice it, and Intercom's
 * private-app default (10,000 a minute, https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting).
 */
export const DEFAULT_BUDGETS: readonly number[] = [500, 1_000, 10_000];

export function parseBenchArgs(argv: readonly string[], defaultOut: string): BenchOptions {
  const opts: BenchOptions = { quick: false, million: false, only: [], out: defaultOut, latency: 300, budgets: [...DEFAULT_BUDGETS], contacts: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--million') opts.million = true;
    else if (a === '--only' || a === '--out' || a === '--latency' || a === '--budgets' || a === '--contacts') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      if (a === '--only') opts.only.push(...v.split(','));
      else if (a === '--latency') opts.latency = parseLatency(v);
      else if (a === '--budgets') opts.budgets = parseBudgets(v);
      else if (a === '--contacts') {
        opts.contacts = Number(v);
        if (!Number.isInteger(opts.contacts) || opts.contacts < 150) throw new Error(`--contacts takes a whole number ≥ 150, not ${v}`);
      }
      else opts.out = v;
    } else if (a.startsWith('--only=')) opts.only.push(...a.slice(7).split(','));
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else throw new Error(`unknown flag ${a} (known: --quick, --million, --only <scenario>, --out <file>, --latency <ms>|realistic, --budgets <n,n,…>, --contacts <n>)`);
  }
  return opts;
}

function parseLatency(v: string): number | 'realistic' {
  if (v === 'realistic') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--latency takes a whole number of ms or 'realistic', not ${v}`);
  return n;
}

function parseBudgets(v: string): number[] {
  const list = v.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 6)) throw new Error(`--budgets takes requests/min like 500,1000,10000, not ${v}`);
  return list;
}
