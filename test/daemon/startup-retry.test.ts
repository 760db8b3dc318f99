import { describe, expect, it } from 'vitest';
import { isConnectionError, withConnectionRetry } from '../../src/db/retry-connection.ts';

/** What the daemon's start-up waits out (a database that is down or killed our backend) and what it exits on. */
const pgError = (code: string, message = `pg error ${code}`) => Object.assign(new Error(message), { code });

function recorder() {
  const warnings: unknown[] = [];
  return { warnings, logger: { warn: (o: unknown) => void warnings.push(o) } };
}

describe('isConnectionError', () => {
  it('treats terminated, shutting-down and unreachable backends as connection errors', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', '08P01', 'ECONNREFUSED', 'ECONNRESET']) {
      expect(isConnectionError(pgError(code)), code).toBe(true);
    }
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
    // How runMigrations wraps a failed migration, and how Node reports a refused dual-stack connect.
    expect(isConnectionError(new Error('migration 0001 failed', { cause: pgError('57P01') }))).toBe(true);
    expect(isConnectionError(new AggregateError([pgError('ECONNREFUSED')]))).toBe(true);
  });

  it('leaves configuration and SQL errors alone', () => {
    for (const code of ['28P01', '3D000', '42601', '42P01', '23505', 'ENOTFOUND', '57014']) {
      expect(isConnectionError(pgError(code)), code).toBe(false);
    }
    expect(isConnectionError(new Error('migration 0003 failed', { cause: pgError('42601') }))).toBe(false);
    expect(isConnectionError('57P01')).toBe(false);
  });
});

describe('withConnectionRetry', () => {
  it('retries connection errors with a warning each time, then returns the result', async () => {
    const { warnings, logger } = recorder();
    let calls = 0;
    const r = await withConnectionRetry(
      async () => {
        calls++;
        if (calls < 3) throw pgError('57P01', 'terminating connection due to administrator command');
        return 'migrated';
      },
      { logger, what: 'test', firstDelayMs: 1 },
    );
    expect(r).toBe('migrated');
    expect(calls).toBe(3);
    expect(warnings).toHaveLength(2);
  });

  it('throws any other error at once', async () => {
    const { warnings, logger } = recorder();
    let calls = 0;
    const syntax = pgError('42601', 'syntax error');
    await expect(
      withConnectionRetry(async () => {
        calls++;
        throw syntax;
      }, { logger, what: 'test', firstDelayMs: 1 }),
    ).rejects.toBe(syntax);
    expect(calls).toBe(1);
    expect(warnings).toHaveLength(0);
  });

  it('gives up with the last connection error once its time budget is spent or its signal fires', async () => {
    const { logger } = recorder();
    const down = pgError('ECONNREFUSED');
    let calls = 0;
    await expect(
      withConnectionRetry(async () => {
        calls++;
        throw down;
      }, { logger, what: 'test', maxMs: 30, firstDelayMs: 5, maxDelayMs: 5 }),
    ).rejects.toBe(down);
    expect(calls).toBeGreaterThan(1);

    const stop = new AbortController();
    let stoppedCalls = 0;
    await expect(
      withConnectionRetry(async () => {
        stoppedCalls++;
        stop.abort();
        throw down;
      }, { logger, what: 'test', signal: stop.signal }),
    ).rejects.toBe(down);
    expect(stoppedCalls).toBe(1);
  });
});
