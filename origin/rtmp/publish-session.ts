// Per-connection RTMP publish state machine, pure: bytes in, typed outputs out (bytes to write and
// events for the host). No sockets or timers; the host decides on publish via acceptPublish/rejectPublish.
import type { Amf0Object, Amf0Value } from './amf0.ts';
import { RtmpProtocolError } from './chunk-reader.ts';
import { ChunkWriter } from './chunk-writer.ts';
import { ServerHandshake } from './handshake.ts';
import { DEFAULT_INGEST_LIMITS, IngestBudget, worstCaseConnectionBytes } from './ingest-limits.ts';
import type { IngestAccount, IngestLimits } from './ingest-limits.ts';
import { MessageAssembler, MessageType } from './message-assembler.ts';
import { ChunkStream, PeerBandwidthLimit, command, decodeMessage, encodeMessage, interpretCommand, metadataOf } from './messages.ts';
import type { CommandMessage, IngestCommand, RtmpMessage } from './messages.ts';

export type SessionOutput =
  | { type: 'write'; bytes: Buffer }
  | { type: 'publish-requested'; app: string; streamKey: string; tcUrl: string | undefined }
  | { type: 'metadata'; timestamp: number; properties: Amf0Object }
  | { type: 'audio' | 'video'; timestamp: number; payload: Buffer }
  | { type: 'unpublished' }
  | { type: 'error'; error: RtmpProtocolError };

export type MediaOutput = Extract<SessionOutput, { type: 'metadata' | 'audio' | 'video' }>;

/** What waits for the host's decision on publish, in arrival order. */
type PendingOutput = Extract<SessionOutput, { type: 'metadata' | 'audio' | 'video' | 'unpublished' }>;

export type SessionState =
  | 'handshake'
  | 'awaiting-connect'
  | 'connected'
  | 'publish-pending'
  | 'publishing'
  | 'rejected'
  | 'ended'
  | 'failed';

/** The session enforces the per-connection IngestLimits; the per-origin ones come in through its account. */
export type PublishSessionLimits = IngestLimits;

export const DEFAULT_SESSION_LIMITS: PublishSessionLimits = DEFAULT_INGEST_LIMITS;

/** What a session can hold at most between feed() calls: handshake, one partial chunk, partial messages, pending media. */
export function maxSessionBufferedBytes(limits: PublishSessionLimits = DEFAULT_SESSION_LIMITS): number {
  return worstCaseConnectionBytes(limits);
}

/** Message types that carry a broadcast; only a connection that asked to publish may send them. */
const MEDIA_TYPES: ReadonlySet<number> = new Set([
  MessageType.Audio,
  MessageType.Video,
  MessageType.DataAmf0,
  MessageType.DataAmf3,
  MessageType.Aggregate,
]);

export type RejectCode = 'BadName' | 'Unauthorized';

/** Values we announce; 2.5 MB is what FMS, nginx-rtmp and FFmpeg all use. */
const WINDOW_ACK_SIZE = 2_500_000;
const OUTGOING_CHUNK_SIZE = 4096;
const PUBLISH_STREAM_ID = 1;

export interface PublishSessionOptions {
  limits?: Partial<PublishSessionLimits>;
  /** This connection's share of the server's IngestBudget; unlimited when absent. */
  account?: IngestAccount;
  randomBytes?: (size: number) => Buffer;
}

function stripQuery(text: string): string {
  const at = text.indexOf('?');
  return at === -1 ? text : text.slice(0, at);
}

function status(level: 'status' | 'error', code: string, description: string): Amf0Object {
  return { level, code, description };
}

export class PublishSession {
  readonly #limits: PublishSessionLimits;
  readonly #account: IngestAccount;
  readonly #handshake: ServerHandshake;
  #assembler: MessageAssembler;
  readonly #writer = new ChunkWriter();
  #state: SessionState = 'handshake';
  #out: SessionOutput[] = [];
  #pending: PendingOutput[] = [];
  #pendingBytes = 0;
  /** The client unpublished while the host was still deciding; nothing after that counts. */
  #unpublishPending = false;
  #app = '';
  #tcUrl: string | undefined;
  #publishStreamId = PUBLISH_STREAM_ID;
  /** Acknowledgement bookkeeping: bytes seen, the peer's window, and the count at our last ack. */
  #bytesReceived = 0;
  #ackWindow = 0;
  #lastAck = 0;

  constructor(options: PublishSessionOptions = {}) {
    this.#limits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
    this.#account = options.account ?? IngestBudget.unlimited().account();
    this.#handshake = new ServerHandshake(options.randomBytes ? { randomBytes: options.randomBytes } : {});
    this.#assembler = this.#newAssembler();
  }

  #newAssembler(): MessageAssembler {
    return new MessageAssembler(this.#limits, { account: this.#account, admitMessage: (typeId) => this.#admitMessage(typeId) });
  }

