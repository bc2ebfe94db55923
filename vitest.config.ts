// One `vitest run` drives the three layers: edge inside workerd, origin in Node, and the whole stack end to end.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      './test/edge/vitest.config.ts',
      {
        test: {
          name: 'origin',
          include: ['test/origin/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Scans every log line of the whole run for every secret the stacks saw (test/support/log-secrets.ts).
          globalSetup: ['./test/e2e/log-scan.global.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // End-to-end files start real processes on loopback (edge, origin, ffmpeg encoders and transcoders):
          // they run after the unit projects, two files at a time, so 2 cores are not oversubscribed.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
