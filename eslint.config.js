// ESLint flat config (https://eslint.org/docs/latest/use/configure/configuration-files) with typescript-eslint's
// type-aware rules (https://typescript-eslint.io/getting-started/typed-linting). Run by `npm test` through
// `npm run lint`; test/lint/boundaries.test.ts proves that a planted boundary violation fails it.
//
// The layer rules of docs/ARCHITECTURE.md are written here as import restrictions, so a change that breaks a layer
// fails CI instead of waiting for review. A later config object replaces (does not merge) an earlier one's options
// for the same rule, so each directory's list is built in full by `restrict`.
import js from '@eslint/js';
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
    // Plain JavaScript (this file, bin/) has no types to check against.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  { files: ['bin/*.js'], languageOptions: { globals: { process: 'readonly' } } },
);
