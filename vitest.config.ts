import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies. Node loads the CJS one for the
    // libraries (Pothos, yoga); Vite would hand our code the ESM one, and two graphql copies
    // refuse each other's types. Point everything at the one Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // Ceilings that catch a hang, never a measure of speed: a loaded 2-core machine runs these
    // several times slower than a quiet one, and no test may fail for that.
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Each file starts its own embedded database (and, with TEST_DATABASE_URL, its own PostgreSQL
    // database); two workers fit the machines' two cores.
    maxWorkers: 2,
    pool: 'forks',
  },
});
