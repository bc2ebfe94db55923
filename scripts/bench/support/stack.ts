// The real stack for the figures that go through it (test/support/stack.ts: edge in workerd + one origin process),
// plus what a benchmark needs to know about the origin from outside: its pid, its session folders, its log.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startStack, type Stack, type StackOptions } from '../../../test/support/stack.ts';
import { childrenOf, cmdline } from './proc.ts';
import { until } from './processes.ts';

export type { Stack };

export function benchStack(options: StackOptions = {}): Promise<Stack> {
  return startStack(options);
}

/** The origin process of this stack: our child running origin/main.ts with the stack's HTTP port. */
export function originPid(stack: Stack): number {
  for (const child of childrenOf(process.pid)) {
    if (!cmdline(child.pid).includes('origin/main.ts')) continue;
    let environ = '';
    try {
      environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (environ.split('\0').includes(`HTTP_PORT=${stack.ports.http}`)) return child.pid;
  }
  throw new Error('the origin process of the stack was not found');
}

/** The folder of a stream's live session on the origin's disk, once the origin has made it. */
export function sessionDir(stack: Stack, streamId: string, timeoutMs = 20_000): Promise<string> {
  return until(
    `a session folder for ${streamId}`,
    () => {
      try {
        const sessions = readdirSync(path.join(stack.mediaDir, streamId)).filter((n) => n.startsWith('ses_'));
        return sessions.length > 0 ? path.join(stack.mediaDir, streamId, sessions[sessions.length - 1]!) : undefined;
      } catch {
        return undefined;
      }
    },
    timeoutMs,
    100,
  );
}

/** How many times the origin has logged an event (one JSON line each). */
export function logCount(stack: Stack, event: string): number {
  const needle = `"event":"${event}"`;
  return stack.originLogs.filter((line) => line.includes(needle)).length;
}

export function waitLogCount(stack: Stack, event: string, count: number, timeoutMs: number): Promise<true> {
  return until(`${count}× ${event} in the origin log`, () => (logCount(stack, event) >= count ? true : undefined), timeoutMs, 100);
}
