import { defineConfig } from 'vitest/config';

// Three projects in `npm test`: `unit` (no servers, no external binaries, fast), `infra` (the
// deployment files through promtool and amtool) and `integration` (real Temporal dev server, MinIO
// and loopback origins, started once per run by test/support/global-setup.ts). `bench` and
// `cluster` (the real Temporal server on PostgreSQL with mTLS, test/cluster/global-setup.ts) run
// on their own: `npm run bench`, `npm run test:cluster`.
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        // Needs promtool and amtool on PATH (scripts/tools.sh provides them).
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        // Not part of `npm test`: `npm run bench` runs it.
        test: {
          name: 'bench',
          include: ['bench/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/runtime-setup.ts'],
          testTimeout: 3_600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Not part of `npm test`: `npm run test:cluster` runs it (docs/deployment.md, Cluster suite).
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          setupFiles: ['test/support/runtime-setup.ts'],
          testTimeout: 900_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/runtime-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores: one file at a time keeps timings honest and the machine responsive.
          fileParallelism: false,
        },
      },
    ],
  },
});
