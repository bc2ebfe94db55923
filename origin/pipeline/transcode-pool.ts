// The origin's live transcoding capacity: a slot per running stream, never queued. A publish beyond capacity is
// refused at once rather than slowing every stream down. Each stream's relay (input → ffmpeg, playlists → events)
// runs on the main thread (isolation 'inline', the default) or on a piscina worker thread of its own ('thread').
import { randomUUID } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import Piscina from 'piscina';
import { InlineChannel, type InlinePort } from './inline-port.ts';
import runTranscodeTask from './transcode-worker.ts';
import { workerEntryPath, workerExecArgv } from '../worker-threads.ts';
import { addSegment, emptyStats } from './live-transcode.ts';
import type { LiveTranscodeEvent, LiveTranscodeJob, LiveTranscodeResult, TranscodeIssue, TranscodeStats } from './live-transcode.ts';
import type { FromWorker, ToWorker, TranscodeTask } from './transcode-worker.ts';

export interface TranscodePoolOptions {
  /** live transcodes at once; a hard limit */
  capacity: number;
  /**
   * Where each stream's relay runs. 'inline' (default): on the main thread, the pool only counting slots — measured
   * (issue 15, scripts/bench/memory.ts) a worker thread added ~9 MB of RSS per stream over inline (19 vs 10 MB), and
   * its isolate's own GC and message hops CPU, for work (moving ~0.5 MB/s to ffmpeg's stdin, reading three playlists)
   * that never blocks the event loop for long; ffmpeg,
   * the part that crashes, is a child process either way. 'thread': a worker thread per stream, so that an exception
   * thrown by the relay's own code (a bug) fails that stream only instead of ending the origin (crash-policy.ts).
   */
  isolation?: 'thread' | 'inline';
  /** ('thread') threads kept started while idle so a publish does not wait for one; default min(1, capacity) */
  warmThreads?: number;
  /** ('thread') an idle thread above warmThreads exits after this long; default 30 s */
  idleTimeoutMs?: number;
  /** bytes posted to a worker and not yet taken by it before the stream is dropped; default 16 MiB */
  maxInFlightBytes?: number;
}

export interface TranscodeRefusal {
  ok: false;
  reason: 'capacity' | 'closed';
  capacity: number;
  running: number;
  message: string;
}

export type TryStartResult = { ok: true; transcode: PooledTranscode } | TranscodeRefusal;

const COALESCE_BYTES = 64 * 1024;
/**
 * How long encoder bytes may wait to go out with the next ones (standard mode). Every batch is a message, a write
 * through the relay and a pipe write waking ffmpeg's reader: flushing on the next turn made one of each per socket
 * read, a 30 ms window makes at most ~33 a second (issue 15: the relay's CPU over bare ffmpeg). Segments are 2 s, so 30 ms is nothing to a
 * viewer; low mode, where every part counts, keeps the next-turn flush.
 */
const COALESCE_MS = 30;
const MiB = 1024 * 1024;
/** how long a finished run waits for its last events (the worker's events_end) before it settles anyway */
const EVENTS_END_DEADLINE_MS = 5000;

/** A transcode running in the pool, seen from the main thread. */
export class PooledTranscode {
  readonly id = randomUUID();
  readonly done: Promise<LiveTranscodeResult>;
  private readonly port: MessagePortLike;
  private readonly onEvent: (e: LiveTranscodeEvent) => void;
  private readonly maxInFlight: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private closed = false;
  private readonly statsNow = emptyStats();
  private readonly issueList: TranscodeIssue[] = [];
  private pidNow: number | undefined;
  private eventsEnded!: () => void;
  /** every event of the run was delivered: the worker's events_end arrived, or the port closed (in order after them) */
  private readonly allEvents = new Promise<void>((resolve) => (this.eventsEnded = resolve));

