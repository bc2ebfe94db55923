// Serializes messages into chunks at our outgoing chunk size, compressing headers against the
// previous message on the same chunk stream the way the chunk reader resolves them.
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './chunk-reader.ts';
import type { RawMessage } from './message-assembler.ts';

const EXTENDED = 0xffffff;
export const MAX_CHUNK_STREAM_ID = 65_599;

interface WrittenState {
  timestamp: number;
  delta: number;
  messageLength: number;
  typeId: number;
  messageStreamId: number;
  /** After a type 0 header peers disagree on what a following type 3 adds, so we never write that pair. */
  afterFull: boolean;
}

export interface ChunkWriterOptions {
  chunkSize?: number;
  /** Use header types 1–3 when fields repeat; off writes a type 0 header for every message. */
  compressHeaders?: boolean;
}

function basicHeader(fmt: number, chunkStreamId: number): Buffer {
  if (chunkStreamId < 64) return Buffer.of((fmt << 6) | chunkStreamId);
  if (chunkStreamId < 320) return Buffer.of(fmt << 6, chunkStreamId - 64);
  const rest = chunkStreamId - 64;
  return Buffer.of((fmt << 6) | 1, rest & 0xff, rest >> 8);
}

export class ChunkWriter {
  #chunkSize: number;
  readonly #compress: boolean;
  readonly #streams = new Map<number, WrittenState>();

  constructor(options: ChunkWriterOptions = {}) {
    this.#chunkSize = DEFAULT_CHUNK_SIZE;
    this.#compress = options.compressHeaders ?? true;
    if (options.chunkSize !== undefined) this.setChunkSize(options.chunkSize);
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Call after writing the Set Chunk Size message itself, which still goes out at the old size. */
  setChunkSize(size: number): void {
    if (!Number.isInteger(size) || size < MIN_CHUNK_SIZE || size > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunk size ${size} outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
    }
    this.#chunkSize = size;
  }

  write(message: RawMessage): Buffer {
    const { chunkStreamId, typeId, messageStreamId, payload } = message;
    const timestamp = message.timestamp >>> 0;
    if (!Number.isInteger(chunkStreamId) || chunkStreamId < 2 || chunkStreamId > MAX_CHUNK_STREAM_ID) {
      throw new RangeError(`chunk stream id ${chunkStreamId} outside 2..${MAX_CHUNK_STREAM_ID}`);
    }
    if (payload.length > 0xffffff) throw new RangeError(`message of ${payload.length} bytes exceeds 16 MiB`);

    const prev = this.#compress ? this.#streams.get(chunkStreamId) : undefined;
    let fmt = 0;
    let field = timestamp;
    let delta = timestamp;
    if (prev && prev.messageStreamId === messageStreamId && timestamp >= prev.timestamp) {
      delta = timestamp - prev.timestamp;
      field = delta;
      if (prev.messageLength !== payload.length || prev.typeId !== typeId) fmt = 1;
      else if (delta !== prev.delta || prev.afterFull) fmt = 2;
      else fmt = 3;
    }
    const extended = (fmt === 3 ? prev!.delta : field) >= EXTENDED;
    const extendedValue = fmt === 3 ? prev!.delta : field;

    const header: Buffer[] = [basicHeader(fmt, chunkStreamId)];
    if (fmt <= 2) {
      const h = Buffer.alloc(fmt === 0 ? 11 : fmt === 1 ? 7 : 3);
      h.writeUIntBE(extended ? EXTENDED : field, 0, 3);
      if (fmt <= 1) {
        h.writeUIntBE(payload.length, 3, 3);
        h[6] = typeId;
      }
      if (fmt === 0) h.writeUInt32LE(messageStreamId >>> 0, 7);
      header.push(h);
    }
    const ext = Buffer.alloc(extended ? 4 : 0);
    if (extended) ext.writeUInt32BE(extendedValue >>> 0);
    header.push(ext);

    const parts: Buffer[] = [...header];
    const continuation = Buffer.concat([basicHeader(3, chunkStreamId), ext]);
    for (let offset = 0; ; ) {
      const end = Math.min(offset + this.#chunkSize, payload.length);
      parts.push(payload.subarray(offset, end));
      offset = end;
      if (offset >= payload.length) break;
      parts.push(continuation);
    }

    this.#streams.set(chunkStreamId, {
      timestamp,
      delta,
      messageLength: payload.length,
      typeId,
      messageStreamId,
      afterFull: fmt === 0,
    });
    return Buffer.concat(parts);
  }
}
