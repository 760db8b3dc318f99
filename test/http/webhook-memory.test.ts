import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { getJson, killDaemon, startQuietDaemon, type DaemonProcess } from '../daemon/process-helpers.ts';

/**
 * Hostile, slow, unauthenticated clients against POST /webhooks/intercom of a real `intercom-sync run` child: 1,000
 * connections each declare a large body, send 200 KB of it and then stall. Before the body cap, the concurrency cap
 * and the streaming signature check, the daemon buffered every byte of every connection (measured: 300 connections
 * took it from 125 to 450 MB). The bound asserted here is on the child's resident memory, read from /proc.
 */
const SECRET = 'webhook-secret-for-memory-tests';
const CONNECTIONS = 1000;
const SENT_PER_CONNECTION = 200 * 1024;
/** Growth allowed over the idle daemon: the concurrency cap × the body cap, plus room for 1,000 sockets' bookkeeping. */
const RSS_GROWTH_BOUND_MB = 80;

let tdb: TestDatabase;
let sim: RunningSimulator;
let daemon: DaemonProcess;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
  daemon = await startQuietDaemon('webhook-memory', {
    databaseUrl: tdb.url,
    intercom: sim,
    env: { INTERCOM_CLIENT_SECRET: SECRET, LOG_LEVEL: 'error' },
  });
});

afterAll(async () => {
  await killDaemon(daemon);
  await sim?.close();
  await tdb?.drop();
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Opens one hostile connection: headers claiming a 900 KB body, then 200 KB of it in 16 KB chunks, then silence. */
function hostile(port: number, signed: boolean): { socket: Socket; sent: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const sent = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    const writeSlowly = async (): Promise<void> => {
      const signature = signed ? `x-hub-signature: sha1=${'ab'.repeat(20)}\r\n` : '';
      socket.write(
        `POST /webhooks/intercom HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
          `content-length: ${900 * 1024}\r\n${signature}\r\n`,
      );
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      for (let sentBytes = 0; sentBytes < SENT_PER_CONNECTION && !socket.destroyed; sentBytes += chunk.length) {
        if (!socket.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      }
    };
    socket.once('connect', () => {
      writeSlowly().then(resolve, () => resolve());
    });
  });
  return { socket, sent };
}

describe('POST /webhooks/intercom under 1,000 slow hostile connections', () => {
  it('keeps resident memory bounded and /healthz answering', async () => {
    const port = Number(new URL(daemon.url).port);
    const before = rssMb(daemon.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(daemon.pid))), 50);
    const sockets: Socket[] = [];
    try {
      const opened = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        // Half carry a signature header that looks right but is not, so they get past a header-only check.
        const h = hostile(port, i % 2 === 0);
        sockets.push(h.socket);
        opened.push(h.sent);
      }
      await Promise.all(opened);
      // Every byte has been written or refused; give the daemon a moment to take what it will, while probing it.
      const health = await getJson(`${daemon.url}/healthz`);
      await new Promise((r) => setTimeout(r, 1000));
      peak = Math.max(peak, rssMb(daemon.pid));
      const growth = peak - before;
      console.log(`webhook memory: RSS ${before.toFixed(0)} MB idle, ${peak.toFixed(0)} MB peak under ${CONNECTIONS} connections (+${growth.toFixed(0)} MB)`);
      expect(health?.status).toBe(200);
      expect(growth).toBeLessThan(RSS_GROWTH_BOUND_MB);
    } finally {
      clearInterval(sampler);
      for (const s of sockets) s.destroy();
    }
  });
});
