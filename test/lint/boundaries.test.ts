import { readFileSync } from 'node:fs';
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
type Planted = `src/${string}.ts`;
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

  it('sync/ imports nothing from cli/, http/, daemon/, demo/, reports/, the simulator or the composition roots', async () => {
    const layers = [
      '../cli/main.ts',
      '../http/server.ts',
      '../daemon/lifecycle.ts',
      '../engines.ts',
      '../main.ts',
      '../demo/demo.ts',
      '../reports/format.ts',
      '../simulator/server.ts',
    ];
    const code = [...layers.map((path, i) => `import * as m${i} from '${path}';`), `export const used = [${layers.map((_, i) => `m${i}`).join(', ')}];`];
    const found = await lint('src/sync/planted.ts', code.join('\n'));
    for (const path of layers) {
      expect(found).toContainEqual(expect.stringMatching(new RegExp(`^import-x/no-restricted-paths: Unexpected path "${path.replaceAll('.', '\\.')}"`)));
    }
    // Type-only makes no difference: the engines do not know who calls them.
    const typeOnly = `import type { HttpServer } from '../http/server.ts';\nexport type T = HttpServer;\n`;
    expect(await lint('src/sync/planted.ts', typeOnly)).toContainEqual(expect.stringMatching(/^import-x\/no-restricted-paths:/));
  });

  it('sync/ names db/ and intercom/ in type imports only: their implementations come in as ports', async () => {
    const values = [
      `import { createPushStore } from '../db/queries/outbox.ts';`,
      `import { createGateway } from '../intercom/gateway.ts';`,
      `export const used = [createPushStore, createGateway];`,
    ].join('\n');
    const found = await lint('src/sync/planted.ts', values);
    expect(found).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-restricted-imports: '\.\.\/db\/queries\/outbox\.ts' import is restricted/));
    expect(found).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-restricted-imports: '\.\.\/intercom\/gateway\.ts' import is restricted/));
    // Deeper in sync/ the same import climbs one more level.
    const nested = await lint('src/sync/push/planted.ts', `import { createPushStore } from '../../db/queries/outbox.ts';\nexport const used = createPushStore;\n`);
    expect(nested).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-restricted-imports:/));
    // `import { type X }` still loads the module under verbatimModuleSyntax: it must be written `import type`.
    const inline = await lint('src/sync/planted.ts', `import { type PushStore } from '../db/queries/outbox.ts';\nexport type S = PushStore;\n`);
    expect(inline).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-import-type-side-effects:/));

    const types = [
      `import type { PushStore } from '../db/queries/outbox.ts';`,
      `import type { IntercomGateway } from '../intercom/gateway.ts';`,
      `import { CONTACT_FIELDS } from '../contract/snapshot.ts';`,
      `import { countOutcome } from './outcome.ts';`,
      `export type Used = [PushStore, IntercomGateway];`,
      `export const used = [CONTACT_FIELDS, countOutcome];`,
    ].join('\n');
    expect(await lint('src/sync/planted.ts', types)).toEqual([]);
  });

  it('db/ names only the store ports of sync/, as types; nothing below imports a layer above it', async () => {
    const found = await lint(
      'src/db/planted.ts',
      [
        `import type { PushStorePort } from '../sync/push/ports.ts';`,
        `import type { Snapshot } from '../sync/snapshot.ts';`,
        `import { snapshotHash } from '../sync/snapshot.ts';`,
        `import * as daemon from '../daemon/lifecycle.ts';`,
        `export type T = [PushStorePort, Snapshot];`,
        `export const used = [snapshotHash, daemon];`,
      ].join('\n'),
    );
    expect(found).not.toContainEqual(expect.stringContaining('sync/push/ports.ts'));
    expect(found.filter((m) => m.startsWith('import-x/no-restricted-paths: Unexpected path "../sync/snapshot.ts"'))).toHaveLength(2);
    expect(found).toContainEqual(expect.stringMatching(/^@typescript-eslint\/no-restricted-imports: '\.\.\/sync\/snapshot\.ts' import is restricted/));
    expect(found).toContainEqual(expect.stringMatching(/^import-x\/no-restricted-paths: Unexpected path "\.\.\/daemon\/lifecycle\.ts"/));

    // The contract below both: importing anything above it fails, and so does the simulator reaching into the sync.
    expect(await lint('src/contract/planted.ts', `import * as s from '../sync/snapshot.ts';\nexport const used = s;\n`)).toContainEqual(
      expect.stringMatching(/^import-x\/no-restricted-paths: Unexpected path "\.\.\/sync\/snapshot\.ts"/),
    );
    expect(await lint('src/simulator/planted.ts', `import * as c from '../contract/snapshot.ts';\nexport const used = c;\n`)).toContainEqual(
      expect.stringMatching(/^import-x\/no-restricted-paths: Unexpected path "\.\.\/contract\/snapshot\.ts"/),
    );
  });

  it('an import cycle anywhere in src/ fails', async () => {
    // The cycle closes through a file on disk: logger.ts loads log-excerpt.ts, so a log-excerpt.ts that loads
    // logger.ts makes one. Both are in the same layer, so only the cycle rule can object.
    expect(readFileSync(join(ROOT, 'src/logger.ts'), 'utf8')).toMatch(/^import \{[^}]*\} from '\.\/log-excerpt\.ts';$/m);
    const code = `import { createLogger } from './logger.ts';\nexport const used = createLogger;\nexport function boundLine(s: string): string {\n  return s;\n}\n`;
    const found = await lint('src/log-excerpt.ts', code);
    expect(found).toEqual([expect.stringMatching(/^import-x\/no-cycle: Dependency cycle/)]);
    // A type-only import loads nothing at run time, so it closes no cycle.
    const typeOnly = `import type { Logger } from './logger.ts';\nexport type L = Logger;\nexport function boundLine(s: string): string {\n  return s;\n}\n`;
    expect(await lint('src/log-excerpt.ts', typeOnly)).toEqual([]);
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
