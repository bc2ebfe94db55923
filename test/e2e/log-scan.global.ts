// globalSetup of the e2e project: every stack of the run leaves its secrets and log lines in one folder
// (test/support/log-secrets.ts); at the end of the run every line of every stack is scanned for every secret of every
// stack, and the run fails if one is found (defect 12).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RUN_DIR_ENV, describeFindings, scanRunDir } from '../support/log-secrets.ts';
import { blockRerun } from '../support/flaky-reporter.ts';

let dir: string | null = null;

export async function setup(): Promise<void> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-log-scan-'));
  process.env[RUN_DIR_ENV] = dir;
}

export async function teardown(): Promise<void> {
  if (!dir) return;
  const scan = await scanRunDir(dir);
  await rm(dir, { recursive: true, force: true });
  console.log(`log scan: ${scan.lines} log lines of ${scan.stacks} stacks against ${scan.secrets} secrets, ${scan.findings.length} finding(s)`);
  if (scan.findings.length > 0) {
    blockRerun(`the log scan found ${scan.findings.length} secret(s) in log lines`);
    throw new Error(`${scan.findings.length} log line(s) of this e2e run carry a secret:\n${describeFindings(scan.findings)}`);
  }
}
