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

export interface StartOptions extends PublishOptions {
  /**
   * Reconnect like OBS: an ffmpeg that ends with an error before the test stops it (refused because the origin could
   * not reach the edge in time, a connect that failed, kicked) is started again (see reconnectingPublish). Only for a
   * test that just needs the stream live: one that asserts a publisher's refusal or exit leaves it off (the default).
   */
  reconnect?: boolean;
}

/** How a reconnecting publisher waits before its next attempt: 1 s, 2 s, 4 s, then 5 s apart; at most 10 restarts. */
export const RECONNECT_BACKOFF_MS = [1000, 2000, 4000, 5000];
export const RECONNECT_MAX_RESTARTS = 10;

/**
 * publish() that starts its ffmpeg again whenever it exits on its own with an error, after RECONNECT_BACKOFF_MS, up to
 * RECONNECT_MAX_RESTARTS times; an ffmpeg that ran to its end (exit 0) is not restarted. `process` is the current
 * ffmpeg, `output()` the stderr of every run (each restart marked), `exited` settles once no run is left (kill(), an
 * exit 0, or the restarts spent) with the last run's code; kill() stops it for good.
 */
export function reconnectingPublish(url: string, options: PublishOptions = {}): Publisher {
  let current = publish(url, options);
  let restarts = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let earlier = '';
  let settle!: (code: number | null) => void;
  const exited = new Promise<number | null>((resolve) => (settle = resolve));
  const follow = (run: Publisher) => {
    void run.exited.then((code) => {
      if (run !== current) return;
      if (stopped || code === 0 || restarts >= RECONNECT_MAX_RESTARTS) return settle(code);
      const waitMs = RECONNECT_BACKOFF_MS[Math.min(restarts, RECONNECT_BACKOFF_MS.length - 1)]!;
      restarts += 1;
      earlier = `${earlier}${run.output()}\n[publisher exited with ${code ?? run.process.signalCode}; reconnect ${restarts} in ${waitMs} ms]\n`.slice(-4000);
      timer = setTimeout(() => {
        timer = null;
        if (stopped) return settle(code);
        current = publish(url, options);
        follow(current);
      }, waitMs);
    });
  };
  follow(current);
  return {
    get process() {
      return current.process;
    },
    exited,
    output: () => (earlier + current.output()).slice(-4000),
    async kill(signal = 'SIGKILL') {
      stopped = true;
      if (timer) {
        clearTimeout(timer);
        timer = null;
        settle(current.process.exitCode);
      }
      await current.kill(signal);
      await exited;
    },
  };
}

/** The encoders one test file started, so each test can stop its own (afterEach) and none outlive the file. */
export class Publishers {
  private readonly running: Publisher[] = [];

  constructor(private readonly defaults: StartOptions = {}) {}

  start(url: string, options: StartOptions = {}): Publisher {
    const { reconnect = false, ...publishOptions } = { ...this.defaults, ...options };
    const publisher = reconnect ? reconnectingPublish(url, publishOptions) : publish(url, publishOptions);
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
