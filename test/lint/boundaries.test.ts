import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import ts from 'typescript';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

/**
 * `npm run lint` is the check that keeps the layers of docs/ARCHITECTURE.md apart. These tests plant code in the
 * project's own ESLint config (eslint.config.js) at paths inside the layers and assert the rule that must fire
 * does, and that the same code in a layer allowed to hold it passes. The planted files exist only in memory.
 *
 * The boundary rules are syntactic, so they run without type information: type-checking planted imports of
 * intercom-client alone costs tens of seconds. The promise rules need types: the planted file gets a TypeScript
 * program of its own, held in memory, instead of the project service (which would load the whole project first).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
type Planted = `src/${'sync' | 'daemon' | 'db' | 'intercom' | 'cli'}/planted.ts`;
const syntactic = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked });

function typed(path: Planted, code: string): ESLint {
  const file = join(ROOT, path);
  const options: ts.CompilerOptions = { strict: true, target: ts.ScriptTarget.ES2023, lib: ['lib.es2023.d.ts'], types: [], noEmit: true };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, code, lang) : getSourceFile.call(host, name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? code : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  return new ESLint({ cwd: ROOT, overrideConfig: { languageOptions: { parserOptions: { projectService: false, programs: [program] } } } });
}

async function lint(path: Planted, code: string, withTypes = false): Promise<string[]> {
  const eslint = withTypes ? typed(path, code) : syntactic;
  const [result] = await eslint.lintText(code, { filePath: path });
  const messages = result?.messages ?? [];
  // A parse failure would make every "no violation" assertion pass vacuously.
  expect(messages.filter((m) => m.fatal)).toEqual([]);
  return messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('lint: layer boundaries', () => {
  it('sync/ imports no pg, drizzle-orm, bottleneck, intercom-client or node:os, and does not touch process', async () => {
    const code = [
      `import pg from 'pg';`,
      `import { sql } from 'drizzle-orm';`,
      `import Bottleneck from 'bottleneck';`,
      `import { IntercomClient } from 'intercom-client';`,
      `import { hostname } from 'node:os';`,
      `export const used = [pg, sql, Bottleneck, IntercomClient, hostname];`,
      `export const pid = process.pid;`,
      `export const env = globalThis.process.env;`,
    ].join('\n');
    const found = await lint('src/sync/planted.ts', code);
    for (const mod of ['pg', 'drizzle-orm', 'bottleneck', 'intercom-client', 'node:os']) {
      expect(found).toContainEqual(expect.stringMatching(new RegExp(`^no-restricted-imports: '${mod}' import is restricted`)));
    }
    expect(found.filter((m) => m.startsWith('no-restricted-globals:'))).toHaveLength(1);
    expect(found.filter((m) => m.startsWith('no-restricted-properties:'))).toHaveLength(1);
  });

  it('pure code passes in sync/', async () => {
    const found = await lint('src/sync/planted.ts', `export function add(a: number, b: number): number {\n  return a + b;\n}\n`);
    expect(found).toEqual([]);
  });

  it('only src/intercom/ imports intercom-client', async () => {
    const code = `import { IntercomClient } from 'intercom-client';\nexport const C = IntercomClient;\n`;
    expect(await lint('src/daemon/planted.ts', code)).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'intercom-client'/));
    expect(await lint('src/db/planted.ts', code)).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'intercom-client'/));
    expect(await lint('src/intercom/planted.ts', code)).toEqual([]);
  });

  it('only src/db/ imports pg or drizzle-orm, or writes SQL text', async () => {
    const code = [
      `import pg from 'pg';`,
      `import { eq } from 'drizzle-orm';`,
      `import { drizzle } from 'drizzle-orm/node-postgres';`,
      `export const used = [pg, eq, drizzle];`,
      `export const q = 'SELECT pg_try_advisory_lock($1)';`,
      'export const t = (s: string) => `UPDATE ${s}.contacts SET name = $1`;',
    ].join('\n');
    const found = await lint('src/cli/planted.ts', code);
    expect(found).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'pg' import is restricted/));
    expect(found).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'drizzle-orm' import is restricted/));
    expect(found).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'drizzle-orm\/node-postgres' import is restricted/));
    expect(found.filter((m) => m.startsWith('no-restricted-syntax: Only src/db/ builds SQL'))).toHaveLength(2);
    expect(await lint('src/intercom/planted.ts', code)).toContainEqual(expect.stringMatching(/^no-restricted-imports: 'pg'/));
    expect(await lint('src/db/planted.ts', code)).toEqual([]);
  });
});

describe('lint: promises', () => {
  it('a promise nobody awaits, or one handed where a void callback is expected, fails', async () => {
    const code = [
      `async function work(): Promise<void> {`,
      `  await Promise.resolve();`,
      `}`,
      `export function start(later: (callback: () => void) => void): void {`,
      `  work();`,
      `  later(async () => {`,
      `    await work();`,
      `  });`,
      `}`,
    ].join('\n');
    const found = await lint('src/daemon/planted.ts', code, true);
    expect(found).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-floating-promises:/));
    expect(found).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-misused-promises:/));
    const fixed = code.replace('  work();', '  void work();').replace('later(async () => {\n    await work();', 'later(() => {\n    void work();');
    expect(await lint('src/daemon/planted.ts', fixed, true)).toEqual([]);
  });
});
