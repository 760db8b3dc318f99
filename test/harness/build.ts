import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD_INFO = join(ROOT, 'dist', '.tsbuildinfo');

/**
 * Tests that start `bin/intercom-sync.js` run the compiled code in dist/, as users do. `npm ci` builds it (the
 * `prepare` script); after an edit to src/ it would be stale, so the suite rebuilds it first (incrementally).
 */
export function ensureFreshBuild(): void {
  const built = mtime(BUILD_INFO);
  if (built !== null && newest(join(ROOT, 'src')) <= built && (mtime(join(ROOT, 'tsconfig.build.json')) ?? 0) <= built) return;
  console.log('[test harness] src/ changed since the last build: npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

function mtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : (mtime(path) ?? 0));
  }
  return max;
}
