// Reads the start of an MPEG-TS stream for what RTMP's onMetaData would have said: the video's size and frame
// rate (from the H.264 SPS) and the audio codec (from the PMT). Pure and bounded: it looks at the first few MiB.
import { parseSps, type SpsInfo } from './h264-sps.ts';
import type { StreamMetadata } from '../pipeline/ladder.ts';

const PACKET = 188;
const SYNC = 0x47;
/** Past this much input without an answer the probe gives up and says what it has. */
const MAX_PROBE_BYTES = 4 * 1024 * 1024;
/** Elementary stream bytes kept while looking for an SPS. */
const MAX_ES_BYTES = 512 * 1024;

const STREAM_TYPE_H264 = 0x1b;
const AUDIO_STREAM_TYPES = new Map<number, 'aac' | 'other'>([
  [0x0f, 'aac'], // AAC in ADTS
  [0x11, 'other'], // AAC in LATM
  [0x03, 'other'], // MPEG-1 audio
  [0x04, 'other'], // MPEG-2 audio
  [0x81, 'other'], // AC-3
  [0x87, 'other'], // E-AC-3
]);
const VIDEO_STREAM_TYPES = new Set([0x01, 0x02, 0x10, STREAM_TYPE_H264, 0x24, 0x42]);

export interface Program {
  videoPid: number | null;
  videoType: number | null;
  audio: 'aac' | 'other' | 'none';
}

export class TsProbe {
  private carry: Uint8Array = new Uint8Array(0);
  private seen = 0;
  private pmtPid: number | null = null;
  private program: Program | null = null;
  /** Video elementary stream gathered while looking for an SPS. */
  private es: Uint8Array | null = null;
  private esLength = 0;
  private scanFrom = 0;
  private spsAt = -1;
  private finished = false;

  get done(): boolean {
    return this.finished;
  }

  /** Feeds the stream in order; returns the metadata once, when it is known (or the probe gives up). */
  push(chunk: Uint8Array): StreamMetadata | null {
    if (this.finished) return null;
    this.seen += chunk.length;
    const bytes = this.carry.length ? concat([this.carry, chunk]) : chunk;
    let offset = 0;
    while (bytes.length - offset >= PACKET) {
      if (bytes[offset] !== SYNC) {
        offset++; // lost sync: look for the next packet start
        continue;
      }
      const found = this.packet(bytes.subarray(offset, offset + PACKET));
      offset += PACKET;
      if (found) return this.finish(found);
    }
    this.carry = bytes.slice(offset);
    if (this.seen >= MAX_PROBE_BYTES) return this.finish(this.partial());
    return null;
  }

  private finish(metadata: StreamMetadata): StreamMetadata {
    this.finished = true;
    this.carry = new Uint8Array(0);
    this.es = null;
    return metadata;
  }

  /** What is known without a readable SPS: the audio, if the PMT came. */
  private partial(): StreamMetadata {
    const meta: StreamMetadata = {};
    if (this.program?.audio === 'aac') meta.audiocodecid = 'mp4a';
    else if (this.program?.audio === 'other') meta.audiocodecid = 'other';
    return meta;
  }

  private packet(p: Uint8Array): StreamMetadata | null {
    const unitStart = (p[1]! & 0x40) !== 0;
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    const adaptation = (p[3]! >> 4) & 0x3;
    if (adaptation === 0 || adaptation === 2) return null; // no payload
    let start = 4;
    if (adaptation === 3) start += 1 + p[4]!;
    if (start >= PACKET) return null;
    const payload = p.subarray(start);

    if (pid === 0 && unitStart) {
      this.pmtPid = readPat(payload) ?? this.pmtPid;
      return null;
    }
    if (pid === this.pmtPid && unitStart && !this.program) {
      this.program = readPmt(payload);
      // Without H.264 video there is no SPS to wait for.
      if (this.program && this.program.videoType !== STREAM_TYPE_H264) return this.partial();
      return null;
    }
    if (this.program && pid === this.program.videoPid) return this.video(payload, unitStart);
    return null;
  }

