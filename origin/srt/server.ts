// The SRT listener seen from the main thread: one UDP port, many callers. A worker thread runs libsrt's receive
// loop (worker.ts) and the binding's access hook decides each caller at once, without the edge: a caller that
// completes the encryption handshake holds the passphrase derived from its streamid's key. Each such caller is
// handed to `accept`, whose publisher takes its MPEG-TS, link statistics and end (and asks the edge whether the
// stream may go live, dropping the caller if not).
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { RUNNING_COMPILED, workerExecArgv } from '../worker-threads.ts';
import type { SrtLinkSample } from './link-health.ts';
import type { HookCounters, ListenOptions } from './native.ts';
import type { SrtWorkerData, ToMain, ToWorker } from './protocol.ts';
import { parseStreamId } from './streamid.ts';

/** SRT Access Control reject reasons (srt/access_control.h) that a refused caller receives. */
export const SrtReject = {
  BAD_REQUEST: 1400,
  UNAUTHORIZED: 1401,
  OVERLOAD: 1402,
  FORBIDDEN: 1403,
  NOT_FOUND: 1404,
  BAD_MODE: 1405,
  CONFLICT: 1409,
  INTERNAL: 1500,
  DOWN: 1503,
} as const;

export interface SrtCaller {
  /** libsrt's id of the connection */
  socketId: number;
  /** from the caller's streamid; the caller proved it holds this key's passphrase */
  streamKey: string;
  remoteAddress: string;
}

/** What takes an accepted caller's media. `closed` is called exactly once. */
export interface SrtPublisher {
  data(chunk: Uint8Array): void;
  link?(sample: SrtLinkSample): void;
  closed(reason: string): void;
}

export type SrtLogger = (event: string, fields: Record<string, unknown>) => void;

export interface SrtServerOptions {
  host: string;
  /** UDP port; 0 picks a free one */
  port: number;
  /** every stream's passphrase derives from it and the stream key (shared/srt-passphrase.ts): the SRT passphrase key
   *  the edge answers heartbeats with (deriveSrtPassphraseKey), never a signing secret */
  passphraseSecret: string;
  /** A caller through the handshake: who takes its media. Synchronous; admission happens inside the publisher. */
  accept(caller: SrtCaller): SrtPublisher;
  listen?: ListenOptions;
  statsIntervalMs?: number;
  /** per connection, bytes handed to the main thread and not yet consumed; default 8 MiB */
  maxInFlightBytes?: number;
  log?: SrtLogger;
}

const STOP_TIMEOUT_MS = 5000;
/** The access hook's refusals are summed into one log line at most this often: a storm is one line, not a flood. */
const HOOK_LOG_INTERVAL_MS = 10_000;

