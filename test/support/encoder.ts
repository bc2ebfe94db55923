// Real ffmpeg as the encoder and ffprobe as the player, for end-to-end tests.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Publisher {
  process: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface PublishOptions {
  seconds?: number;
  size?: string;
  rate?: number;
  /** Extra output options, e.g. for SRT. */
  format?: 'flv' | 'mpegts';
  /** Video bitrate, default 800k. */
  videoBitrate?: string;
}

/** Publishes a `-re` lavfi test pattern with a tone: H.264 with a 2 s GOP and AAC, like OBS defaults. */
export function publish(url: string, options: PublishOptions = {}): Publisher {
  const { seconds = 600, size = '640x360', rate = 30, format = 'flv', videoBitrate = '800k' } = options;
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(rate * 2), '-keyint_min', String(rate * 2),
    '-pix_fmt', 'yuv420p', '-b:v', videoBitrate,
    '-c:a', 'aac', '-b:a', '96k',
    '-f', format, url,
  ];
  return spawnPublisher(args);
}

/** ffmpeg publishing with `args`: the last 4 KB of its stderr kept for a failing test's message; kill() waits for its exit. */
export function spawnPublisher(args: string[]): Publisher {
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    exited,
    output: () => stderr,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export async function ffprobe(url: string, extra: string[] = []): Promise<any> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-rw_timeout', '10000000', '-of', 'json', '-show_streams', '-show_format', ...extra, url],
    { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  return JSON.parse(stdout);
}

/** The encoders one test file started, so each test can stop its own (afterEach) and none outlive the file. */
export class Publishers {
  private readonly running: Publisher[] = [];

  constructor(private readonly defaults: PublishOptions = {}) {}

  start(url: string, options: PublishOptions = {}): Publisher {
    const publisher = publish(url, { ...this.defaults, ...options });
    this.running.push(publisher);
    return publisher;
  }

  async stopAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.running.splice(0).map((p) => p.kill(signal)));
  }
}

/**
 * An encoder that reconnects like OBS does: whenever its ffmpeg ends (kicked, origin gone, dropped on purpose) it
 * starts again after `retryMs`, until stop(). The fault suite drops it at will and counts how often it had to.
 */
export class ReconnectingPublisher {
  private current: Publisher | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** every ffmpeg run: when it started and how it ended */
  readonly runs: { startedAt: number; endedAt: number | null; code: number | null }[] = [];

  constructor(
    private readonly url: string,
    private readonly options: PublishOptions = {},
    private readonly retryMs = 1000,
  ) {
    this.launch();
  }

  private launch(): void {
    if (this.stopped) return;
    const publisher = publish(this.url, this.options);
    const run = { startedAt: Date.now(), endedAt: null as number | null, code: null as number | null };
    this.runs.push(run);
    this.current = publisher;
    void publisher.exited.then((code) => {
      run.endedAt = Date.now();
      run.code = code;
      if (this.current === publisher) this.current = null;
      if (!this.stopped) this.restartTimer = setTimeout(() => this.launch(), this.retryMs);
    });
  }

  /** The ffmpeg publishing right now, if any. */
  get process(): ChildProcess | null {
    return this.current?.process ?? null;
  }

  /** Kills the running ffmpeg (a network drop as the server sees it); it reconnects after `pauseMs`. */
  async drop(pauseMs = this.retryMs): Promise<void> {
    const publisher = this.current;
    if (!publisher) return;
    this.current = null;
    const wasStopped = this.stopped;
    this.stopped = true; // keep the exit handler from restarting at its own pace
    await publisher.kill('SIGKILL');
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.stopped = wasStopped;
    if (!this.stopped) this.restartTimer = setTimeout(() => this.launch(), pauseMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.current?.kill('SIGKILL');
    this.current = null;
  }
}
