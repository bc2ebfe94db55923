// Joins chunks into whole RTMP messages under hard size limits, and applies the two control
// messages that change how the following bytes are chunked (Set Chunk Size, Abort).
import { ChunkReader, DEFAULT_MAX_CHUNK_STREAMS, RtmpProtocolError } from './chunk-reader.ts';

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

export interface AssemblerLimits {
  maxChunkStreams: number;
  /** Audio and video bodies: one encoded frame. */
  maxMediaMessageBytes: number;
  /** Data messages (onMetaData and friends). */
  maxDataMessageBytes: number;
  /** Commands (connect, publish, ...), which are small in every client. */
  maxCommandMessageBytes: number;
  /** Protocol control messages carry at most a few integers. */
  maxControlMessageBytes: number;
  /** Any other type, which we skip but still have to read. */
  maxOtherMessageBytes: number;
  /** Sum over all messages being assembled at once, so many chunk streams cannot each hold a maximum-sized message. */
  maxPartialBytes: number;
}

export const DEFAULT_ASSEMBLER_LIMITS: AssemblerLimits = {
  maxChunkStreams: DEFAULT_MAX_CHUNK_STREAMS,
  maxMediaMessageBytes: 8 * 1024 * 1024,
  maxDataMessageBytes: 256 * 1024,
  maxCommandMessageBytes: 64 * 1024,
  maxControlMessageBytes: 64,
  maxOtherMessageBytes: 64 * 1024,
  maxPartialBytes: 16 * 1024 * 1024,
};

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

interface PartialMessage {
  fragments: Buffer[];
  received: number;
}

export class MessageAssembler {
  readonly #reader: ChunkReader;
  readonly #limits: AssemblerLimits;
  readonly #partial = new Map<number, PartialMessage>();
  #partialBytes = 0;

  constructor(limits: Partial<AssemblerLimits> = {}) {
    this.#limits = { ...DEFAULT_ASSEMBLER_LIMITS, ...limits };
    this.#reader = new ChunkReader({
      maxChunkStreams: this.#limits.maxChunkStreams,
      checkMessageHeader: (typeId, length) => {
        const max = maxMessageBytes(this.#limits, typeId);
        if (length > max) throw new RtmpProtocolError('message-size', `message of type ${typeId} is ${length} bytes, limit ${max}`);
      },
    });
  }

  get chunkSize(): number {
    return this.#reader.chunkSize;
  }

  /** Bytes held: partial chunks in the reader plus partial message bodies. */
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
          partial = { fragments: [], received: 0 };
          this.#partial.set(chunk.chunkStreamId, partial);
        }
        if (this.#partialBytes + chunk.payload.length > this.#limits.maxPartialBytes) {
          throw new RtmpProtocolError('buffer-limit', `more than ${this.#limits.maxPartialBytes} bytes of partial messages`);
        }
        // Copied because the reader's buffer is a view into the caller's input.
        partial.fragments.push(Buffer.from(chunk.payload));
        partial.received += chunk.payload.length;
        this.#partialBytes += chunk.payload.length;
        if (!chunk.last) continue;
        payload = Buffer.concat(partial.fragments, partial.received);
        this.#partialBytes -= partial.received;
        this.#partial.delete(chunk.chunkStreamId);
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
      this.#reader.setChunkSize(value);
      return;
    }
    this.#reader.abort(value);
    const partial = this.#partial.get(value);
    if (partial) {
      this.#partialBytes -= partial.received;
      this.#partial.delete(value);
    }
  }
}
