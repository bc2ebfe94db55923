// One RTMP(S) client connection: feeds socket bytes to a PublishSession, writes its replies, asks the
// publish hook, and turns media outputs into typed events; deadlines and write-queue bounds live here.
import type { Socket } from 'node:net';
import type { Amf0Object } from './amf0.ts';
import type { IngestAccount, IngestLimits } from './ingest-limits.ts';
import { PublishSession } from './publish-session.ts';
import type { RejectCode, SessionOutput } from './publish-session.ts';

export type RtmpProtocol = 'rtmp' | 'rtmps';

/** Structured log sink; fields never carry the stream key. */
export type RtmpLogger = (event: string, fields: Record<string, unknown>) => void;

export interface PublishRequest {
  app: string;
  streamKey: string;
  remoteAddress: string;
  protocol: RtmpProtocol;
}

export type PublishDecision = { ok: true } | { ok: false; reason: string; code?: RejectCode };

export type PublishHook = (request: PublishRequest, connection: RtmpConnection) => Promise<PublishDecision>;

export interface MediaFrame {
  /** Milliseconds, 32-bit RTMP timestamp. */
  timestamp: number;
  /** An FLV tag body (codec header byte(s) + data). */
  payload: Buffer;
}

export interface RtmpMetadata {
  timestamp: number;
  properties: Amf0Object;
}

export interface RtmpConnectionEvents {
  metadata: RtmpMetadata;
  audio: MediaFrame;
  video: MediaFrame;
  close: { reason: string };
}

/**
 * Every phase of a connection has a deadline, so a peer that goes slow at any step (slowloris) lets go of its slot:
 * handshake, then publish accepted, then first media; while streaming, the idle timeout; after unpublish, a linger.
 */
export interface ConnectionSettings {
  /** From accept to the end of the RTMP handshake. */
  handshakeTimeoutMs: number;
  /** From the end of the handshake to publish accepted (connect, createStream, publish, and the publish hook's answer). */
  publishTimeoutMs: number;
  /** From publish accepted to the first audio or video frame. */
  firstMediaTimeoutMs: number;
  /** Without any byte from the peer, in any phase. */
  idleTimeoutMs: number;
  /** After the client unpublished: it has this long to hang up before we do. */
  unpublishLingerMs: number;
  maxWriteQueueBytes: number;
  ingest: Partial<IngestLimits>;
}

/** After close() the peer gets this long to read our last bytes before the socket is destroyed. */
export const CLOSE_GRACE_MS = 500;

export interface RtmpConnectionInit {
  id: number;
  protocol: RtmpProtocol;
  settings: ConnectionSettings;
  onPublish: PublishHook;
  log: RtmpLogger;
  /** The encoder's address when a trusted load balancer's PROXY header named it; the socket's otherwise. */
  remoteAddress?: string;
  /** This connection's share of the server's IngestBudget; closed with the connection. */
  account?: IngestAccount;
  /** Called once, when the publish hook has accepted this connection. */
  onPublished?: (connection: RtmpConnection) => void;
  /** Called once, after the socket has closed. */
  onClosed?: (connection: RtmpConnection) => void;
}

type Listener<E extends keyof RtmpConnectionEvents> = (payload: RtmpConnectionEvents[E]) => void;

