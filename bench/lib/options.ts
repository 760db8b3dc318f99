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
}

export function parseBenchArgs(argv: readonly string[], defaultOut: string): BenchOptions {
  const opts: BenchOptions = { quick: false, million: false, only: [], out: defaultOut };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--million') opts.million = true;
    else if (a === '--only' || a === '--out') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      if (a === '--only') opts.only.push(...v.split(','));
      else opts.out = v;
    } else if (a.startsWith('--only=')) opts.only.push(...a.slice(7).split(','));
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else throw new Error(`unknown flag ${a} (known: --quick, --million, --only <scenario>, --out <file>)`);
  }
  return opts;
}
