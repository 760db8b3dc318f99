import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/http/webhook-signature.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.ts';
import { createTestDatabase, type TestDatabase } from '../harness/db.ts';
import { getJson, killDaemon, startQuietDaemon, type DaemonProcess } from '../daemon/process-helpers.ts';

/**
 * The daemon's HTTP port faces the internet (webhooks), so no request, however malformed, may end the process. One
 * 40-byte request did: `GET http://[ HTTP/1.1` made `new URL()` throw inside the request listener. Here a real
 * `intercom-sync run` child process gets hand-written and generated requests over a raw TCP socket (fetch would
 * refuse to send most of them), and after each one the process must still run and answer /healthz.
 */
const SECRET = 'hostile-requests-secret';
const ROUTES = ['/', '/healthz', '/readyz', '/metrics', '/webhooks/intercom'];

let tdb: TestDatabase;
let sim: RunningSimulator;
let daemon: DaemonProcess;
let port: number;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sim = await startSimulator({ port: 0, rateLimitPerMinute: 0 });
  daemon = await startQuietDaemon('hostile', { databaseUrl: tdb.url, intercom: sim, env: { INTERCOM_CLIENT_SECRET: SECRET } });
  port = Number(new URL(daemon.url).port);
}, 90_000);

afterAll(async () => {
  await killDaemon(daemon);
  await sim?.close();
  await tdb?.drop();
});

/**
 * Sends raw bytes, half-closes, and collects whatever comes back until the daemon closes the socket (at most
 * `boundMs`: a bound on the wait, not an assertion). Returns the status of the first answer, if any.
 */
