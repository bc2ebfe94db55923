// Reads an FLV byte stream (ffmpeg's `-f flv pipe:1` of a simulive source) back into the tags an RTMP publisher sends:
// onMetaData, audio and video bodies with their timestamps, so the broadcast takes them exactly like an encoder's.
// Pure and incremental; it holds at most one tag's bytes (bounded), and refuses anything that is not FLV.
import { amf0Properties, decodeAmf0 } from '../rtmp/amf0.ts';
import type { FlvInput } from '../media/flv-muxer.ts';

const FILE_HEADER = 9;
const TAG_HEADER = 11;
const PREVIOUS_TAG_SIZE = 4;
/** FLV's own limit on a tag's data (24-bit size). */
export const MAX_FLV_TAG_DATA = 0xffffff;

export class FlvFormatError extends Error {
  override name = 'FlvFormatError';
}

export class FlvTagReader {
  private buffered: Buffer = Buffer.alloc(0);
  private headerRead = false;

  /** Bytes held waiting for the rest of a tag (at most one tag plus a chunk). */
  get bufferedBytes(): number {
    return this.buffered.length;
  }

  /** The tags completed by this chunk, in order. Throws FlvFormatError on bytes that are not FLV. */
  push(chunk: Uint8Array): FlvInput[] {
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const out: FlvInput[] = [];
    let at = 0;
    if (!this.headerRead) {
      if (this.buffered.length < FILE_HEADER + PREVIOUS_TAG_SIZE) return out;
      if (this.buffered.toString('latin1', 0, 3) !== 'FLV') throw new FlvFormatError('not an FLV stream: no FLV signature');
      const headerSize = this.buffered.readUInt32BE(5);
      if (headerSize < FILE_HEADER || headerSize > 64) throw new FlvFormatError(`FLV header size ${headerSize} is not valid`);
      if (this.buffered.length < headerSize + PREVIOUS_TAG_SIZE) return out;
      at = headerSize + PREVIOUS_TAG_SIZE;
      this.headerRead = true;
    }
    while (this.buffered.length - at >= TAG_HEADER) {
      const type = this.buffered[at]! & 0x1f;
      const size = this.buffered.readUIntBE(at + 1, 3);
      const total = TAG_HEADER + size + PREVIOUS_TAG_SIZE;
      if (this.buffered.length - at < total) break;
      // 24 low bits, then the extended (top) 8 bits.
      const timestamp = (this.buffered.readUIntBE(at + 4, 3) | (this.buffered[at + 7]! << 24)) >>> 0;
      const data = Buffer.from(this.buffered.subarray(at + TAG_HEADER, at + TAG_HEADER + size));
      at += total;
      const tag = toInput(type, timestamp, data);
      if (tag) out.push(tag);
    }
    this.buffered = at === 0 ? this.buffered : Buffer.from(this.buffered.subarray(at));
    return out;
  }
}

function toInput(type: number, timestamp: number, data: Buffer): FlvInput | null {
  if (type === 8) return { type: 'audio', timestamp, payload: data };
  if (type === 9) return { type: 'video', timestamp, payload: data };
  if (type !== 18) throw new FlvFormatError(`FLV tag type ${type} is not audio, video or script data`);
  let values;
  try {
    values = decodeAmf0(data);
  } catch (error) {
    throw new FlvFormatError(`FLV script tag is not AMF0: ${String(error).slice(0, 200)}`);
  }
  // Only onMetaData matters to the pipeline (the source's size and rates); other script data is dropped like RTMP's.
  if (values[0] !== 'onMetaData') return null;
  const properties = values[1] === undefined ? undefined : amf0Properties(values[1]);
  return properties ? { type: 'metadata', timestamp, properties } : null;
}