  /** @internal built by TranscodePool.tryStart */
  constructor(
    port: MessagePortLike,
    run: Promise<LiveTranscodeResult>,
    onEvent: (e: LiveTranscodeEvent) => void,
    maxInFlight: number,
    /** 0: flush on the next turn; more: bytes wait up to this long (or COALESCE_BYTES) for the next ones */
    private readonly coalesceMs = 0,
  ) {
    this.port = port;
    this.onEvent = onEvent;
    this.maxInFlight = maxInFlight;
    port.on('message', (m: FromWorker) => this.onMessage(m));
    port.on('close', () => this.eventsEnded());
    // The result comes through piscina, unordered with the port: `done` waits for the run's last events, since closing
    // the port in settle() drops any still queued (and the durable shipper must see every segment).
    this.done = run.then(
      async (r) => {
        await this.lastEvents();
        return this.settle(r);
      },
      async (err: unknown) => {
        await this.lastEvents();
        return this.settle({ reason: 'failed', exitCode: null, signal: null, restarts: 0, issues: [], stats: this.stats, error: `transcode worker failed: ${(err as Error)?.message ?? String(err)}` });
      },
    );
  }

  /** Latest counters (from the worker's segment events). */
  get stats(): TranscodeStats {
    return structuredClone(this.statsNow);
  }

  get issues(): TranscodeIssue[] {
    return this.issueList.slice();
  }

  /** ffmpeg's process id while it runs (for diagnostics). */
  get pid(): number | undefined {
    return this.pidNow;
  }

  /** Queues encoder bytes for the worker; false once the stream no longer takes input. */
  push(chunk: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.inFlight + this.pendingBytes + chunk.length > this.maxInFlight) {
      this.dropForBacklog();
      return false;
    }
    // Copied at flush into a buffer of our own: socket buffers are often slices of a shared pool,
    // and transferring one would detach memory other code still reads.
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= COALESCE_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.coalesceMs > 0) this.flushTimer = setTimeout(() => this.flush(), this.coalesceMs);
      else setImmediate(() => this.flush());
    }
    return true;
  }

  /** The encoder is gone: ffmpeg finishes its last segment. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.post({ type: 'end' });
  }

  stop(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    clearTimeout(this.flushTimer);
    this.post({ type: 'stop' });
  }

  private flush(): void {
    this.flushScheduled = false;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingBytes === 0 || this.closed) return;
    const buf = new ArrayBuffer(this.pendingBytes);
    const view = new Uint8Array(buf);
    let o = 0;
    for (const c of this.pending) {
      view.set(c, o);
      o += c.length;
    }
    this.inFlight += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.post({ type: 'data', chunk: buf }, [buf]);
  }

  private dropForBacklog(): void {
    const issue: TranscodeIssue = {
      code: 'input-backlog',
      message: `the transcode worker fell behind the encoder by more than ${Math.round(this.maxInFlight / MiB)} MiB; the stream was dropped`,
      at: Date.now(),
    };
    this.issueList.push(issue);
    this.onEvent({ type: 'issue', issue });
    this.stop();
  }

  private post(m: ToWorker, transfer?: ArrayBuffer[]): void {
    try {
      this.port.postMessage(m, transfer);
    } catch {
      // the worker already closed its end: the run is over
    }
  }

  /** Resolves once every event is delivered, or after EVENTS_END_DEADLINE_MS (a worker thread that died sends none). */
  private lastEvents(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, EVENTS_END_DEADLINE_MS)));
    return Promise.race([this.allEvents, deadline]).finally(() => clearTimeout(timer));
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'events_end') {
      this.eventsEnded();
      return;
    }
    if (m.type === 'consumed') {
      this.inFlight = Math.max(0, this.inFlight - m.bytes);
      return;
    }
    if (m.type === 'segment') addSegment(this.statsNow, m);
    else if (m.type === 'issue') this.issueList.push(m.issue);
    else if (m.type === 'started') this.pidNow = m.pid;
    this.onEvent(m);
  }

  private settle(r: LiveTranscodeResult): LiveTranscodeResult {
    this.closed = true;
    this.pidNow = undefined;
    this.port.close();
    // Main-thread issues (backlog) are not known to the worker.
    const seen = new Set(r.issues.map((i) => `${i.code}@${i.at}`));
    const issues = [...r.issues, ...this.issueList.filter((i) => !seen.has(`${i.code}@${i.at}`) && i.code === 'input-backlog')];
    const result: LiveTranscodeResult = { ...r, issues, reason: this.issueList.some((i) => i.code === 'input-backlog') && r.reason === 'stopped' ? 'backlog' : r.reason };
    return result;
  }
}