  private video(payload: Uint8Array, unitStart: boolean): StreamMetadata | null {
    let data = payload;
    if (unitStart) {
      // PES header: 00 00 01, stream id, length (2), flags (2), header data length, header data.
      if (payload.length < 9 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) return null;
      const headerEnd = 9 + payload[8]!;
      if (headerEnd > payload.length) return null;
      data = payload.subarray(headerEnd);
    } else if (this.esLength === 0) {
      return null; // the middle of a PES whose start we did not see
    }
    this.es ??= new Uint8Array(MAX_ES_BYTES);
    if (this.esLength + data.length > MAX_ES_BYTES) {
      this.esLength = 0;
      this.scanFrom = 0;
      this.spsAt = -1;
      if (!unitStart) return null;
    }
    this.es.set(data, this.esLength);
    this.esLength += data.length;
    const sps = this.scanForSps(this.es.subarray(0, this.esLength));
    if (!sps) return null;
    const meta: StreamMetadata = { ...this.partial(), width: sps.width, height: sps.height };
    if (sps.fps !== undefined) meta.framerate = sps.fps;
    return meta;
  }

  /** Looks for an SPS NAL unit (Annex B) in what has not been scanned yet, and parses it once its end is in. */
  private scanForSps(es: Uint8Array): SpsInfo | null {
    for (;;) {
      if (this.spsAt < 0) {
        for (let i = this.scanFrom; i + 3 < es.length; i++) {
          if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1 && (es[i + 3]! & 0x1f) === 7) {
            this.spsAt = i + 3;
            break;
          }
        }
        if (this.spsAt < 0) {
          this.scanFrom = Math.max(0, es.length - 3);
          return null;
        }
      }
      let end = this.spsAt + 1;
      while (end + 2 < es.length && !(es[end] === 0 && es[end + 1] === 0 && (es[end + 2] === 1 || es[end + 2] === 0))) end++;
      if (end + 2 >= es.length) return null; // its end has not arrived yet
      const sps = parseSps(es.subarray(this.spsAt, end));
      if (sps) return sps;
      this.spsAt = -1; // unreadable: try the next one
      this.scanFrom = end;
    }
  }
}

/** The first program's PMT PID from a PAT section (pointer field first). */
export function readPat(payload: Uint8Array): number | null {
  const section = psiSection(payload, 0x00);
  if (!section) return null;
  for (let i = 8; i + 4 <= section.length - 4; i += 4) {
    const program = (section[i]! << 8) | section[i + 1]!;
    if (program !== 0) return ((section[i + 2]! & 0x1f) << 8) | section[i + 3]!;
  }
  return null;
}

export function readPmt(payload: Uint8Array): Program | null {
  const section = psiSection(payload, 0x02);
  if (!section || section.length < 16) return null;
  const programInfoLength = ((section[10]! & 0x0f) << 8) | section[11]!;
  const program: Program = { videoPid: null, videoType: null, audio: 'none' };
  for (let i = 12 + programInfoLength; i + 5 <= section.length - 4; ) {
    const type = section[i]!;
    const pid = ((section[i + 1]! & 0x1f) << 8) | section[i + 2]!;
    const infoLength = ((section[i + 3]! & 0x0f) << 8) | section[i + 4]!;
    if (VIDEO_STREAM_TYPES.has(type) && program.videoPid === null) {
      program.videoPid = pid;
      program.videoType = type;
    }
    const audio = AUDIO_STREAM_TYPES.get(type);
    if (audio && program.audio === 'none') program.audio = audio;
    i += 5 + infoLength;
  }
  return program;
}

/** One PSI section that fits in its first packet, checked for its table id and length. */
function psiSection(payload: Uint8Array, tableId: number): Uint8Array | null {
  const pointer = payload[0];
  if (pointer === undefined) return null;
  const start = 1 + pointer;
  if (start + 3 > payload.length || payload[start] !== tableId) return null;
  const length = ((payload[start + 1]! & 0x0f) << 8) | payload[start + 2]!;
  const end = start + 3 + length;
  if (length < 9 || end > payload.length) return null;
  return payload.subarray(start, end);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
