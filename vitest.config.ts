// One `vitest run` drives the three layers: edge inside workerd, origin in Node, and the whole stack end to end.
import { defineConfig } from 'vitest/config';

// Under CI a test gets one retry (the edge project sets its own, test/edge/vitest.config.ts): the layers drive real
// processes (ffmpeg, workerd, our origin) on 2 shared cores, which make a rare slow moment, and one must not hide a
// whole run. Every retried test is named at the end of the run
// (test/support/flaky-reporter.ts), so a flake is seen and fixed, not absorbed.
const retry = process.env.CI ? 1 : 0;

export default defineConfig({
  test: {
    reporters: ['default', './test/support/flaky-reporter.ts'],
    projects: [
      './test/edge/vitest.config.ts',
      {
        test: {
          name: 'origin',
          include: ['test/origin/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // vitest's default on 2 cores is one worker; most origin files wait on sockets and timers, not the CPU.
          maxWorkers: 2,
          retry,
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
          retry,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