  /**
   * Media before publish is refused as its header arrives, before any of its body is held: no client sends it,
   * and assembling it would let a connection that never authenticates hold frame-sized buffers.
   */
  #admitMessage(typeId: number): void {
    if (!MEDIA_TYPES.has(typeId)) return;
    if (this.#state === 'publish-pending' || this.#state === 'publishing') return;
    throw new RtmpProtocolError('media-before-publish', `message of type ${typeId} while ${this.#state}`);
  }

  get state(): SessionState {
    return this.#state;
  }

  get handshakeComplete(): boolean {
    return this.#handshake.done;
  }

  /** The app from connect, without any query string. */
  get app(): string {
    return this.#app;
  }

  get bufferedBytes(): number {
    return this.#handshake.bufferedBytes + this.#assembler.bufferedBytes + this.#pendingBytes;
  }

  /**
   * Consumes bytes from the peer. A protocol violation becomes one `error` output and the session
   * stops; anything else thrown is a bug in this code and propagates.
   */
  feed(bytes: Buffer): SessionOutput[] {
    if (this.#isFinished()) return [];
    try {
      this.#bytesReceived += bytes.length;
      let rest = bytes;
      if (this.#state === 'handshake') {
        const step = this.#handshake.feed(bytes);
        if (step.reply) this.#write(step.reply);
        if (!step.done) return this.#flush();
        this.#state = 'awaiting-connect';
        rest = step.rest;
      }
      this.#assembler.append(rest);
      for (let raw = this.#assembler.next(); raw; raw = this.#assembler.next()) {
        this.#handle(decodeMessage(raw), raw.payload.length);
        if (this.#isFinished()) break;
      }
      this.#maybeAcknowledge();
    } catch (error) {
      if (!(error instanceof RtmpProtocolError)) throw error;
      this.#fail(error);
    }
    return this.#flush();
  }

  /** The host allows the publish: tells the client to start and releases media that arrived meanwhile. */
  acceptPublish(): SessionOutput[] {
    if (this.#state !== 'publish-pending') return [];
    this.#state = 'publishing';
    this.#account.promote();
    this.#account.release(this.#pendingBytes);
    this.#send({ type: 'user-control', event: { kind: 'stream-begin', streamId: this.#publishStreamId } });
    this.#sendStatus(status('status', 'NetStream.Publish.Start', 'Publishing started.'));
    this.#out.push(...this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#unpublishPending) this.#end();
    return this.#flush();
  }

  /** The host refuses: an error status goes to the client with the reason; the host then closes. */
  rejectPublish(reason: string, code: RejectCode = 'BadName'): SessionOutput[] {
    if (this.#state !== 'publish-pending') return [];
    this.#state = 'rejected';
    this.#release();
    this.#sendStatus(status('error', `NetStream.Publish.${code}`, reason));
    return this.#flush();
  }

  #isFinished(): boolean {
    return this.#state === 'rejected' || this.#state === 'ended' || this.#state === 'failed';
  }

  /** The connection is gone: gives back every byte drawn from the budget; nothing more is read. */
  dispose(): void {
    if (!this.#isFinished()) this.#state = 'ended';
    this.#release();
    this.#account.close();
  }

  /** Once finished nothing more is read, so whatever input is still held can go. */
  #release(): void {
    this.#assembler.dispose();
    this.#assembler = this.#newAssembler();
    this.#account.release(this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #end(): void {
    this.#state = 'ended';
    this.#release();
  }

  #fail(error: RtmpProtocolError): void {
    this.#state = 'failed';
    this.#release();
    this.#out.push({ type: 'error', error });
  }

  #maybeAcknowledge(): void {
    if (this.#ackWindow === 0 || this.#isFinished()) return;
    if (this.#bytesReceived - this.#lastAck < this.#ackWindow) return;
    this.#lastAck = this.#bytesReceived;
    // The sequence number is the byte count modulo 2^32.
    this.#send({ type: 'acknowledgement', sequenceNumber: this.#bytesReceived % 2 ** 32 });
  }

  #flush(): SessionOutput[] {
    const out: SessionOutput[] = [];
    let writes: Buffer[] = [];
    const flushWrites = (): void => {
      if (writes.length === 0) return;
      out.push({ type: 'write', bytes: writes.length === 1 ? writes[0]! : Buffer.concat(writes) });
      writes = [];
    };
    for (const item of this.#out) {
      if (item.type === 'write') {
        writes.push(item.bytes);
        continue;
      }
      flushWrites();
      out.push(item);
    }
    flushWrites();
    this.#out = [];
    return out;
  }

  #write(bytes: Buffer): void {
    this.#out.push({ type: 'write', bytes });
  }

  #send(message: RtmpMessage): void {
    this.#write(this.#writer.write(encodeMessage(message)));
  }

  #sendStatus(info: Amf0Object): void {
    const message = command('onStatus', 0, null, [info], this.#publishStreamId);
    this.#write(this.#writer.write({ ...encodeMessage(message), chunkStreamId: ChunkStream.Data }));
  }

