// ESLint flat config (https://eslint.org/docs/latest/use/configure/configuration-files) with typescript-eslint's
// type-aware rules (https://typescript-eslint.io/getting-started/typed-linting). Run by `npm test` through
// `npm run lint`; test/lint/boundaries.test.ts proves that a planted boundary violation fails it.
//
// The layer rules of docs/ARCHITECTURE.md are written here as import restrictions, so a change that breaks a layer
// fails CI instead of waiting for review. A later config object replaces (does not merge) an earlier one's options
// for the same rule, so each directory's list is built in full by `restrict`.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Only src/db/ builds SQL: the driver and the query builder stay behind its functions. */
const SQL = [
  { name: 'pg', message: 'Only src/db/ talks to Postgres: add a function in src/db/ and call it.' },
  { name: 'drizzle-orm', message: 'Only src/db/ builds SQL: add a query in src/db/queries/.' },
];
const SQL_PATTERNS = [{ group: ['drizzle-orm/*'], message: 'Only src/db/ builds SQL: add a query in src/db/queries/.' }];
/** Only src/intercom/ talks to Intercom. */
const INTERCOM = [
  { name: 'intercom-client', message: 'Only src/intercom/ talks to Intercom: go through the IntercomGateway port.' },
];
/** sync/ holds the pure engines: infrastructure and process concerns come in through their ports. */
const SYNC_ONLY = [
  { name: 'bottleneck', message: 'sync/ is pure: rate limiting belongs to src/intercom/.' },
  { name: 'os', message: 'sync/ is pure: host facts come in through its ports (from the daemon).' },
  { name: 'node:os', message: 'sync/ is pure: host facts come in through its ports (from the daemon).' },
  { name: 'process', message: 'sync/ is pure: process facts come in through its ports (from the daemon).' },
  { name: 'node:process', message: 'sync/ is pure: process facts come in through its ports (from the daemon).' },
];

/** SQL text outside src/db/: a string or template that starts with a statement keyword. */
const SQL_TEXT = '^\\s*(SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|UNLISTEN|NOTIFY|CREATE|ALTER|DROP|TRUNCATE|COPY|LOCK)\\s';
const NO_SQL_TEXT = {
  'no-restricted-syntax': [
    'error',
    { selector: `Literal[value=/${SQL_TEXT}/]`, message: 'Only src/db/ builds SQL: add a query in src/db/queries/.' },
    { selector: `TemplateLiteral > TemplateElement:first-child[value.raw=/${SQL_TEXT}/]`, message: 'Only src/db/ builds SQL: add a query in src/db/queries/.' },
  ],
};

function restrict(paths, patterns = []) {
  return { 'no-restricted-imports': ['error', { paths, patterns }] };
}

/**
 * The layers of src/ (docs/ARCHITECTURE.md "Layers"), each with the layers it may import besides itself. Anything not
 * listed is forbidden, so a new layer starts with no way in until it is placed here. Enforced on resolved files by
 * import-x/no-restricted-paths (https://github.com/un-ts/eslint-plugin-import-x/blob/master/docs/rules/no-restricted-paths.md).
 * `typesFrom` are layers it may name in `import type` only, never load: checked on the import text by
 * @typescript-eslint/no-restricted-imports with allowTypeImports (https://typescript-eslint.io/rules/no-restricted-imports).
 */
const LAYERS = {
  base: { paths: ['src/errors.ts', 'src/logger.ts', 'src/sleep.ts', 'src/log-excerpt.ts', 'src/email-shape.ts'], may: [] },
  contract: { paths: ['src/contract'], may: ['base'] },
  config: { paths: ['src/config'], may: ['base'] },
  intercom: { paths: ['src/intercom'], may: ['base', 'config'] },
  db: { paths: ['src/db'], may: ['base', 'contract', 'config'], typesFrom: ['intercom', 'sync'] },
  sync: { paths: ['src/sync'], may: ['base', 'contract', 'config'], typesFrom: ['db', 'intercom'] },
  daemon: { paths: ['src/daemon'], may: ['base', 'contract', 'config', 'db', 'sync'], typesFrom: ['intercom'] },
  reports: { paths: ['src/reports'], may: ['base', 'contract', 'config', 'db', 'sync'], typesFrom: ['intercom'] },
  http: { paths: ['src/http'], may: ['base', 'contract', 'config', 'db', 'sync', 'daemon', 'reports'], typesFrom: ['intercom'] },
  // The composition roots: they build the gateway and the stores and hand them to the engines as ports.
  engines: { paths: ['src/engines.ts'], may: ['base', 'contract', 'config', 'intercom', 'db', 'sync', 'daemon'] },
  main: { paths: ['src/main.ts'], may: ['base', 'contract', 'config', 'intercom', 'db', 'sync', 'daemon', 'http', 'reports', 'engines'] },
  demo: { paths: ['src/demo'], may: ['base', 'contract', 'config', 'intercom', 'db', 'sync', 'reports', 'engines', 'simulator'] },
  cli: {
    paths: ['src/cli'],
    may: ['base', 'contract', 'config', 'intercom', 'db', 'sync', 'daemon', 'reports', 'http', 'engines', 'main', 'demo', 'simulator'],
  },
  // The stand-in for Intercom shares no code with the sync: a bug on both sides would cancel out in the tests.
  simulator: { paths: ['src/simulator'], may: ['base'] },
};
/** db implements the store ports that sync declares: the one thing a lower layer may name from a higher one (types only). */
const STORE_PORTS = ['./push/ports.ts', './pull/ports.ts', './verify/ports.ts', './backfill/ports.ts'];

