// The SRT listener seen from the main thread: one UDP port, many callers. A worker thread runs libsrt's receive
// loop (worker.ts); here each caller gets a verdict from `decide` while its handshake waits, and an accepted
// caller's MPEG-TS, link statistics and end are handed to the publisher that `decide` returned.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SrtLinkSample } from './link-health.ts';
import type { ListenOptions } from './native.ts';
import type { SrtWorkerData, ToMain, ToWorker } from './protocol.ts';

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
  /** libsrt's id of the connection being set up */
  socketId: number;
  /** as the caller sent it (SRTO_STREAMID) */
  streamId: string;
  remoteAddress: string;
}

/** What takes an accepted caller's media. `closed` is called exactly once, whether it connected or not. */
export interface SrtPublisher {
  /** AES passphrase the caller must use (10–79 characters); none means unencrypted */
  passphrase?: string;
  /** receiver latency, ms (the larger of this and the caller's own wins) */
  latencyMs: number;
  connected?(info: { latencyMs: number | null }): void;
  data(chunk: Uint8Array): void;
  link?(sample: SrtLinkSample): void;
  closed(reason: string): void;
}

export type SrtDecision = { accept: SrtPublisher } | { reject: number; reason: string };

export type SrtLogger = (event: string, fields: Record<string, unknown>) => void;

export interface SrtServerOptions {
  host: string;
  /** UDP port; 0 picks a free one */
  port: number;
  /** Must settle within `listen.authTimeoutMs` (default 2.5 s), or the caller is refused with SRT_REJX_DOWN. */
  decide(caller: SrtCaller): Promise<SrtDecision>;
  listen?: ListenOptions;
  statsIntervalMs?: number;
  /** per connection, bytes handed to the main thread and not yet consumed; default 8 MiB */
  maxInFlightBytes?: number;
  log?: SrtLogger;
}

/** A refused caller that tries again this soon (or whose handshake is retransmitted) gets the same answer. */
const REFUSAL_MEMORY_MS = 1500;
const MAX_REMEMBERED_REFUSALS = 1024;
/**
 * Callers one address may have decided per window. Every decision holds libsrt's receive thread for this port
 * (every live stream on it) while the edge answers, so one address must not be able to keep it busy.
 */
const CALLERS_PER_ADDRESS = 20;
const CALLER_WINDOW_MS = 10_000;
const MAX_TRACKED_ADDRESSES = 4096;
const STOP_TIMEOUT_MS = 5000;

interface Granted {
  publisher: SrtPublisher;
  /** peer and streamid, to refuse a retransmitted handshake of a caller whose handshake failed */
  refusalKey: string;
  connected: boolean;
}

