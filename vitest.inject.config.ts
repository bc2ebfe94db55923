import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    reporters: ['default', './test/support/flaky-reporter.ts'],
    projects: [{
      test: {
        name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['./test/e2e/log-scan.global.ts'], environment: 'node',
        testTimeout: 180_000, hookTimeout: 120_000, maxWorkers: 2, retry: 1, fileParallelism: true,
        setupFiles: ['/tmp/inject-retry.ts'],
      },
    }],
  },
});