interface MessagePortLike {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  on(event: 'message', fn: (m: FromWorker) => void): void;
  on(event: 'close', fn: () => void): void;
  close(): void;
}

export class TranscodePool {
  /** only with isolation 'thread' */
  private readonly pool: Piscina<TranscodeTask, LiveTranscodeResult> | undefined;
  private readonly opts: Required<Pick<TranscodePoolOptions, 'capacity' | 'maxInFlightBytes'>>;
  private readonly active = new Set<PooledTranscode>();
  private closing = false;

  constructor(opts: TranscodePoolOptions) {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) throw new Error('capacity must be a positive integer');
    this.opts = { capacity: opts.capacity, maxInFlightBytes: opts.maxInFlightBytes ?? 16 * MiB };
    if ((opts.isolation ?? 'inline') === 'inline') {
      this.pool = undefined;
      return;
    }
    const execArgv = workerExecArgv();
    this.pool = new Piscina({
      filename: workerEntryPath(import.meta.url, 'transcode-worker'),
      maxThreads: opts.capacity,
      // A transcode worker only relays transferred buffers and reads playlists: a small young generation keeps each
      // thread's heap (and so the origin's memory per stream) small without slowing it.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 128 },
      minThreads: Math.min(opts.warmThreads ?? 1, opts.capacity),
      idleTimeout: opts.idleTimeoutMs ?? 30_000,
      // Tasks are long-running and async; an idle thread must not block in Atomics.wait meanwhile.
      atomics: 'disabled',
      ...(execArgv ? { execArgv } : {}),
    });
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  get running(): number {
    return this.active.size;
  }

  /** Starts a live transcode on a free thread, or refuses at once when every thread is busy. */
  tryStart(job: LiveTranscodeJob, onEvent: (e: LiveTranscodeEvent) => void = () => {}): TryStartResult {
    if (this.closing) return this.refuse('closed', 'the transcode pool is shutting down');
    if (this.active.size >= this.opts.capacity) {
      return this.refuse('capacity', `all ${this.opts.capacity} live transcode slots are busy`);
    }
    let transcode: PooledTranscode;
    const coalesceMs = job.latencyMode === 'low' ? 0 : COALESCE_MS;
    if (this.pool) {
      const { port1, port2 } = new MessageChannel();
      const run = this.pool.run({ port: port2, job }, { transferList: [port2] });
      transcode = new PooledTranscode(port1 as unknown as MessagePortLike, run, onEvent, this.opts.maxInFlightBytes, coalesceMs);
    } else {
      const { port, run } = runInline(job);
      transcode = new PooledTranscode(port, run, onEvent, this.opts.maxInFlightBytes, coalesceMs);
    }
    this.active.add(transcode);
    void transcode.done.then(() => this.active.delete(transcode));
    return { ok: true, transcode };
  }

  /** Stops every running transcode (each finishes its segment or is killed after its grace) and the threads. */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.active];
    for (const t of running) t.stop();
    await Promise.all(running.map((t) => t.done));
    await this.pool?.destroy();
  }

  private refuse(reason: TranscodeRefusal['reason'], message: string): TranscodeRefusal {
    return { ok: false, reason, capacity: this.opts.capacity, running: this.active.size, message };
  }
}

/**
 * A transcode on the main thread, driven through an in-thread channel by the same task body a worker thread runs. A
 * relay listener that throws fails its run as a dying thread would (ffmpeg is stopped); a throw on the pool's side
 * stays an uncaught exception, as it is with a thread.
 */
function runInline(job: LiveTranscodeJob): { port: MessagePortLike; run: Promise<LiveTranscodeResult> } {
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const channel: InlineChannel = new InlineChannel((error: unknown, port: InlinePort) => {
    if (port === channel.port2) {
      fail(error);
      channel.port1.postMessage({ type: 'stop' } satisfies ToWorker);
    } else {
      queueMicrotask(() => {
        throw error;
      });
    }
  });
  const task = runTranscodeTask({ port: channel.port2 as unknown as TranscodeTask['port'], job });
  return { port: channel.port1 as unknown as MessagePortLike, run: Promise.race([task, failed]) };
}
