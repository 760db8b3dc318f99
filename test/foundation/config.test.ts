import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

describe('config', () => {
  it('applies defaults that suit a real workspace', () => {
    const c = parseConfig({});
    expect(c.intercom).toMatchObject({ baseUrl: 'https://api.intercom.io', apiVersion: '2.14', ratePerMinute: 500 });
    expect(c.schema).toBe('intercom');
    expect(c.schedule.contactsPull).toBe('*/1 * * * *');
    expect(c.sync.conflictPolicy).toBe('newest_wins');
    expect(Object.isFrozen(c) && Object.isFrozen(c.intercom)).toBe(true);
  });

  it('names every bad variable in one error, and never echoes a value', () => {
    const token = 'dG9rOnNlY3JldC12YWx1ZQ==';
    let error: unknown;
    try {
      parseConfig({
        DATABASE_URL: token,
        INTERCOM_ACCESS_TOKEN: token,
        INTERCOM_RATE_LIMIT_PER_MINUTE: 'lots',
        SYNC_SCHEMA: 'Bad-Name',
        CONFLICT_POLICY: 'coin_flip',
        LOG_PII: 'maybe',
        CONTACTS_PULL_CRON: 'every minute',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.issues.map((i) => i.variable).sort()).toEqual(
      ['CONFLICT_POLICY', 'CONTACTS_PULL_CRON', 'DATABASE_URL', 'INTERCOM_RATE_LIMIT_PER_MINUTE', 'LOG_PII', 'SYNC_SCHEMA'].sort(),
    );
    expect(e.message).not.toContain(token);
    expect(e.message).toContain('CONFLICT_POLICY: must be one of newest_wins, local_wins, remote_wins');
  });

  it('refuses system and shared schemas for SYNC_SCHEMA', () => {
    for (const schema of ['information_schema', 'public', 'pg_catalog', 'pg_toast', 'pg_temp_3']) {
      expect(() => parseConfig({ SYNC_SCHEMA: schema }), schema).toThrow(ConfigError);
      try {
        parseConfig({ SYNC_SCHEMA: schema });
      } catch (err) {
        expect((err as ConfigError).issues).toEqual([
          { variable: 'SYNC_SCHEMA', problem: expect.stringMatching(/system or shared schema/) },
        ]);
      }
    }
    expect(parseConfig({ SYNC_SCHEMA: 'crm_sync' }).schema).toBe('crm_sync');
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ INTERCOM_BASE_URL: '', LOG_LEVEL: '' }).intercom.baseUrl).toBe('https://api.intercom.io');
  });
});
