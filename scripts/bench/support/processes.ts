// Every process a benchmark starts runs in its own process group, so one signal ends it with its children
// (ffmpeg under the origin, nginx's workers). Groups are remembered until they exit: run.ts ends whatever a
// failed, timed-out or interrupted figure left behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly running: boolean;
  /** the last few KB of stdout and stderr */
  stdout(): string;
  stderr(): string;
  /** SIGTERM (or `signal`) to the group, SIGKILL after `graceMs`; resolves once the leader has exited */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** an IPC channel (process.send / 'message') to the child */
  ipc?: boolean;
  /** bytes of each output stream kept for errors; default 16 KiB */
  keep?: number;
  onStdout?(chunk: string): void;
}

const live = new Set<number>();

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Starts a command as the leader of a new process group, tracked until it exits. */
export function start(command: string, args: readonly string[], options: StartOptions = {}): Child {
  const keep = options.keep ?? 16 * 1024;
  const stdio: SpawnOptions['stdio'] = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio, detached: true });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-keep);
    options.onStdout?.(d);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-keep)));
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once('error', () => {
      running = false;
      resolve({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) {
    live.add(pid);
    void exited.then(() => {
      // The leader is gone; children it left in the group (rare) still get a final signal.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
    });
  }
  return {
    pid,
    process: child,
    exited,
    get running() {
      return running;
    },
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!running || pid <= 0) return exited;
      killGroup(pid, signal);
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Ends every group still alive: the last line of defence of run.ts. */
export function killAll(): void {
  for (const pid of live) killGroup(pid, 'SIGKILL');
  live.clear();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` gives a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
