import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;

/** The README's first command, as a newcomer runs it: no DATABASE_URL, no token. */
describe('intercom-sync demo', () => {
  it('syncs both ways on embedded Postgres and the simulator, prints the reports and exits 0', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--contacts', '120', '--companies', '20'], {
      env: { PATH: process.env.PATH ?? '' },
      timeout: 120_000,
    });
    // Local and remote edits both arrived on the other side.
    expect(stdout).toMatch(/contact \d+: local "Grace Hopper \(edited locally\)" \| Intercom "Grace Hopper \(edited locally\)"/);
    expect(stdout).toMatch(/contact \d+: local "Edsger Dijkstra \(edited in Intercom\)" \| Intercom "Edsger Dijkstra \(edited in Intercom\)"/);
    // The conflict went to the newer (Intercom) name, and the field changed only locally was kept.
    expect(stdout).toMatch(/local "Conflict: Intercom name" \+15550100 \| Intercom "Conflict: Intercom name" \+15550100/);
    // Both merges: pushed (local request) and pulled (merged in Intercom).
    expect(stdout.match(/lead \d+: mapping merged into [0-9a-f]{24}/g)).toHaveLength(2);
    for (const report of ['overview', 'daily_activity', 'conflicts', 'merges', 'api_usage']) {
      expect(stdout).toContain(`report ${report}`);
    }
    expect(stdout).toMatch(/\d+ Intercom requests, 0 rate-limited/);
  });
});