export class RtmpConnection {
  readonly id: number;
  readonly protocol: RtmpProtocol;
  readonly remoteAddress: string;
  /** Date.now() at accept; the server evicts the oldest connection that has not published. */
  readonly acceptedAt = Date.now();
  readonly #socket: Socket;
  readonly #session: PublishSession;
  readonly #init: RtmpConnectionInit;
  readonly #listeners: { [E in keyof RtmpConnectionEvents]: Listener<E>[] } = {
    metadata: [],
    audio: [],
    video: [],
    close: [],
  };
  #closeReason: string | undefined;
  /** The socket is gone and 'close' has been emitted. */
  #finished = false;
  #unpublished = false;
  #publishRequested = false;
  #published = false;
  #mediaSeen = false;
  /** The one deadline of the current phase (see ConnectionSettings). */
  #deadline: NodeJS.Timeout | undefined;
  #phase: 'handshake' | 'publish' | 'first-media' | 'streaming' | 'linger' = 'handshake';
  #destroyTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, init: RtmpConnectionInit) {
    this.id = init.id;
    this.protocol = init.protocol;
    this.remoteAddress = init.remoteAddress ?? socket.remoteAddress ?? 'unknown';
    this.#socket = socket;
    this.#init = init;
    this.#session = new PublishSession({ limits: init.settings.ingest, ...(init.account ? { account: init.account } : {}) });

    this.#arm(init.settings.handshakeTimeoutMs, 'handshake timeout');
    socket.setTimeout(init.settings.idleTimeoutMs);
    socket.on('timeout', () => this.close('idle timeout'));
    socket.on('data', (bytes: Buffer) => this.#onData(bytes));
    socket.on('end', () => this.close(this.#unpublished ? 'unpublished' : 'peer closed'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#log('rtmp.socket_error', { code: error.code ?? 'unknown' });
      this.#shutdown(`socket error ${error.code ?? 'unknown'}`, true);
    });
    socket.on('close', () => this.#onSocketClosed());
    this.#log('rtmp.connected', {});
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** Publish was accepted by the hook. */
  get published(): boolean {
    return this.#published;
  }

  /** The client asked to publish (the hook may still be deciding). */
  get publishRequested(): boolean {
    return this.#publishRequested;
  }

  /** The app the client connected to (empty before connect). */
  get app(): string {
    return this.#session.app;
  }

  /**
   * A 'close' listener added after the connection has closed (e.g. once a slow publish hook returns)
   * is still called, on a microtask, so a host never waits for a close that already happened.
   */
  on<E extends keyof RtmpConnectionEvents>(event: E, listener: Listener<E>): this {
    if (event === 'close' && this.#finished) {
      const reason = this.#closeReason ?? 'peer closed';
      queueMicrotask(() => (listener as Listener<'close'>)({ reason }));
      return this;
    }
    this.#listeners[event].push(listener);
    return this;
  }

  off<E extends keyof RtmpConnectionEvents>(event: E, listener: Listener<E>): this {
    const list = this.#listeners[event];
    const at = list.indexOf(listener);
    if (at !== -1) list.splice(at, 1);
    return this;
  }

  /** Ends the connection; the socket is gone within CLOSE_GRACE_MS. The first reason given wins. */
  close(reason: string): void {
    this.#shutdown(reason, false);
  }

  /** Makes room for a newcomer when the server is full: no goodbye, the slot is free at once. */
  evict(reason: string): void {
    this.#shutdown(reason, true);
  }

  /** Replaces the current phase's deadline. */
  #arm(ms: number, reason: string): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.close(reason), ms);
    this.#deadline.unref();
  }

  #disarm(): void {
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  /** `immediately` skips flushing what is queued, for when the peer cannot or will not read it. */
  #shutdown(reason: string, immediately: boolean): void {
    if (this.#closeReason !== undefined) {
      if (immediately) this.#socket.destroy();
      return;
    }
    this.#closeReason = reason;
    this.#disarm();
    this.#socket.setTimeout(0);
    this.#log('rtmp.closing', { reason });
    if (immediately) {
      this.#socket.destroy();
      return;
    }
    // Nothing the peer sends from now on is read; not taking it off the socket keeps a flooder from costing us more.
    this.#socket.pause();
    this.#socket.end();
    this.#destroyTimer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    this.#destroyTimer.unref();
  }

  #log(event: string, fields: Record<string, unknown>): void {
    this.#init.log(event, { connection: this.id, remoteAddress: this.remoteAddress, protocol: this.protocol, ...fields });
  }

  #emit<E extends keyof RtmpConnectionEvents>(event: E, payload: RtmpConnectionEvents[E]): void {
    for (const listener of [...this.#listeners[event]]) {
      try {
        listener(payload);
      } catch (error) {
        // A host bug must not take the process down with it; it costs this connection only.
        this.#log('rtmp.listener_error', { event, error: error instanceof Error ? error.message : String(error) });
        if (event !== 'close') this.close('listener error');
      }
    }
  }

  #onData(bytes: Buffer): void {
    if (this.closed) return;
    if (this.#phase === 'handshake') {
      this.#guarded(() => this.#apply(this.#session.feed(bytes)));
      // Unless the same bytes already got the connection to a later phase (publish requested and answered).
      if (this.#phase === 'handshake' && this.#session.handshakeComplete && !this.closed) {
        this.#phase = 'publish';
        this.#arm(this.#init.settings.publishTimeoutMs, 'publish timeout');
      }
      return;
    }
    this.#guarded(() => this.#apply(this.#session.feed(bytes)));
  }

  /** The session only throws on a bug of ours; that costs this connection, not the process. */
  #guarded(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#log('rtmp.internal_error', { error: error instanceof Error ? error.message : String(error) });
      this.#shutdown('internal error', true);
    }
  }

  #apply(outputs: SessionOutput[]): void {
    for (const output of outputs) {
      if (this.closed) return;
      switch (output.type) {
        case 'write':
          this.#write(output.bytes);
          break;
        case 'publish-requested':
          this.#publishRequested = true;
          if (this.#phase === 'handshake') {
            this.#phase = 'publish';
            this.#arm(this.#init.settings.publishTimeoutMs, 'publish timeout');
          }
          void this.#decide({ app: output.app, streamKey: output.streamKey, remoteAddress: this.remoteAddress, protocol: this.protocol });
          break;
        case 'metadata':
          this.#emit('metadata', { timestamp: output.timestamp, properties: output.properties });
          break;
        case 'audio':
        case 'video':
          if (!this.#mediaSeen) {
            this.#mediaSeen = true;
            this.#phase = 'streaming';
            this.#disarm();
          }
          this.#emit(output.type, { timestamp: output.timestamp, payload: output.payload });
          break;
        case 'unpublished':
          this.#unpublished = true;
          this.#phase = 'linger';
          this.#arm(this.#init.settings.unpublishLingerMs, 'unpublished');
          this.#log('rtmp.unpublished', { app: this.app });
          break;
        case 'error':
          this.#log('rtmp.protocol_error', { code: output.error.code, message: output.error.message });
          this.close(`protocol error: ${output.error.code}`);
          break;
      }
    }
  }

  #write(bytes: Buffer): void {
    this.#socket.write(bytes);
    if (this.#socket.writableLength > this.#init.settings.maxWriteQueueBytes) {
      this.#log('rtmp.write_queue_overflow', { queuedBytes: this.#socket.writableLength });
      this.#shutdown('write queue overflow', true);
    }
  }

  async #decide(request: PublishRequest): Promise<void> {
    this.#log('rtmp.publish_requested', { app: request.app });
    // Texts from the host may quote the key; the log must not.
    const redact = (text: string) => text.split(request.streamKey).join('[stream key]');
    let decision: PublishDecision;
    try {
      decision = await this.#init.onPublish(request, this);
    } catch (error) {
      this.#log('rtmp.publish_hook_failed', { error: redact(error instanceof Error ? error.message : String(error)) });
      decision = { ok: false, reason: 'Publish could not be authorized.' };
    }
    if (this.closed) return;
    if (decision.ok) {
      this.#log('rtmp.publish_accepted', { app: request.app });
      this.#published = true;
      this.#init.onPublished?.(this);
      this.#phase = 'first-media';
      this.#arm(this.#init.settings.firstMediaTimeoutMs, 'no media after publish');
      this.#guarded(() => this.#apply(this.#session.acceptPublish()));
      return;
    }
    this.#log('rtmp.publish_rejected', { app: request.app, reason: redact(decision.reason) });
    this.#guarded(() => this.#apply(this.#session.rejectPublish(decision.reason, decision.code)));
    this.close('publish rejected');
  }

  #onSocketClosed(): void {
    clearTimeout(this.#destroyTimer);
    this.#disarm();
    this.#session.dispose();
    if (this.#closeReason === undefined) this.#closeReason = this.#unpublished ? 'unpublished' : 'peer closed';
    this.#finished = true;
    this.#log('rtmp.closed', { reason: this.#closeReason });
    this.#emit('close', { reason: this.#closeReason });
    this.#init.onClosed?.(this);
  }
}
