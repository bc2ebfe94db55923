// Joins chunks into whole RTMP messages under hard size limits, and applies the two control
// messages that change how the following bytes are chunked (Set Chunk Size, Abort).
import { ChunkReader, RtmpProtocolError } from './chunk-reader.ts';
import { DEFAULT_INGEST_LIMITS, IngestBudget } from './ingest-limits.ts';
import type { IngestAccount, IngestLimits } from './ingest-limits.ts';

/** A message as it travels in chunks: header fields plus an opaque body. */
export interface RawMessage {
  chunkStreamId: number;
  typeId: number;
  timestamp: number;
  messageStreamId: number;
  payload: Buffer;
}

export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  CommandAmf3: 17,
  DataAmf0: 18,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;

/** The IngestLimits this layer enforces (see ingest-limits.ts for what they add up to). */
export type AssemblerLimits = Pick<
  IngestLimits,
  | 'maxChunkStreams'
  | 'maxMediaMessageBytes'
  | 'maxDataMessageBytes'
  | 'maxCommandMessageBytes'
  | 'maxControlMessageBytes'
  | 'maxOtherMessageBytes'
  | 'maxPartialBytes'
  | 'minChunkSize'
>;

export const DEFAULT_ASSEMBLER_LIMITS: AssemblerLimits = DEFAULT_INGEST_LIMITS;

export interface MessageAssemblerOptions {
  /** Where the bytes of partial messages are drawn from (the server's IngestBudget); unlimited when absent. */
  account?: IngestAccount;
  /** Sees each new message's type and length before any of its body is held; throws RtmpProtocolError to refuse. */
  admitMessage?: (typeId: number, messageLength: number) => void;
}

/** First allocation for a multi-chunk message; it then doubles, so the memory held stays under twice what arrived. */
const INITIAL_PARTIAL_BYTES = 4096;

function maxMessageBytes(limits: AssemblerLimits, typeId: number): number {
  switch (typeId) {
    case MessageType.Audio:
    case MessageType.Video:
      return limits.maxMediaMessageBytes;
    case MessageType.DataAmf0:
    case MessageType.DataAmf3:
      return limits.maxDataMessageBytes;
    case MessageType.CommandAmf0:
    case MessageType.CommandAmf3:
      return limits.maxCommandMessageBytes;
    default:
      return typeId >= 1 && typeId <= 6 ? limits.maxControlMessageBytes : limits.maxOtherMessageBytes;
  }
}

/**
 * A message whose chunks are still arriving, coalesced into one buffer: one allocation per message whatever the
 * chunk size, so the memory held is the buffer's capacity and nothing per chunk.
 */
interface PartialMessage {
  body: Buffer;
  received: number;
}

export class MessageAssembler {
  readonly #reader: ChunkReader;
  readonly #limits: AssemblerLimits;
  readonly #account: IngestAccount;
  readonly #partial = new Map<number, PartialMessage>();
  /** Capacity of the partial messages' buffers: the memory they hold, not the payload received. */
  #partialBytes = 0;

