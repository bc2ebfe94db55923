// RTMP chunk stream layer: turns a byte stream split at arbitrary points into chunks whose headers
// are resolved against the previous chunk on the same chunk stream. Bodies are joined in message-assembler.ts.

/** Why a peer's bytes were refused; stable strings so logs and tests can match on them. */
export type RtmpErrorCode =
  | 'handshake'
  | 'chunk-header'
  | 'chunk-size'
  | 'chunk-streams'
  | 'message-size'
  | 'buffer-limit'
  | 'ingest-budget'
  | 'chunk-overhead'
  | 'media-before-publish'
  | 'message-malformed'
  | 'amf0-malformed'
  | 'amf0-limit'
  | 'command-malformed'
  | 'unexpected-command'
  | 'publish-name'
  | 'publish-buffer';

/**
 * The one error type of the RTMP boundary: anything a peer can make our parsers throw is one of these.
 * Lives here because the chunk layer is the lowest one every other layer already depends on.
 */
export class RtmpProtocolError extends Error {
  override readonly name = 'RtmpProtocolError';
  constructor(
    readonly code: RtmpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_CHUNK_SIZE = 128;
export const MIN_CHUNK_SIZE = 1;
/** Larger chunks buy nothing for ingest and would let a peer make us hold big partial chunks. */
export const MAX_CHUNK_SIZE = 65_536;
/** Distinct chunk stream ids one connection may use; encoders use a handful. */
export const DEFAULT_MAX_CHUNK_STREAMS = 64;

/** One chunk with the header of the message it belongs to. */
export interface Chunk {
  chunkStreamId: number;
  /** 0–3: which header form the peer used (0 full, 1 no stream id, 2 delta only, 3 none). */
  fmt: number;
  timestamp: number;
  messageLength: number;
  typeId: number;
  messageStreamId: number;
  /** This chunk's share of the body; a view into the input, copy it to keep it. */
  payload: Buffer;
  /** First chunk of its message. */
  first: boolean;
  /** Last chunk of its message. */
  last: boolean;
}

interface ChunkStreamState {
  timestamp: number;
  /** Added for a type 3 chunk that starts a new message; for type 0 it is the absolute timestamp, as FFmpeg reads and writes it. */
  delta: number;
  messageLength: number;
  typeId: number;
  messageStreamId: number;
  /** Whether the last type 0–2 header carried an extended timestamp, so type 3 chunks carry one too. */
  extended: boolean;
  /** Body bytes of the current message still to come; 0 between messages. */
  remaining: number;
}

const MESSAGE_HEADER_LENGTH = [11, 7, 3, 0] as const;
const EXTENDED = 0xffffff;
const EMPTY = Buffer.alloc(0);

export interface ChunkReaderOptions {
  maxChunkStreams?: number;
  /** Sees each new message's type and length as soon as its header is in, before any body is held; throws to refuse. */
  checkMessageHeader?: (typeId: number, messageLength: number) => void;
}

/**
 * Pull parser: append() bytes as they arrive, then call next() until it returns undefined.
 * Input is only joined into one buffer once a whole chunk is available, so a peer trickling
 * bytes one at a time costs linear work, and at most one chunk (header + chunk size) is held.
 */
export class ChunkReader {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  readonly #maxChunkStreams: number;
  readonly #checkMessageHeader: ((typeId: number, messageLength: number) => void) | undefined;
  readonly #streams = new Map<number, ChunkStreamState>();
  #buf: Buffer = EMPTY;
  #pos = 0;
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** Bytes needed from #pos before parsing can make progress. */
  #need = 1;

  constructor(options: ChunkReaderOptions = {}) {
    this.#maxChunkStreams = options.maxChunkStreams ?? DEFAULT_MAX_CHUNK_STREAMS;
    this.#checkMessageHeader = options.checkMessageHeader;
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Applies to the next chunk read; the peer announces it with a Set Chunk Size message. */
  setChunkSize(size: number): void {
    if (!Number.isInteger(size) || size < MIN_CHUNK_SIZE || size > MAX_CHUNK_SIZE) {
      throw new RtmpProtocolError('chunk-size', `chunk size ${size} outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
    }
    this.#chunkSize = size;
  }

  /** Drops the rest of the message in progress on a chunk stream (Abort message). */
  abort(chunkStreamId: number): void {
    const state = this.#streams.get(chunkStreamId);
    if (state) state.remaining = 0;
  }

  /** Bytes received but not yet returned as chunks. */
  get bufferedBytes(): number {
    return this.#buf.length - this.#pos + this.#partsLength;
  }

  get chunkStreamCount(): number {
    return this.#streams.size;
  }

  append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#parts.push(bytes);
    this.#partsLength += bytes.length;
  }

  next(): Chunk | undefined {
    if (this.bufferedBytes < this.#need) return undefined;
    this.#flatten();
    const chunk = this.#parse();
    if (chunk) this.#need = 1;
    return chunk;
  }

  #flatten(): void {
    if (this.#parts.length === 0) return;
    const rest = this.#buf.subarray(this.#pos);
    this.#buf = rest.length === 0 && this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat([rest, ...this.#parts]);
    this.#pos = 0;
    this.#parts = [];
    this.#partsLength = 0;
  }

  /** Parses one chunk at #pos, or records in #need how many bytes it waits for. Commits state only for a whole chunk. */
  #parse(): Chunk | undefined {
    const buf = this.#buf;
    const start = this.#pos;
    const available = buf.length - start;
    const b0 = buf[start]!;
    const fmt = b0 >> 6;
    let chunkStreamId = b0 & 0x3f;
    let offset = 1;
    if (chunkStreamId === 0) offset = 2;
    else if (chunkStreamId === 1) offset = 3;
    const headerLength = offset + MESSAGE_HEADER_LENGTH[fmt as 0 | 1 | 2 | 3];
    if (available < headerLength) return this.#wait(headerLength);
    if (offset === 2) chunkStreamId = 64 + buf[start + 1]!;
    else if (offset === 3) chunkStreamId = 64 + buf[start + 1]! + buf[start + 2]! * 256;

    const prev = this.#streams.get(chunkStreamId);
    if (!prev) {
      if (fmt !== 0) {
        throw new RtmpProtocolError('chunk-header', `type ${fmt} chunk on chunk stream ${chunkStreamId} without a previous type 0 chunk`);
      }
      if (this.#streams.size >= this.#maxChunkStreams) {
        throw new RtmpProtocolError('chunk-streams', `more than ${this.#maxChunkStreams} chunk streams`);
      }
    }
    const continuing = prev !== undefined && prev.remaining > 0;
    if (continuing && fmt !== 3) {
      throw new RtmpProtocolError('chunk-header', `type ${fmt} chunk on chunk stream ${chunkStreamId} in the middle of a message`);
    }

    let timestampField = 0;
    let messageLength = prev?.messageLength ?? 0;
    let typeId = prev?.typeId ?? 0;
    let messageStreamId = prev?.messageStreamId ?? 0;
    let p = start + offset;
    if (fmt <= 2) {
      timestampField = buf.readUIntBE(p, 3);
      p += 3;
    }
    if (fmt <= 1) {
      messageLength = buf.readUIntBE(p, 3);
      typeId = buf[p + 3]!;
      p += 4;
    }
    if (fmt === 0) {
      messageStreamId = buf.readUInt32LE(p);
      p += 4;
    }
    if (!continuing) this.#checkMessageHeader?.(typeId, messageLength);
    const extended = fmt === 3 ? prev!.extended : timestampField === EXTENDED;
    let extendedValue = 0;
    if (extended) {
      if (available < p - start + 4) return this.#wait(p - start + 4);
      extendedValue = buf.readUInt32BE(p);
      p += 4;
    }

    const remaining = continuing ? prev.remaining : messageLength;
    const payloadLength = Math.min(remaining, this.#chunkSize);
    const total = p - start + payloadLength;
    if (available < total) return this.#wait(total);

    let timestamp: number;
    let delta: number;
    const value = extended ? extendedValue : timestampField;
    if (fmt === 0) {
      timestamp = value;
      delta = value;
    } else if (fmt === 3) {
      delta = prev!.delta;
      timestamp = continuing ? prev.timestamp : (prev!.timestamp + delta) >>> 0;
    } else {
      delta = value;
      timestamp = (prev!.timestamp + delta) >>> 0;
    }

    const state: ChunkStreamState = prev ?? {
      timestamp: 0,
      delta: 0,
      messageLength: 0,
      typeId: 0,
      messageStreamId: 0,
      extended: false,
      remaining: 0,
    };
    state.timestamp = timestamp;
    state.delta = delta;
    state.messageLength = messageLength;
    state.typeId = typeId;
    state.messageStreamId = messageStreamId;
    if (fmt !== 3) state.extended = extended;
    state.remaining = remaining - payloadLength;
    if (!prev) this.#streams.set(chunkStreamId, state);

    this.#pos = start + total;
    return {
      chunkStreamId,
      fmt,
      timestamp,
      messageLength,
      typeId,
      messageStreamId,
      payload: buf.subarray(p, p + payloadLength),
      first: !continuing,
      last: state.remaining === 0,
    };
  }

  #wait(bytes: number): undefined {
    this.#need = bytes;
    return undefined;
  }
}