export class SrtServer {
  private readonly publishers = new Map<number, SrtPublisher>();
  private readonly consumed = new Map<number, number>();
  private ackScheduled = false;
  private stopped: Promise<void> | null = null;
  private exited = false;
  private loggedCounters: HookCounters | null = null;
  private latestCounters: HookCounters | null = null;
  private loggedAt = 0;
  private connectedSinceLog = 0;
  /** Set by stopAccepting: the reject reason new callers get (the hook refuses them; one already past it is dropped). */
  private refusingAll: number | null = null;
  /** Set by setFull: the origin has no capacity for another publisher; the hook rejects callers with OVERLOAD. */
  private full = false;

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
    readonly libsrtVersion: string,
    private readonly options: SrtServerOptions,
  ) {}

  /** Binds the port and starts the receive loop; rejects when the port cannot be bound. */
  static start(options: SrtServerOptions): Promise<SrtServer> {
    const data: SrtWorkerData = {
      host: options.host,
      port: options.port,
      listen: { ...options.listen, passphraseSecret: options.passphraseSecret },
      pollMs: 10,
      idlePollMs: 100,
      statsIntervalMs: options.statsIntervalMs ?? 2000,
      maxInFlightBytes: options.maxInFlightBytes ?? 8 * 1024 * 1024,
    };
    const execArgv = workerExecArgv();
    // From sources the thread starts through worker-entry.cjs (tsx's require hook); compiled, worker.js is plain ESM.
    const worker = new Worker(fileURLToPath(new URL(RUNNING_COMPILED ? './worker.js' : './worker-entry.cjs', import.meta.url)), {
      workerData: data,
      ...(execArgv ? { execArgv } : {}),
    });
    return new Promise((resolve, reject) => {
      const early = (message: ToMain) => {
        if (message.type === 'listening') {
          worker.off('message', early);
          worker.off('error', failed);
          const server = new SrtServer(worker, message.port, message.version, options);
          worker.on('message', (m: ToMain) => server.onMessage(m));
          worker.on('error', (error) => server.onWorkerGone(`the SRT worker failed: ${error.message}`));
          worker.on('exit', () => server.onWorkerGone('the SRT worker stopped'));
          resolve(server);
        } else if (message.type === 'listen_failed') {
          reject(new Error(`SRT listener on ${options.host}:${options.port}: ${message.message}`));
        }
      };
      const failed = (error: Error) => reject(error);
      worker.on('message', early);
      worker.once('error', failed);
    });
  }

  get connections(): number {
    return this.publishers.size;
  }

  /** The access hook's totals as of the worker's last report (every statsIntervalMs while they change). */
  get hookCounters(): HookCounters | null {
    return this.latestCounters;
  }

  /** Disconnects a caller; its publisher hears `closed`. */
  drop(socketId: number, reason: string): void {
    if (this.publishers.has(socketId)) this.send({ type: 'drop', socketId, reason });
  }

  /**
   * The hook refuses callers for this key with `reject` for `forMs`: the edge refused it just now (disabled,
   * already live...), so the encoder's retries hear why at once and do not each cost an edge call.
   */
  refuseKey(streamKey: string, reject: number, forMs: number): void {
    this.send({ type: 'remember_refusal', streamKey, reject, forMs });
  }

  /**
   * Draining: the access hook rejects every new caller with `reject` (SRT_REJX 1503, service unavailable, by
   * default), so the encoder hears why at once and can try another origin; the callers already publishing go on.
   */
  stopAccepting(reject: number = SrtReject.DOWN): void {
    if (this.refusingAll !== null) return;
    this.refusingAll = reject;
    this.send({ type: 'refuse_all', reject });
    this.log('srt_stopped_accepting', { reject });
  }

  /**
   * The origin is full (OVER_CAPACITY=refuse, or not even a copied stream fits): the hook rejects new callers with
   * SRT_REJX 1402 (overload) until it has room again, so an encoder or a balancer tries another origin at once.
   */
  setFull(full: boolean): void {
    if (full === this.full) return;
    this.full = full;
    if (this.refusingAll === null) this.send({ type: 'refuse_all', reject: full ? SrtReject.OVERLOAD : 0 });
  }

  /** Refuses new callers, closes every connection (each publisher hears `closed`) and ends the worker. */
  close(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      // The worker's 'stopped' comes after its last 'closed'; 'exit' covers a worker that died instead.
      const finish = () => {
        clearTimeout(timer);
        this.worker.off('message', onStopped);
        for (const socketId of [...this.publishers.keys()]) this.ended(socketId, 'the origin is shutting down');
        resolve();
      };
      const onStopped = (m: ToMain) => m.type === 'stopped' && finish();
      const timer = setTimeout(() => void this.worker.terminate().then(finish, finish), STOP_TIMEOUT_MS);
      if (this.exited) return finish();
      this.worker.on('message', onStopped);
      this.worker.once('exit', finish);
      this.send({ type: 'stop' });
    });
    return this.stopped;
  }

  private onMessage(message: ToMain): void {
    switch (message.type) {
      case 'connected':
        this.onConnected(message);
        break;
      case 'data': {
        this.publishers.get(message.socketId)?.data(new Uint8Array(message.chunk));
        this.ack(message.socketId, message.chunk.byteLength);
        break;
      }
      case 'link':
        this.publishers.get(message.socketId)?.link?.(message.sample);
        break;
      case 'closed':
        this.ended(message.socketId, message.reason);
        break;
      case 'hook':
        this.onHookCounters(message.counters);
        break;
      case 'stopped':
      case 'listening':
      case 'listen_failed':
        break;
    }
  }

  private onConnected(message: Extract<ToMain, { type: 'connected' }>): void {
    const { socketId, peer, latencyMs } = message;
    this.connectedSinceLog += 1;
    // The hook parsed the same streamid by the same rules (srt_binding.c stream_key_of); this is a second look.
    const parsed = parseStreamId(message.streamId);
    if (!parsed.ok || this.stopped || this.exited || this.refusingAll !== null) {
      // A caller already through the hook when draining began is dropped here.
      const reason = !parsed.ok ? `streamid refused after the handshake: ${parsed.detail}` : this.refusingAll !== null && !this.stopped ? 'the origin is draining' : 'the origin is shutting down';
      this.log('srt_refused', { socketId, peer, reason });
      this.send({ type: 'drop', socketId, reason });
      return;
    }
    this.log('srt_connected', { socketId, peer, latencyMs });
    this.publishers.set(socketId, this.options.accept({ socketId, streamKey: parsed.streamKey, remoteAddress: hostOf(peer) }));
  }

  /** One line per interval with what the hook refused: counts only, never a streamid. */
  private onHookCounters(counters: HookCounters): void {
    this.latestCounters = counters;
    const now = Date.now();
    if (now - this.loggedAt < HOOK_LOG_INTERVAL_MS) return;
    const before = this.loggedCounters;
    const delta = (name: keyof HookCounters) => counters[name] - (before?.[name] ?? 0);
    const handed = delta('handedToLibsrt');
    this.log('srt_callers', {
      intervalMs: before ? now - this.loggedAt : null,
      connected: this.connectedSinceLog,
      // Handed to libsrt but never connected: their key material did not match (no or a wrong passphrase).
      refusedByHandshake: Math.max(0, handed - this.connectedSinceLog),
      refusedBadStreamId: delta('badStreamId'),
      refusedBadMode: delta('badMode'),
      refusedOverload: delta('overload'),
      refusedKnown: delta('refusedKnown'),
      refusedDown: delta('down'),
      hookMsMax: Math.round(counters.hookMsMax * 1000) / 1000,
    });
    this.loggedCounters = counters;
    this.loggedAt = now;
    this.connectedSinceLog = 0;
  }

  private ended(socketId: number, reason: string): void {
    const publisher = this.publishers.get(socketId);
    if (!publisher) return;
    this.publishers.delete(socketId);
    this.consumed.delete(socketId);
    this.log('srt_closed', { socketId, reason });
    publisher.closed(reason);
  }

  /** Tells the worker, once per turn of the event loop, how much each connection's publisher has taken. */
  private ack(socketId: number, bytes: number): void {
    this.consumed.set(socketId, (this.consumed.get(socketId) ?? 0) + bytes);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      for (const [id, n] of this.consumed) this.send({ type: 'consumed', socketId: id, bytes: n });
      this.consumed.clear();
    });
  }

  private onWorkerGone(reason: string): void {
    if (this.exited) return;
    this.exited = true;
    if (!this.stopped) this.log('srt_worker_gone', { reason });
    for (const socketId of [...this.publishers.keys()]) this.ended(socketId, reason);
  }

  private send(message: ToWorker): void {
    if (this.exited) return;
    this.worker.postMessage(message);
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.options.log?.(event, fields);
  }
}

function hostOf(peer: string): string {
  const bracketed = /^\[(.*)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : peer;
}