function layerZones() {
  const zones = [];
  for (const [name, layer] of Object.entries(LAYERS)) {
    const allowed = new Set([name, ...layer.may, ...(layer.typesFrom ?? [])]);
    const from = Object.entries(LAYERS)
      .filter(([other]) => !allowed.has(other))
      .flatMap(([, l]) => l.paths);
    if (from.length === 0) continue;
    const may = layer.may.length ? layer.may.join(', ') : 'nothing outside itself';
    const types = layer.typesFrom ? ` (and types from ${layer.typesFrom.join(', ')})` : '';
    zones.push({ target: layer.paths, from, message: `The ${name} layer imports only ${may}${types}: see docs/ARCHITECTURE.md "Layers".` });
  }
  zones.push({
    target: LAYERS.db.paths,
    from: LAYERS.sync.paths,
    except: STORE_PORTS,
    message: 'db/ names nothing of sync/ but the store ports it implements (src/sync/*/ports.ts), and those as types only.',
  });
  return zones;
}

/** Why a layer that may name another's types must not load it. */
const TYPES_ONLY_BECAUSE = {
  db: 'the stores reach this layer as ports built by a composition root (src/engines.ts): import db/ types only (import type).',
  intercom: 'the gateway reaches this layer as a port built by a composition root (src/engines.ts): import intercom/ types only (import type).',
  sync: 'db/ implements the store ports sync/ declares: it names their types only (import type), never a value of sync/.',
};

/** `import type` only: a runtime import from these layers is reported, a type-only one is not. */
function typesOnly(layer) {
  const patterns = (layer.typesFrom ?? []).map((other) => ({
    regex: `^(\\.\\./)+${other}/`,
    allowTypeImports: true,
    message: TYPES_ONLY_BECAUSE[other],
  }));
  return patterns.length ? { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } : {};
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'migrations/**', 'coverage/**', 'dist/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its rejection (an unhandled rejection ends the daemon) and its ordering.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Ports are interfaces of closures, not classes: passing `deps.fetch` around never loses a `this`.
      '@typescript-eslint/unbound-method': 'off',
      // It cannot narrow `unknown` past a `typeof v === 'object'` guard, so it flags the very functions that
      // stringify objects as JSON first (cellText, copyValue, checkInt).
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Tests read HTTP bodies and rows as JSON (`any`) on purpose: the assertion is the check. Fakes implement async
    // ports with synchronous bodies.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/require-await': 'off',
      // `row!.n` after a query that returns one row reads as the assertion it is, even where the receiver accepts null.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  // Layer boundaries (docs/ARCHITECTURE.md). Entry points that need a pool get it from src/db/ (createPool).
  { files: ['src/**/*.ts'], rules: { ...restrict([...SQL, ...INTERCOM], SQL_PATTERNS), ...NO_SQL_TEXT } },
  { files: ['src/db/**/*.ts'], rules: { ...restrict(INTERCOM), 'no-restricted-syntax': 'off' } },
  { files: ['src/intercom/**/*.ts'], rules: restrict(SQL, SQL_PATTERNS) },
  {
    files: ['src/sync/**/*.ts'],
    rules: {
      ...restrict([...SQL, ...INTERCOM, ...SYNC_ONLY], SQL_PATTERNS),
      // The global needs no import: forbid the name itself (https://eslint.org/docs/latest/rules/no-restricted-globals).
      'no-restricted-globals': ['error', { name: 'process', message: 'sync/ is pure: process facts come in through its ports.' }],
      'no-restricted-properties': [
        'error',
        { object: 'globalThis', property: 'process', message: 'sync/ is pure: process facts come in through its ports.' },
      ],
    },
  },
  {
    // The dependency direction between layers, and no import cycle anywhere in src/ (type-only imports load nothing
    // and are not counted: https://github.com/un-ts/eslint-plugin-import-x/blob/master/docs/rules/no-cycle.md).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver()],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones() }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // `import { type X }` keeps a side-effect import at run time under verbatimModuleSyntax: write `import type`.
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  ...Object.values(LAYERS)
    .filter((layer) => layer.typesFrom)
    .map((layer) => ({ files: layer.paths.map((p) => `${p}/**/*.ts`), rules: typesOnly(layer) })),
  {
    // Plain JavaScript (this file, bin/) has no types to check against.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  { files: ['bin/*.js'], languageOptions: { globals: { process: 'readonly' } } },
);
