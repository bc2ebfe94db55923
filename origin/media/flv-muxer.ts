// Turns RTMP onMetaData/audio/video messages back into an FLV byte stream, e.g. for `ffmpeg -f flv -i pipe:0`.
// Pure: RTMP media bodies already are FLV tag bodies, so muxing is only headers and back-pointers.
import { Amf0EcmaArray, encodeAmf0 } from '../rtmp/amf0.ts';
import type { Amf0Object } from '../rtmp/amf0.ts';

export const FlvTagType = { Audio: 8, Video: 9, Script: 18 } as const;
export type FlvTagTypeId = (typeof FlvTagType)[keyof typeof FlvTagType];

const TAG_HEADER_SIZE = 11;
const MAX_TAG_DATA = 0xffffff;

/** The 9-byte file header followed by PreviousTagSize0 (always 0). */
export function flvHeader(streams: { audio: boolean; video: boolean }): Buffer {
  const b = Buffer.alloc(13);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (streams.audio ? 0x04 : 0) | (streams.video ? 0x01 : 0);
  b.writeUInt32BE(9, 5);
  return b;
}

/** One tag plus its trailing PreviousTagSize. Timestamps are milliseconds, wrapped to 32 bits like RTMP's. */
export function flvTag(type: FlvTagTypeId, timestamp: number, data: Buffer): Buffer {
  if (data.length > MAX_TAG_DATA) throw new RangeError(`FLV tag data of ${data.length} bytes exceeds ${MAX_TAG_DATA}`);
  const ts = timestamp >>> 0;
  const b = Buffer.alloc(TAG_HEADER_SIZE + data.length + 4);
  b[0] = type;
  b.writeUIntBE(data.length, 1, 3);
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  // FLV keeps the top 8 bits of the timestamp after the lower 24.
  b[7] = ts >>> 24;
  // Bytes 8..10: stream id, always 0.
  data.copy(b, TAG_HEADER_SIZE);
  b.writeUInt32BE(TAG_HEADER_SIZE + data.length, TAG_HEADER_SIZE + data.length);
  return b;
}

/** Script tag body for onMetaData; the RTMP-only @setDataFrame wrapper is not part of FLV. */
export function flvMetadataTag(properties: Amf0Object, timestamp = 0): Buffer {
  return flvTag(FlvTagType.Script, timestamp, encodeAmf0('onMetaData', new Amf0EcmaArray(properties)));
}

export type FlvInput =
  | { type: 'metadata'; timestamp?: number; properties: Amf0Object }
  | { type: 'audio' | 'video'; timestamp: number; payload: Buffer };

/** Stateful only in that the file header is emitted once, before the first tag. */
export class FlvMuxer {
  #headerWritten = false;

  constructor(readonly streams: { audio: boolean; video: boolean } = { audio: true, video: true }) {}

  push(input: FlvInput): Buffer {
    const tag =
      input.type === 'metadata'
        ? flvMetadataTag(input.properties, input.timestamp ?? 0)
        : flvTag(input.type === 'audio' ? FlvTagType.Audio : FlvTagType.Video, input.timestamp, input.payload);
    if (this.#headerWritten) return tag;
    this.#headerWritten = true;
    return Buffer.concat([flvHeader(this.streams), tag]);
  }
}