function raw(bytes: Buffer | string, boundMs = 5000): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    };
    const timer = setTimeout(done, boundMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

async function stillAlive(what: string): Promise<void> {
  if (!daemon.alive()) throw new Error(`the daemon died after ${what}:\n${daemon.output().slice(-3000)}`);
  const health = await getJson(`${daemon.url}/healthz`);
  if (health?.status !== 200) throw new Error(`/healthz did not answer 200 after ${what} (got ${health?.status ?? 'no answer'})`);
}

describe('requests that do not parse', () => {
  it('a request target that is not a URL (`GET http://[`) is answered 400 and the daemon lives on', async () => {
    for (const target of ['http://[', 'http://[::1', 'http://a b/', 'http://:99999/', 'http://[/?hours=1']) {
      for (const route of ['', '/', '/metrics']) {
        const r = await raw(`GET ${target}${route} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await stillAlive(`GET ${target}${route}`);
        expect(r.status, `GET ${target}${route}: ${r.text.slice(0, 200)}`).toBe(400);
      }
    }
  });

  it('a malformed request line or header is answered 400 by Node, and the daemon lives on', async () => {
    for (const bytes of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET /\u0000 HTTP/1.1\r\n\r\n']) {
      const r = await raw(bytes);
      await stillAlive(JSON.stringify(bytes));
      expect(r.status, JSON.stringify(bytes)).toBe(400);
    }
  });
});

describe('fuzz: malformed request lines, headers and targets on every route', () => {
  it('never ends the daemon, never answers 500', async () => {
    const seed = Number(process.env.HTTP_FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`hostile-requests fuzz seed: ${seed} (HTTP_FUZZ_SEED=${seed} to replay)`);
    const junk = fc.string({ unit: 'binary', maxLength: 40 });
    const route = fc.constantFrom(...ROUTES);
    const target = fc.oneof(
      route,
      fc.tuple(route, junk).map(([r, j]) => r + j),
      fc.tuple(route, fc.constantFrom('?hours=', '?token=', '?hours=1&token=', '#', '?%', '?%zz=%ff')).chain(([r, q]) => junk.map((j) => r + q + j)),
      fc.tuple(fc.constantFrom('http://', 'https://', 'http://[', 'http://[::1]', 'HTTP://', '//', 'ftp://'), junk, route).map(([s, h, r]) => s + h + r),
      fc.constantFrom('*', '', ' ', '%', '%%', '/..%2f..%2f', '\\\\', '/\u00ff\u00fe', 'http://[', 'http://[/', '/?hours=\u0000'),
      fc.nat({ max: 20_000 }).map((n) => `/${'a'.repeat(n)}`),
    );
    const method = fc.oneof(
      fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'G T', ''),
      fc.string({ unit: 'grapheme-ascii', maxLength: 10 }),
    );
    const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 extra', '', 'http/1.1');
    const header = fc.oneof(
      fc.constantFrom(
        'Host: x',
        'Authorization: Bearer ',
        'Authorization: Bearer \u00ff\u00fe',
        `Authorization: Bearer ${' '.repeat(8000)}x`,
        'Authorization: Basic Zm9vOmJhcg==',
        'Content-Length: -1',
        'Content-Length: 99999999999999999999',
        'Content-Length: 5\r\nContent-Length: 6',
        'Transfer-Encoding: chunked',
        'Transfer-Encoding: gzip, chunked',
        'Expect: 100-continue',
        'Upgrade: websocket\r\nConnection: Upgrade',
        'Connection: keep-alive',
        'X-Hub-Signature: sha1=0000000000000000000000000000000000000000',
        'X-Hub-Signature: sha1=zz',
        'X-Hub-Signature: ',
        'Content-Type: application/json',
        ' folded: continuation',
        'No-Colon',
        'Bad Name: x',
        ': empty-name',
        `Big: ${'b'.repeat(20_000)}`,
      ),
      fc.tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 12 }), junk).map(([n, v]) => `${n}: ${v}`),
    );
    const body = fc.oneof(
      fc.constant(''),
      junk,
      fc.constantFrom('{', '{"type":"notification_event","topic":"contact.created","data":{"item":{"type":"contact"}}}', '0\r\n\r\n', 'zz\r\n'),
    );
    const eol = fc.constantFrom('\r\n', '\n', '\r');
    // Half the requests are framed as Node accepts them, so they reach the routes with hostile targets, headers and
    // bodies; the other half break the framing itself.
    const targetChars = fc.string({ unit: fc.constantFrom(...'abz09/[]%?#:@!$&\'()*+,;=-._~'), maxLength: 40 });
    const valueChars = fc.string({ unit: fc.constantFrom(...'aZ9 \t=;,:"/\\[]%\u00a0\u00ff'), maxLength: 60 });
    const framed = fc.record({
      method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
      target: fc.oneof(
        route,
        fc.tuple(route, fc.constantFrom('?', '#', '?x=1&'), targetChars).map(([r, q, j]) => r + q + j),
        fc.tuple(route, targetChars).map(([r, j]) => r + j),
        fc.tuple(fc.constantFrom('http://', 'http://[', 'http://[::1]:', 'http://x:', '//'), targetChars, route).map(([a, b, c]) => a + b + c),
        fc.tuple(route, fc.constantFrom('?hours=', '?token=', '?hours=24&hours=')).chain(([r, q]) => targetChars.map((j) => r + q + j)),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
      headers: fc.array(
        fc.oneof(
          fc.constantFrom('Authorization', 'X-Hub-Signature', 'Content-Type', 'Cookie', 'X-Forwarded-For', 'Accept').chain((n) => valueChars.map((v) => `${n}: ${v}`)),
          valueChars.map((v) => `Authorization: Bearer ${v}`),
        ),
        { maxLength: 4 },
      ),
      body: fc.oneof(fc.constant(''), valueChars, fc.json({ maxDepth: 3 })),
      eol: fc.constant('\r\n'),
      signed: fc.boolean(),
    }).map((r) => ({ ...r, headers: ['Host: x', ...r.headers], framed: true }));
    const broken = fc.record({ method, target, version, headers: fc.array(header, { maxLength: 6 }), body, eol, signed: fc.boolean(), framed: fc.constant(false) });
    const request = fc.oneof(framed, broken);

    const answered = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers = [...r.headers];
        // Some bodies carry a valid signature, so malformed notifications get past the signature check too.
        if (r.signed) headers.push(`X-Hub-Signature: ${signBody(Buffer.from(r.body, 'latin1'), SECRET)}`);
        if (r.signed || r.framed) headers.push(`Content-Length: ${Buffer.byteLength(r.body, 'latin1')}`);
        const bytes = Buffer.from(`${r.method} ${r.target} ${r.version}${r.eol}${headers.map((h) => h + r.eol).join('')}${r.eol}${r.body}`, 'latin1');
        const answer = await raw(bytes);
        answered.set(String(answer.status ?? 'closed'), (answered.get(String(answer.status ?? 'closed')) ?? 0) + 1);
        await stillAlive(`${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`);
        if (answer.status === 500) throw new Error(`answered 500: ${answer.text.slice(0, 300)}`);
      }),
      { seed, numRuns: 300, endOnFailure: true },
    );
    console.log(`hostile-requests answers: ${JSON.stringify(Object.fromEntries([...answered].sort()))}`);
    // A well-formed request on every route still works afterwards.
    for (const path of ['/', '/healthz', '/readyz', '/metrics']) expect((await fetch(`${daemon.url}${path}`)).status).toBe(200);
  }, 300_000);
});