export class SrtServer {
  private readonly publishers = new Map<number, Granted>();
  private readonly refusals = new Map<string, { reject: number; until: number }>();
  private readonly callersByAddress = new Map<string, { count: number; since: number }>();
  private readonly consumed = new Map<number, number>();
  private ackScheduled = false;
  private stopped: Promise<void> | null = null;
  private exited = false;

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
      listen: options.listen ?? {},
      pollMs: 10,
      statsIntervalMs: options.statsIntervalMs ?? 2000,
      maxInFlightBytes: options.maxInFlightBytes ?? 8 * 1024 * 1024,
    };
    const execArgv = workerExecArgv();
    const worker = new Worker(fileURLToPath(new URL('./worker-entry.cjs', import.meta.url)), {
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

  /** Disconnects a caller (connected, or granted and still in its handshake); its publisher hears `closed`. */
  drop(socketId: number, reason: string): void {
    if (this.publishers.has(socketId)) this.send({ type: 'drop', socketId, reason });
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
      case 'caller':
        void this.onCaller(message);
        break;
      case 'connected': {
        const granted = this.publishers.get(message.socketId);
        if (granted) {
          granted.connected = true;
          granted.publisher.connected?.({ latencyMs: message.latencyMs });
        }
        this.log('srt_connected', { socketId: message.socketId, peer: message.peer, latencyMs: message.latencyMs });
        break;
      }
      case 'data': {
        this.publishers.get(message.socketId)?.publisher.data(new Uint8Array(message.chunk));
        this.ack(message.socketId, message.chunk.byteLength);
        break;
      }
      case 'link':
        this.publishers.get(message.socketId)?.publisher.link?.(message.sample);
        break;
      case 'closed':
        this.ended(message.socketId, message.reason);
        break;
      case 'stopped':
      case 'listening':
      case 'listen_failed':
        break;
    }
  }

  private async onCaller(request: Extract<ToMain, { type: 'caller' }>): Promise<void> {
    const { requestId, socketId, streamId, peer } = request;
    const refusalKey = `${peer}|${streamId}`;
    const remembered = this.refusals.get(refusalKey);
    if (remembered && remembered.until > Date.now()) {
      this.send({ type: 'verdict', requestId, socketId, verdict: { reject: remembered.reject } });
      return;
    }
    if (!this.withinCallerBudget(hostOf(peer))) {
      this.log('srt_refused', { socketId, peer, reject: SrtReject.OVERLOAD, reason: `more than ${CALLERS_PER_ADDRESS} callers from this address in ${CALLER_WINDOW_MS / 1000} s` });
      this.send({ type: 'verdict', requestId, socketId, verdict: { reject: SrtReject.OVERLOAD } });
      return;
    }
    // libsrt's receive thread for this port waits in the access hook meanwhile: keep `decide` quick.
    const askedAt = Date.now();
    let decision: SrtDecision;
    try {
      decision = await this.options.decide({ socketId, streamId, remoteAddress: hostOf(peer) });
    } catch (error) {
      decision = { reject: SrtReject.INTERNAL, reason: `decide failed: ${String(error)}` };
    }
    if ('reject' in decision) {
      this.remember(refusalKey, decision.reject);
      this.log('srt_refused', { socketId, peer, reject: decision.reject, reason: decision.reason, decideMs: Date.now() - askedAt });
      this.send({ type: 'verdict', requestId, socketId, verdict: { reject: decision.reject } });
      return;
    }
    const { accept } = decision;
    if (this.stopped || this.exited) {
      this.send({ type: 'verdict', requestId, socketId, verdict: { reject: SrtReject.DOWN } });
      accept.closed('the origin is shutting down');
      return;
    }
    this.publishers.set(socketId, { publisher: accept, refusalKey, connected: false });
    this.log('srt_granted', { socketId, peer, latencyMs: accept.latencyMs, decideMs: Date.now() - askedAt });
    this.send({
      type: 'verdict',
      requestId,
      socketId,
      verdict: { latencyMs: accept.latencyMs, ...(accept.passphrase ? { passphrase: accept.passphrase } : {}) },
    });
  }

  private ended(socketId: number, reason: string): void {
    const granted = this.publishers.get(socketId);
    if (!granted) return;
    this.publishers.delete(socketId);
    this.consumed.delete(socketId);
    // A handshake that failed after the verdict is most likely a wrong passphrase. The caller's handshake
    // retransmissions, queued while the verdict was awaited, reach the hook again: they must not be authorized anew.
    if (!granted.connected && !this.stopped) this.remember(granted.refusalKey, SrtReject.UNAUTHORIZED);
    this.log('srt_closed', { socketId, reason, connected: granted.connected });
    granted.publisher.closed(reason);
  }

  private remember(key: string, reject: number): void {
    const now = Date.now();
    if (this.refusals.size >= MAX_REMEMBERED_REFUSALS) {
      for (const [k, v] of this.refusals) if (v.until <= now) this.refusals.delete(k);
      if (this.refusals.size >= MAX_REMEMBERED_REFUSALS) this.refusals.delete(this.refusals.keys().next().value!);
    }
    this.refusals.set(key, { reject, until: now + REFUSAL_MEMORY_MS });
  }

  private withinCallerBudget(address: string): boolean {
    const now = Date.now();
    let entry = this.callersByAddress.get(address);
    if (!entry || now - entry.since >= CALLER_WINDOW_MS) {
      if (!entry && this.callersByAddress.size >= MAX_TRACKED_ADDRESSES) {
        for (const [k, v] of this.callersByAddress) if (now - v.since >= CALLER_WINDOW_MS) this.callersByAddress.delete(k);
        if (this.callersByAddress.size >= MAX_TRACKED_ADDRESSES) this.callersByAddress.delete(this.callersByAddress.keys().next().value!);
      }
      entry = { count: 0, since: now };
      this.callersByAddress.set(address, entry);
    }
    entry.count += 1;
    return entry.count <= CALLERS_PER_ADDRESS;
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

/**
 * Worker threads inherit the parent's execArgv, so under `node --import tsx` the .ts worker just loads.
 * Elsewhere (vitest's runner) tsx's loader is added, by absolute URL so the working directory does not matter.
 */
function workerExecArgv(): string[] | undefined {
  if (process.execArgv.some((a) => a.includes('tsx'))) return undefined;
  const loader = createRequire(import.meta.url).resolve('tsx');
  return [...process.execArgv, '--import', pathToFileURL(loader).href];
}
