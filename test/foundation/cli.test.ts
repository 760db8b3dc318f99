import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;

function cli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('intercom-sync CLI', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('--help lists the commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('migrate');
  });

  it('migrate is idempotent against a real server', async () => {
    const env = { DATABASE_URL: t.url, SYNC_SCHEMA: 'cli_schema', LOG_LEVEL: 'silent' };
    const first = await cli(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migration/);
    const second = await cli(['migrate'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('is up to date');
  });

  it('exits 2 naming every bad variable and never printing the token', async () => {
    const r = await cli(['migrate'], { DATABASE_URL: 'mysql://nope', LOG_LEVEL: 'loud', INTERCOM_ACCESS_TOKEN: 'x', INTERCOM_RATE_LIMIT_PER_MINUTE: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL');
    expect(r.stderr).toContain('LOG_LEVEL');
    expect(r.stderr).toContain('INTERCOM_RATE_LIMIT_PER_MINUTE');
  });

  it('exits 2 naming SYNC_SCHEMA when it is a system or shared schema, before touching the database', async () => {
    for (const schema of ['public', 'information_schema']) {
      const r = await cli(['migrate'], { DATABASE_URL: t.url, SYNC_SCHEMA: schema, LOG_LEVEL: 'silent' });
      expect({ schema, code: r.code }).toEqual({ schema, code: 2 });
      expect(r.stderr).toContain('SYNC_SCHEMA');
    }
  });

  it('keeps a failing exit code when it started an embedded Postgres (whose exit hooks used to force 0)', async () => {
    const r = await cli(['backfill', '--dry-run'], { LOG_LEVEL: 'silent' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INTERCOM_ACCESS_TOKEN');
    expect(r.stderr).not.toContain('TypeError');
  });
});
