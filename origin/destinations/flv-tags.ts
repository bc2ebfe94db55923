// FLV as tags for the relays: a bounded, incremental reader of an FLV byte stream (a rung reader's ffmpeg output), the
// tag shape every relay feed works with, and what a keyframe or a codec configuration looks like. Pure.
import { flvTag, type FlvTagTypeId } from '../media/flv-muxer.ts';

export interface MediaTag {
  type: FlvTagTypeId;
  /** milliseconds */
  timestamp: number;
  /** the tag body (RTMP message payload) */
  data: Buffer;
}

/** A tag bigger than this is not media we relay (an FLV tag's own limit is 16 MiB): the reader stops. */
export const MAX_TAG_BYTES = 4 * 1024 * 1024;
const FLV_HEADER_BYTES = 13;
const TAG_HEAD = 11;

export const isVideo = (tag: MediaTag): boolean => tag.type === 9;
export const isAudio = (tag: MediaTag): boolean => tag.type === 8;

/** A video tag that starts a GOP (AVC or enhanced-RTMP codecs), not a sequence header. */
export function isKeyframe(tag: MediaTag): boolean {
  if (tag.type !== 9 || tag.data.length < 2) return false;
  const d0 = tag.data[0]!;
  if (d0 & 0x80) return ((d0 >> 4) & 7) === 1 && ((d0 & 0x0f) === 1 || (d0 & 0x0f) === 3);
  return d0 >> 4 === 1 && ((d0 & 0x0f) !== 7 || tag.data[1] === 1);
}

/** Codec configuration (AVC/HEVC sequence header, AAC AudioSpecificConfig): decoders need it before any frame. */
export function isSequenceHeader(tag: MediaTag): boolean {
  if (tag.data.length < 2) return false;
  const d0 = tag.data[0]!;
  if (tag.type === 9) return d0 & 0x80 ? (d0 & 0x0f) === 0 : (d0 & 0x0f) === 7 && tag.data[1] === 0;
  if (tag.type === 8) return d0 >> 4 === 10 && tag.data[1] === 0;
  return false;
}

export const isMetadata = (tag: MediaTag): boolean => tag.type === 18;

/** One tag as FLV bytes (header + body + PreviousTagSize). */
export const encodeTag = (tag: MediaTag): Buffer => flvTag(tag.type, tag.timestamp, tag.data);

/** Reads FLV tags from a byte stream in any chunking; `broken` once the stream is not FLV (it then reads nothing more). */
export class FlvTagReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerSeen = false;
  broken: string | null = null;

  push(chunk: Buffer): MediaTag[] {
    if (this.broken) return [];
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const tags: MediaTag[] = [];
    let at = 0;
    if (!this.headerSeen) {
      if (this.pending.length < FLV_HEADER_BYTES) return tags;
      if (this.pending.toString('latin1', 0, 3) !== 'FLV') return this.fail('not an FLV stream');
      this.headerSeen = true;
      at = FLV_HEADER_BYTES;
    }
    while (this.pending.length - at >= TAG_HEAD) {
      const type = this.pending[at]! & 0x1f;
      const size = this.pending.readUIntBE(at + 1, 3);
      if (type !== 8 && type !== 9 && type !== 18) return this.fail(`unknown FLV tag type ${type}`);
      if (size > MAX_TAG_BYTES) return this.fail(`FLV tag of ${size} bytes`);
      const total = TAG_HEAD + size + 4;
      if (this.pending.length - at < total) break;
      const timestamp = (this.pending.readUIntBE(at + 4, 3) | (this.pending[at + 7]! << 24)) >>> 0;
      tags.push({ type: type as FlvTagTypeId, timestamp, data: Buffer.from(this.pending.subarray(at + TAG_HEAD, at + TAG_HEAD + size)) });
      at += total;
    }
    this.pending = at > 0 ? Buffer.from(this.pending.subarray(at)) : this.pending;
    return tags;
  }

  private fail(reason: string): MediaTag[] {
    this.broken = reason;
    this.pending = Buffer.alloc(0);
    return [];
  }
}
