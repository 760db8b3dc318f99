import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';

// `intercom-sync simulator --profile realistic` is how people outside the test suite get the harsh simulator.
const BIN = new URL('../../bin/intercom-sync.js', import.meta.url).pathname;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
});

/** Starts the command and resolves with everything it printed once `until` matches, or rejects when it exits. */
function run(args: string[], until: RegExp): Promise<{ out: string; code: number | null }> {
  const p = spawn(process.execPath, [BIN, 'simulator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = p;
  let out = '';
  return new Promise((resolve) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (until.test(out)) resolve({ out, code: null });
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.once('exit', (code) => resolve({ out, code }));
  });
}

it('starts the realistic profile from the command line, with a fixed latency override', async () => {
  const { out } = await run(['--port', '0', '--profile', 'realistic', '--latency-ms', '5'], /listening on (\S+)/);
  const url = /listening on (\S+)/.exec(out)![1]!;
  const cfg = (await (await fetch(`${url}/__sim/config`)).json()) as Record<string, unknown>;
  expect(cfg).toMatchObject({ profile: 'realistic', latency: { fixed_ms: 5 }, duplicate_leads_allowed: true, lead_external_id: 'drop' });
  child!.kill('SIGTERM');
  const [code] = (await once(child!, 'exit')) as [number | null];
  expect(code).toBe(0);
});

it('refuses an unknown profile', async () => {
  const { out, code } = await run(['--port', '0', '--profile', 'harsh'], /(?!)/);
  expect(code).not.toBe(0);
  expect(out).toContain("--profile must be 'default' or 'realistic'");
});
