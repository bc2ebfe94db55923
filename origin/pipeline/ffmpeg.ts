// The one place the origin's pipeline touches fluent-ffmpeg (archived upstream): start a run, watch it, signal it.
// Everything else works with plain argument lists and this small typed handle. One-shot file jobs
// (recordings, clips, probes) run ffmpeg and ffprobe with a plain argv from here too.
import { spawn } from 'node:child_process';
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

export interface OneShotOptions {
  /** ffmpeg or ffprobe binary; defaults to the one on PATH */
  path?: string;
  /** SIGKILL after this long; default none */
  timeoutMs?: number;
  /** keep stdout (ffprobe JSON, raw bitstreams); default false for ffmpeg, true for ffprobe */
  captureStdout?: boolean;
  /** stdout bytes kept at most before the run is killed; default 64 MiB */
  maxStdoutBytes?: number;
}

export interface OneShotResult extends FfmpegExit {
  stdout: Buffer;
  /** the runner itself killed the process (its deadline passed, or stdout overflowed): a signal from anyone else is not this */
  killedByRunner: boolean;
  /** wall-clock milliseconds */
  elapsedMs: number;
}

/**
 * Runs ffmpeg once over files (no stdin) and resolves when it exits, successful or not: callers read
 * `code` and `stderrTail`. fluent-ffmpeg adds nothing here: its model is one input stream and one output.
 */
export function runFfmpegOnce(args: readonly string[], opts: OneShotOptions = {}): Promise<OneShotResult> {
  return runOnce(opts.path ?? 'ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { captureStdout: false, ...opts });
}

/** Runs ffprobe once; `stdout` holds what it printed (JSON when asked with `-of json`). */
export function runFfprobe(args: readonly string[], opts: OneShotOptions = {}): Promise<OneShotResult> {
  return runOnce(opts.path ?? 'ffprobe', ['-hide_banner', ...args], { captureStdout: true, ...opts });
}

function runOnce(bin: string, args: string[], opts: OneShotOptions): Promise<OneShotResult> {
  const started = Date.now();
  const maxStdout = opts.maxStdoutBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve) => {
    const tail: string[] = [];
    const out: Buffer[] = [];
    let outBytes = 0;
    let error: string | undefined;
    let killedByRunner = false;
    let partial = '';
    const child = spawn(bin, args, { stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'] });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          error = `timed out after ${opts.timeoutMs} ms`;
          killedByRunner = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout?.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > maxStdout) {
        error ??= `more than ${maxStdout} bytes on stdout`;
        killedByRunner = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(d);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      const lines = (partial + d).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (l === '') continue;
        tail.push(l);
        if (tail.length > STDERR_TAIL) tail.shift();
      }
    });
    child.once('error', (err) => (error ??= err.message));
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (partial !== '') tail.push(partial);
      if (tail.length > STDERR_TAIL) tail.splice(0, tail.length - STDERR_TAIL);
      const r: OneShotResult = { code, signal, stderrTail: tail, stdout: Buffer.concat(out), elapsedMs: Date.now() - started, killedByRunner };
      if (error !== undefined) r.error = error;
      else if (code !== 0) r.error = `${bin} exited with ${code ?? signal}`;
      resolve(r);
    });
  });
}
