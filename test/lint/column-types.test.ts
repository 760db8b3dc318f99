import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The set-based pull statements declare a column type for every contact snapshot field (CONTACT_COLUMN_TYPES in
 * src/db/queries/local-rows.ts). A field the map lacks would be left out of those statements, so the compiler must
 * refuse a map whose keys are not exactly the snapshot's fields. This test type-checks copies of local-rows.ts with the map
 * changed, held in memory beside it, under the project's own compiler options.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = readFileSync(join(ROOT, 'src/db/queries/local-rows.ts'), 'utf8');

/** Type-checks variants of local-rows.ts side by side (in memory, one program: the checker's work is shared). */
function diagnostics(variants: Record<string, string>): Record<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('tsconfig.json did not parse');
  const files = new Map(Object.entries(variants).map(([name, code]) => [join(ROOT, `src/db/queries/planted-${name}.ts`), code]));
  const host = ts.createCompilerHost(config.options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => {
    const code = files.get(name);
    return code === undefined ? getSourceFile.call(host, name, lang, ...rest) : ts.createSourceFile(name, code, lang);
  };
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...files.keys()], config.options, host);
  return Object.fromEntries(
    Object.keys(variants).map((name) => [
      name,
      program
        .getSemanticDiagnostics(program.getSourceFile(join(ROOT, `src/db/queries/planted-${name}.ts`)))
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    ]),
  );
}

describe('CONTACT_COLUMN_TYPES covers exactly the contact snapshot fields', () => {
  it('fails to compile without a field, or with one the snapshot does not have', () => {
    const without = SOURCE.replace(/^\s*phone: 'text',\n/m, '\n');
    const extra = SOURCE.replace(/^(\s*)phone: 'text',\n/m, "$1phone: 'text',\n$1fax: 'text',\n");
    expect(without).not.toBe(SOURCE);
    expect(extra).not.toBe(SOURCE);
    const found = diagnostics({ asIs: SOURCE, without, extra });
    expect(found.asIs).toEqual([]);
    expect(found.without).toContainEqual(expect.stringContaining("Property 'phone' is missing"));
    expect(found.extra).toContainEqual(expect.stringContaining("'fax' does not exist"));
  });
});
