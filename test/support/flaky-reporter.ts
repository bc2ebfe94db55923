// A vitest reporter that names every test which passed only on a retry, with the error of its failed attempt.
// Under CI the origin and e2e layers retry a failed test once (real ffmpeg, real processes, 2 shared cores): a retry
// keeps one slow moment from hiding a whole run's results, and this report keeps that moment from being forgotten.
// With RIVERHEAD_FAILED_FILES set it also writes the files that failed, one per line, for scripts/test.sh to re-run.
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const diagnostic = testCase.diagnostic();
    if (!diagnostic?.flaky) return;
    const firstError = testCase.result().errors?.[0]?.message?.split('\n')[0] ?? 'no error recorded';
    this.flaky.push(`${testCase.project.name} ${testCase.module.moduleId.replace(`${process.cwd()}/`, '')} > ${testCase.fullName} ` +
      `(passed on retry ${diagnostic.retryCount}; first failure: ${firstError})`);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown> = []): void {
    const failedFilesPath = process.env.RIVERHEAD_FAILED_FILES;
    if (failedFilesPath) {
      const failed = modules.filter((m) => m.state() === 'failed').map((m) => m.moduleId.replace(`${process.cwd()}/`, ''));
      writeFileSync(failedFilesPath, failed.map((f) => `${f}\n`).join(''));
      // An error outside any test fails the run whatever a re-run of the failed files does.
      if (unhandledErrors.length > 0) blockRerun(`${unhandledErrors.length} unhandled error(s) outside the tests`);
    }
    if (this.flaky.length === 0) {
      console.log('flaky tests: none (no test needed a retry)');
      return;
    }
    console.log(`flaky tests: ${this.flaky.length} passed only on a retry`);
    for (const line of this.flaky) console.log(`  FLAKY ${line}`);
  }
}

/** Tells scripts/test.sh that this run failed for a reason a re-run of its failed files cannot clear. */
export function blockRerun(reason: string): void {
  const failedFilesPath = process.env.RIVERHEAD_FAILED_FILES;
  if (failedFilesPath) appendFileSync(`${failedFilesPath}.blocked`, `${reason}\n`);
}
