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
  },
}));
