import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  const token = 'dG9rOjEyMzQ1Njc4OTA6c2VjcmV0';

  it('never writes the access token, wherever it hides', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'debug', pii: false, secrets: [token], destination });
    log.info({ token, headers: { authorization: `Bearer ${token}` } }, 'request');
    log.error({ err: new Error(`401 for token ${token}`) }, `failed with ${token}`);
    log.child({ config: { intercom: { accessToken: token } } }).warn('child');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).not.toContain(token);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('redacts email, phone and name unless LOG_PII=true', () => {
    const quiet = capture();
    createLogger({ level: 'info', pii: false, destination: quiet.destination }).info(
      { contact: { email: 'ann@example.com', phone: '+1555', name: 'Ann' }, email: 'bob@example.com' },
      'row',
    );
    expect(quiet.lines[0]).not.toMatch(/ann@example.com|bob@example.com|\+1555|"Ann"/);
    // A job's or a module's name is not personal data.
    createLogger({ level: 'info', pii: false, destination: quiet.destination }).info({ jobs: [{ name: 'contacts-pull' }] }, 'jobs');
    expect(quiet.lines[1]).toContain('contacts-pull');
    const loud = capture();
    createLogger({ level: 'info', pii: true, destination: loud.destination }).info({ email: 'bob@example.com' }, 'row');
    expect(loud.lines[0]).toContain('bob@example.com');
  });

  it('writes JSON lines', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'info', pii: false, destination }).info({ module: 'pull', n: 3 }, 'pulled');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, module: 'pull', n: 3, msg: 'pulled' });
  });

  it('logs at most a bounded excerpt of any outside string (a 500 KB id is not a 500 KB line)', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pii: false, destination });
    const huge = 'i'.repeat(500 * 1024);
    log.info({ ids: [huge], topic: huge, nested: { deeper: { id: huge } } }, 'webhook queued');
    log.child({ ids: [huge] }).info('child with outside bindings');
    log.error({ err: new Error(`Intercom said ${huge}`) }, 'request failed');
    log.warn(`refused ${huge}`);
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line.length).toBeLessThan(16 * 1024);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    // The excerpt says that something was cut, and how much.
    expect(lines[0]).toMatch(/more chars\]/);
  });
});