  constructor(limits: Partial<AssemblerLimits> = {}, options: MessageAssemblerOptions = {}) {
    this.#limits = { ...DEFAULT_ASSEMBLER_LIMITS, ...limits };
    this.#account = options.account ?? IngestBudget.unlimited().account();
    const admit = options.admitMessage;
    this.#reader = new ChunkReader({
      maxChunkStreams: this.#limits.maxChunkStreams,
      checkMessageHeader: (typeId, length) => {
        const max = maxMessageBytes(this.#limits, typeId);
        if (length > max) throw new RtmpProtocolError('message-size', `message of type ${typeId} is ${length} bytes, limit ${max}`);
        if (length > this.#reader.chunkSize && this.#reader.chunkSize < this.#limits.minChunkSize) {
          throw new RtmpProtocolError(
            'chunk-overhead',
            `message of ${length} bytes in chunks of ${this.#reader.chunkSize}, below the minimum ${this.#limits.minChunkSize}`,
          );
        }
        admit?.(typeId, length);
      },
    });
  }

  get chunkSize(): number {
    return this.#reader.chunkSize;
  }

  /** Bytes held: the partial chunk in the reader plus the buffers of partial messages. */
  get bufferedBytes(): number {
    return this.#reader.bufferedBytes + this.#partialBytes;
  }

  append(bytes: Buffer): void {
    this.#reader.append(bytes);
  }

  /**
   * The next complete message, or undefined until more bytes arrive. Pulled one at a time so that
   * messages before a malformed chunk are still handled. Throws RtmpProtocolError.
   */
  next(): RawMessage | undefined {
    for (let chunk = this.#reader.next(); chunk; chunk = this.#reader.next()) {
      let payload: Buffer;
      if (chunk.first && chunk.last) {
        payload = Buffer.from(chunk.payload);
      } else {
        let partial = this.#partial.get(chunk.chunkStreamId);
        if (!partial) {
          partial = { body: Buffer.alloc(0), received: 0 };
          this.#partial.set(chunk.chunkStreamId, partial);
        }
        const needed = partial.received + chunk.payload.length;
        if (needed > partial.body.length) this.#grow(partial, needed, chunk.messageLength);
        // Copied because the reader's buffer is a view into the caller's input.
        chunk.payload.copy(partial.body, partial.received);
        partial.received = needed;
        if (!chunk.last) continue;
        payload = partial.body.length === partial.received ? partial.body : partial.body.subarray(0, partial.received);
        this.#drop(chunk.chunkStreamId);
      }
      const message: RawMessage = {
        chunkStreamId: chunk.chunkStreamId,
        typeId: chunk.typeId,
        timestamp: chunk.timestamp,
        messageStreamId: chunk.messageStreamId,
        payload,
      };
      this.#applyChunkControl(message);
      return message;
    }
    return undefined;
  }

  /** Gives back every byte drawn from the account; the assembler reads nothing more after this. */
  dispose(): void {
    for (const chunkStreamId of [...this.#partial.keys()]) this.#drop(chunkStreamId);
  }

  #grow(partial: PartialMessage, needed: number, messageLength: number): void {
    const capacity = Math.min(messageLength, Math.max(needed, partial.body.length * 2, INITIAL_PARTIAL_BYTES));
    const extra = capacity - partial.body.length;
    if (this.#partialBytes + extra > this.#limits.maxPartialBytes) {
      throw new RtmpProtocolError('buffer-limit', `more than ${this.#limits.maxPartialBytes} bytes of partial messages`);
    }
    if (!this.#account.take(extra)) {
      throw new RtmpProtocolError('ingest-budget', `the origin's ingest buffer budget has no room for ${extra} more bytes`);
    }
    // allocUnsafeSlow: one exactly sized allocation, not a slice pinning a shared pool; every byte is written before use.
    const body = Buffer.allocUnsafeSlow(capacity);
    partial.body.copy(body, 0, 0, partial.received);
    partial.body = body;
    this.#partialBytes += extra;
  }

  #drop(chunkStreamId: number): void {
    const partial = this.#partial.get(chunkStreamId);
    if (!partial) return;
    this.#partialBytes -= partial.body.length;
    this.#account.release(partial.body.length);
    this.#partial.delete(chunkStreamId);
  }

  /** append() then every complete message, in arrival order. */
  push(bytes: Buffer): RawMessage[] {
    this.append(bytes);
    const messages: RawMessage[] = [];
    for (let message = this.next(); message; message = this.next()) messages.push(message);
    return messages;
  }

  /** Must run before the next chunk is parsed: both messages change how it is read. */
  #applyChunkControl(message: RawMessage): void {
    if (message.typeId !== MessageType.SetChunkSize && message.typeId !== MessageType.Abort) return;
    if (message.payload.length < 4) {
      throw new RtmpProtocolError('message-malformed', `control message of type ${message.typeId} shorter than 4 bytes`);
    }
    const value = message.payload.readUInt32BE(0);
    if (message.typeId === MessageType.SetChunkSize) {
      // Shrinking the chunk size under a message already started would chop its rest into tiny chunks.
      if (value < this.#limits.minChunkSize && this.#partial.size > 0) {
        throw new RtmpProtocolError('chunk-overhead', `chunk size ${value} set while a message is being assembled`);
      }
      this.#reader.setChunkSize(value);
      return;
    }
    this.#reader.abort(value);
    this.#drop(value);
  }
}
