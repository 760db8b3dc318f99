import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // Integration tests talk to real Postgres and HTTP servers; give them room but keep the whole suite bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Files share a worker process instead of each starting a fresh one: loading intercom-client, drizzle and the
    // sources again per file cost about as much CPU as the small files' tests themselves. Files do not share state:
    // each makes its own database, simulator and gateways and closes them (https://vitest.dev/config/#isolate).
    isolate: false,
  },
});
