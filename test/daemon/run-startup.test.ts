import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { waitFor } from './helpers.ts';
import { getJson, spawnDaemon } from './process-helpers.ts';

/** `intercom-sync run` refusing to start must say why and exit, never hang with half-built resources. */
let tdb: TestDatabase;
let sim: RunningSimulator;
let blocker: Server;
let blockedPort: number;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
  blocker = createServer();
  blockedPort = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
});

afterAll(async () => {
  await new Promise((r) => blocker.close(r));
  await sim.close();
  await tdb.drop();
});

describe('intercom-sync run refusing to start', () => {
  it('with no access token, syncs with the bundled simulator (said loudly) and still stops cleanly', async () => {
    const d = await spawnDaemon('no-token', { DATABASE_URL: tdb.url });
    const ready = await waitFor(
      'ready on the bundled simulator',
      async () => {
        const r = await getJson(`${d.url}/readyz`);
        return r?.status === 200 ? r : null;
      },
      45_000,
      200,
    );
    expect(ready.body).toMatchObject({ status: 'ready' });
    expect(d.output()).toContain('syncing with the bundled Intercom simulator, not a real workspace');
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
  });

  it('exits 2 naming a bad variable', async () => {
    const d = await spawnDaemon('bad-env', { DATABASE_URL: tdb.url, INTERCOM_BASE_URL: 'not a url', INTERCOM_ACCESS_TOKEN: sim.token });
    const { code } = await d.exited;
    expect(code).toBe(2);
    expect(d.output()).toContain('INTERCOM_BASE_URL');
  });

  it('exits 1 when the HTTP port is taken, after releasing what it had opened', async () => {
    const d = await spawnDaemon('port-taken', {
      DATABASE_URL: tdb.url,
      INTERCOM_BASE_URL: sim.url,
      INTERCOM_ACCESS_TOKEN: sim.token,
      HTTP_PORT: String(blockedPort),
    });
    const { code } = await d.exited;
    expect(code).toBe(1);
    expect(d.output()).toContain('EADDRINUSE');
    expect(d.output()).toContain('shutdown complete');
  });
});
