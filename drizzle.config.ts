import { defineConfig } from 'drizzle-kit';

// `drizzle-kit generate` needs no database: it diffs src/db/schema.ts against migrations/meta.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations',
  schemaFilter: ['intercom'],
});
