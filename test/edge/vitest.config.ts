// The edge test project: the Worker and its StreamObjects run inside workerd, with D1 migrations applied per file.
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';

const root = path.resolve(import.meta.dirname, '../..');

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      main: path.join(root, 'edge/index.ts'),
      wrangler: { configPath: path.join(root, 'wrangler.toml') },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(path.join(root, 'edge/migrations')),
          ADMIN_TOKEN: 'test-admin-token',
          ORIGIN_SECRET: 'test-origin-secret',
        },
      },
    }),
  ],
  test: {
    name: 'edge',
    root,
    include: ['test/edge/**/*.test.ts'],
    setupFiles: ['test/edge/apply-migrations.ts'],
    // Each file starts its own workerd (~3 s): two at a time halves that wall time on 2 cores (vitest's default is one).
    maxWorkers: 2,
    // Some files drive hundreds of Queue messages or Durable Object calls in one test (4–5 s alone on a quiet machine):
    // vitest's 5 s default is a deadline for a hang, not a speed target, so it gets room for two files at once.
    testTimeout: 30_000,
    // As the origin and e2e layers (vitest.config.ts): one retry under CI, named by test/support/flaky-reporter.ts.
    retry: process.env.CI ? 1 : 0,
  },
}));
