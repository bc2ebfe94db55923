// The origin's process-wide policy for errors nothing caught, in a real child process: rejections and operational I/O
// errors (a full disk) are logged and survived, a programming error stops the process with a non-zero exit.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crashVerdict } from '../../origin/crash-policy.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs `body` in a fresh Node with the policy installed; resolves with its exit code and log lines. */
function runWithPolicy(body: string): Promise<{ code: number | null; lines: Record<string, unknown>[] }> {
  const script = `
    import { installCrashPolicy } from ${JSON.stringify(path.join(root, 'origin/crash-policy.ts'))};
    installCrashPolicy({
      onDiskFull: (where) => console.log(JSON.stringify({ event: 'test_disk_full', where })),
      onFatal: (reason) => { console.log(JSON.stringify({ event: 'test_fatal', reason })); process.exit(1); },
    });
    ${body}
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const lines = out.split('\n').flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
      resolve({ code, lines });
    });
  });
}

describe('crash policy', () => {
  it('decides: rejections and operational I/O errors are survived, bugs are not', () => {
    expect(crashVerdict('unhandledRejection', new TypeError('x is undefined'))).toBe('survive');
    expect(crashVerdict('uncaughtException', Object.assign(new Error('write failed'), { code: 'ENOSPC' }))).toBe('survive');
    expect(crashVerdict('uncaughtException', Object.assign(new Error('socket'), { code: 'ECONNRESET' }))).toBe('survive');
    expect(crashVerdict('uncaughtException', new Error('ffmpeg: No space left on device'))).toBe('survive');
    expect(crashVerdict('uncaughtException', new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('exit');
  });

  it('logs and survives unhandled rejections and a full disk, and keeps running', async () => {
    const { code, lines } = await runWithPolicy(`
      Promise.reject(new Error('storage answered 503'));
      Promise.reject(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC' }));
      setTimeout(() => { throw Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' }); }, 20);
      setTimeout(() => { console.log(JSON.stringify({ event: 'still_alive' })); process.exit(0); }, 300);
    `);
    expect(code).toBe(0);
    const events = lines.map((l) => l.event);
    expect(events.filter((e) => e === 'unhandled_rejection')).toHaveLength(2);
    expect(events).toContain('uncaught_exception');
    expect(events.filter((e) => e === 'test_disk_full')).toHaveLength(2);
    expect(events).toContain('still_alive');
    expect(lines.find((l) => l.event === 'unhandled_rejection')).toMatchObject({ level: 40, verdict: 'survive', error: 'storage answered 503' });
  }, 30_000);

  it('stops with a non-zero exit on an uncaught programming error, after logging it', async () => {
    const { code, lines } = await runWithPolicy(`
      setTimeout(() => { null.boom(); }, 20);
      setTimeout(() => { console.log(JSON.stringify({ event: 'still_alive' })); process.exit(0); }, 1000);
    `);
    expect(code).toBe(1);
    expect(lines.find((l) => l.event === 'uncaught_exception')).toMatchObject({ verdict: 'exit' });
    expect(lines.map((l) => l.event)).toContain('test_fatal');
    expect(lines.map((l) => l.event)).not.toContain('still_alive');
  }, 30_000);
});