  #result(transactionId: number, commandObject: Amf0Value, ...args: Amf0Value[]): void {
    this.#send(command('_result', transactionId, commandObject, args));
  }

  #handle(message: RtmpMessage, size: number): void {
    switch (message.type) {
      case 'window-ack-size':
        this.#ackWindow = message.windowSize;
        return;
      case 'user-control':
        if (message.event.kind === 'ping-request') {
          this.#send({ type: 'user-control', event: { kind: 'ping-response', timestamp: message.event.timestamp } });
        }
        return;
      case 'command':
        this.#command(message);
        return;
      case 'data': {
        const properties = metadataOf(message);
        if (properties) this.#media({ type: 'metadata', timestamp: message.timestamp, properties }, size);
        return;
      }
      case 'audio':
      case 'video':
        this.#media({ type: message.type, timestamp: message.timestamp, payload: message.payload }, size);
        return;
      default:
        // Set chunk size and abort were applied by the assembler; acks, peer bandwidth and unknown types need nothing.
        return;
    }
  }

  /** `size` is the message body length, which bounds what holding the output costs. */
  #media(output: MediaOutput, size: number): void {
    if (this.#state === 'publishing') {
      this.#out.push(output);
      return;
    }
    // Media before a publish request (or after unpublish) is meaningless to us; clients do not send it, so it is dropped.
    if (this.#state !== 'publish-pending' || this.#unpublishPending) return;
    if (this.#pendingBytes + size > this.#limits.maxPendingMediaBytes) {
      throw new RtmpProtocolError('publish-buffer', `more than ${this.#limits.maxPendingMediaBytes} bytes of media before publish was accepted`);
    }
    if (!this.#account.take(size)) {
      throw new RtmpProtocolError('ingest-budget', `the origin's ingest buffer budget has no room for ${size} bytes of held media`);
    }
    this.#pending.push(output);
    this.#pendingBytes += size;
  }

  #command(message: CommandMessage): void {
    const cmd = interpretCommand(message);
    if (this.#state === 'awaiting-connect') {
      if (cmd.name !== 'connect') throw new RtmpProtocolError('unexpected-command', `${message.name} before connect`);
      this.#connect(cmd);
      return;
    }
    switch (cmd.name) {
      case 'connect':
        throw new RtmpProtocolError('unexpected-command', 'second connect');
      case 'releaseStream':
        this.#result(cmd.transactionId, null, undefined);
        return;
      case 'FCPublish':
        this.#result(cmd.transactionId, null, undefined);
        this.#send(command('onFCPublish', 0, null, [status('status', 'NetStream.Publish.Start', 'FCPublish received.')]));
        return;
      case 'createStream':
        this.#result(cmd.transactionId, null, PUBLISH_STREAM_ID);
        return;
      case 'getStreamLength':
        this.#result(cmd.transactionId, null, 0);
        return;
      case 'publish':
        this.#publish(cmd);
        return;
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        if (this.#state === 'publishing') {
          this.#out.push({ type: 'unpublished' });
          this.#end();
        } else if (this.#state === 'publish-pending' && !this.#unpublishPending) {
          this.#unpublishPending = true;
          this.#pending.push({ type: 'unpublished' });
        }
        return;
      case 'other':
        // _checkbw, ping-like helpers and vendor extensions: nothing an ingest needs to answer.
        return;
    }
  }

  #connect(cmd: Extract<IngestCommand, { name: 'connect' }>): void {
    this.#app = stripQuery(cmd.app).replace(/\/+$/, '');
    this.#state = 'connected';
    this.#send({ type: 'window-ack-size', windowSize: WINDOW_ACK_SIZE });
    this.#send({ type: 'set-peer-bandwidth', windowSize: WINDOW_ACK_SIZE, limitType: PeerBandwidthLimit.Dynamic });
    this.#send({ type: 'set-chunk-size', chunkSize: OUTGOING_CHUNK_SIZE });
    this.#writer.setChunkSize(OUTGOING_CHUNK_SIZE);
    this.#result(
      cmd.transactionId,
      { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      // We speak AMF0 only, so that is the encoding we confirm whatever the client asked for.
      { ...status('status', 'NetConnection.Connect.Success', 'Connection succeeded.'), objectEncoding: 0 },
    );
    this.#send({ type: 'user-control', event: { kind: 'stream-begin', streamId: 0 } });
    this.#tcUrl = cmd.tcUrl;
  }

  #publish(cmd: Extract<IngestCommand, { name: 'publish' }>): void {
    if (this.#state !== 'connected') throw new RtmpProtocolError('unexpected-command', `publish while ${this.#state}`);
    this.#publishStreamId = cmd.messageStreamId;
    const streamKey = stripQuery(cmd.streamName);
    if (streamKey === '') {
      this.#sendStatus(status('error', 'NetStream.Publish.BadName', 'Missing stream key.'));
      throw new RtmpProtocolError('publish-name', 'publish without a stream key');
    }
    this.#state = 'publish-pending';
    this.#out.push({ type: 'publish-requested', app: this.#app, streamKey, tcUrl: this.#tcUrl });
  }
}
