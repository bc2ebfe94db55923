// The one place the origin's pipeline touches fluent-ffmpeg (archived upstream): start a run, watch it, signal it.
// Everything else works with plain argument lists and this small typed handle.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';

export interface FfmpegProgress {
  /** HH:MM:SS.cc of output written so far; the only progress a live input has (percent stays undefined) */
  timemark: string;
  seconds: number;
  frames: number;
  fps: number;
  kbps: number;
}

export interface FfmpegExit {
  /** null when ffmpeg ended by a signal or never started */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** fluent-ffmpeg's message when the run failed (spawn error, non-zero exit, signal) */
  error?: string;
  /** last stderr lines, for the logs and for recognising failures */
  stderrTail: string[];
}

export interface FfmpegRunOptions {
  inputOptions: readonly string[];
  outputOptions: readonly string[];
  output: string;
  /** bytes for ffmpeg's stdin (`pipe:0`); fluent-ffmpeg pipes it and ends stdin when it ends */
  input: Readable;
  ffmpegPath?: string;
  onStart?(pid: number | undefined, commandLine: string): void;
  onProgress?(p: FfmpegProgress): void;
  onStderr?(line: string): void;
}

export interface FfmpegRun {
  pid(): number | undefined;
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<FfmpegExit>;
}

const STDERR_TAIL = 40;

export function runFfmpeg(opts: FfmpegRunOptions): FfmpegRun {
  const command = ffmpeg({ stdoutLines: 20 });
  if (opts.ffmpegPath) command.setFfmpegPath(opts.ffmpegPath);
  const tail: string[] = [];
  let proc: ChildProcess | undefined;

  // Several arguments at once: fluent-ffmpeg splits a single string with exactly one space into two
  // arguments, which would tear a two-rendition -var_stream_map value apart.
  if (opts.outputOptions.length < 2) throw new Error('ffmpeg output options come as a list of at least two');
  command.input(opts.input).inputOptions('-hide_banner', ...opts.inputOptions);
  command.output(opts.output).outputOptions(...opts.outputOptions);
  let pendingSignal: NodeJS.Signals | undefined;

  const done = new Promise<FfmpegExit>((resolve) => {
    const finish = (error?: string): void => {
      // Read from the process itself: fluent-ffmpeg reports the end from its own 'exit' listener,
      // before any listener of ours would have run.
      const exit: FfmpegExit = { code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null, stderrTail: tail.slice() };
      if (error !== undefined) exit.error = error;
      resolve(exit);
    };
    command.on('start', (commandLine: string) => {
      proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      opts.onStart?.(proc?.pid, commandLine);
      if (pendingSignal) proc?.kill(pendingSignal);
    });
    command.on('stderr', (line: string) => {
      tail.push(line);
      if (tail.length > STDERR_TAIL) tail.shift();
      opts.onStderr?.(line);
    });
    if (opts.onProgress) {
      const onProgress = opts.onProgress;
      command.on('progress', (p: { timemark?: string; frames?: number; currentFps?: number; currentKbps?: number }) => {
        const timemark = p.timemark ?? '00:00:00.00';
        onProgress({ timemark, seconds: timemarkToSeconds(timemark), frames: p.frames || 0, fps: p.currentFps || 0, kbps: p.currentKbps || 0 });
      });
    }
    command.on('end', () => finish());
    command.on('error', (err: Error) => finish(err.message));
  });

  command.run();

  return {
    pid: () => proc?.pid,
    kill(signal) {
      // fluent-ffmpeg probes encoders before it spawns; a signal sent meanwhile is delivered at spawn.
      if (!proc) pendingSignal = signal;
      else if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    done,
  };
}

/** '00:01:02.50' → 62.5; anything unparsable (ffmpeg prints N/A early on) → 0. */
export function timemarkToSeconds(timemark: string): number {
  const m = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(timemark.trim());
  if (!m) return 0;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -s : s;
}
