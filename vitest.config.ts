import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Each file starts its own embedded database (and, with TEST_DATABASE_URL, its own PostgreSQL
    // database); two workers fit the machines' two cores.
    maxWorkers: 2,
    pool: 'forks',
  },
});
