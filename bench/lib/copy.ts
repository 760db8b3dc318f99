import type pg from 'pg';

/**
 * `COPY … FROM STDIN` over node-postgres without pg-copy-streams (not a dependency): a minimal submittable that
 * speaks the copy-in sub-protocol, which pg's Connection already implements (sendCopyFromChunk/endCopyFrom). It is
 * the baseline the pull pipeline is compared with: the cheapest way to get the same rows into Postgres.
 */
class CopyIn {
  private resolve!: (rows: number) => void;
  private reject!: (err: Error) => void;
  readonly done = new Promise<number>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
  private rows = 0;
  private failed: Error | null = null;

  constructor(
    readonly text: string,
    private readonly chunks: readonly Buffer[],
  ) {}

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    for (const chunk of this.chunks) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg.text ?? '');
    this.rows = m ? Number(m[1]) : 0;
  }

  handleError(err: Error): void {
    this.failed = err;
  }

  handleReadyForQuery(): void {
    if (this.failed) this.reject(this.failed);
    else this.resolve(this.rows);
  }

  // pg calls these for any query; COPY produces none of them.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCopyData(): void {}
}

/** Sends rows (already in COPY text format, one per line) and resolves with the row count Postgres reports. */
export async function copyIn(client: pg.PoolClient | pg.Client, sql: string, lines: readonly string[]): Promise<number> {
  const chunks: Buffer[] = [];
  const PER_CHUNK = 1000;
  for (let i = 0; i < lines.length; i += PER_CHUNK) chunks.push(Buffer.from(lines.slice(i, i + PER_CHUNK).join(''), 'utf8'));
  const q = new CopyIn(sql, chunks);
  // pg accepts any object with submit(); its typings only know Query and QueryConfig.
  void (client as unknown as { query(q: CopyIn): unknown }).query(q);
  return q.done;
}

/** One value in COPY text format: \N for null, backslash escapes for the characters COPY treats specially. */
export function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function copyLine(values: readonly unknown[]): string {
  return `${values.map(copyValue).join('\t')}\n`;
}
