// ffmpeg as the benchmarks use it: publishers (a pre-encoded file with -c copy, or a live encoder that tells us
// its clock) and bare ffmpeg baselines whose CPU time is read exactly when they exit.
import { start, type Child } from './processes.ts';

const quiet = ['-hide_banner', '-loglevel', 'error', '-nostdin'];

export interface FilePublishOptions {
  /** read at the file's own pace (-re), as an encoder would send; false pushes as fast as the server takes it */
  realtime: boolean;
  /** extra passes over the file (-stream_loop) */
  loops?: number;
  /** stop after this much media (-t) */
  seconds?: number;
}

export function publishFile(url: string, file: string, o: FilePublishOptions): Child {
  const args = [...quiet];
  if (o.realtime) args.push('-re');
  if (o.loops) args.push('-stream_loop', String(o.loops));
  args.push('-i', file);
  if (o.seconds !== undefined) args.push('-t', String(o.seconds));
  args.push('-c', 'copy', '-f', 'flv', url);
  return start('ffmpeg', args);
}

export interface LivePublisher {
  child: Child;
  /**
   * Wall-clock milliseconds at which stream time 0 left the encoder: the least (now − out_time) over ffmpeg's
   * progress reports. A report comes after the frame it counts was written, so each difference is an upper
   * bound of the true offset and the least one is within a report's pipe delay of it.
   */
  clockOffset(): number | undefined;
}

/** A live lavfi encoder like test/support/encoder.ts (x264 ultrafast/zerolatency, 2 s GOP, AAC) that reports its clock. */
export function publishLive(url: string, o: { size: string; rate: number; seconds: number }): LivePublisher {
  let offset: number | undefined;
  let pending = '';
  const child = start(
    'ffmpeg',
    [
      ...quiet,
      '-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.rate}`,
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(o.seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(o.rate * 2), '-keyint_min', String(o.rate * 2),
      '-pix_fmt', 'yuv420p', '-b:v', '2500k', '-c:a', 'aac', '-b:a', '96k',
      '-progress', 'pipe:1', '-stats_period', '0.1',
      '-f', 'flv', url,
    ],
    {
      onStdout(chunk) {
        const now = Date.now();
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const m = /^out_time_us=(\d+)$/.exec(line.trim());
          if (!m) continue;
          const streamMs = Number(m[1]) / 1000;
          if (streamMs <= 0) continue;
          const candidate = now - streamMs;
          offset = offset === undefined ? candidate : Math.min(offset, candidate);
        }
      },
    },
  );
  return { child, clockOffset: () => offset };
}

export interface TimedRun {
  child: Child;
  /** CPU seconds (user + system) of the command and its children, known once it has exited */
  cpuSeconds: Promise<number>;
}

/**
 * Runs a command under bash and prints bash's `times` after it: the exact CPU of the command as its parent
 * saw it when reaping it, with nothing sampled and nothing missed at exit.
 */
export function runTimed(command: string, args: readonly string[]): TimedRun {
  const child = start('bash', ['-c', '"$@"; times', 'bench', command, ...args]);
  const cpuSeconds = child.exited.then(() => {
    // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.056s".
    const lines = child.stdout().trim().split('\n');
    const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
    if (!m) throw new Error(`no CPU times from ${command}: ${child.stderr().slice(-300)}`);
    return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  });
  cpuSeconds.catch(() => {});
  return { child, cpuSeconds };
}
