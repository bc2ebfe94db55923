// The video frames of an MPEG-TS stream (SRT) as they go by: each PES start on the video PID gives a frame's decode
// time (DTS, else PTS) and whether it is a keyframe (the adaptation field's random_access_indicator, which muxers such as
// ffmpeg's, and so OBS, set on keyframes). Feeds VideoCadence for the session health. Pure; keeps under one packet.
import { readPat, readPmt } from './ts-probe.ts';

const PACKET = 188;
const SYNC = 0x47;
/** PTS/DTS tick rate. */
const CLOCK_HZ = 90_000;

export type TsVideoFrame = { at: number; keyframe: boolean };

export class TsVideoFrames {
  private carry: Uint8Array = new Uint8Array(0);
  private pmtPid: number | null = null;
  private videoPid: number | null = null;

  /** Feeds the stream in order; calls `frame` for each video frame start found in it. */
  push(chunk: Uint8Array, frame: (f: TsVideoFrame) => void): void {
    let bytes = chunk;
    if (this.carry.length) {
      bytes = new Uint8Array(this.carry.length + chunk.length);
      bytes.set(this.carry);
      bytes.set(chunk, this.carry.length);
    }
    let offset = 0;
    while (bytes.length - offset >= PACKET) {
      if (bytes[offset] !== SYNC) {
        offset++; // lost sync: look for the next packet start
        continue;
      }
      this.packet(bytes.subarray(offset, offset + PACKET), frame);
      offset += PACKET;
    }
    this.carry = bytes.slice(offset);
  }

  private packet(p: Uint8Array, frame: (f: TsVideoFrame) => void): void {
    if ((p[1]! & 0x40) === 0) return; // only packets that start a unit (PSI section, PES) matter here
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    const adaptation = (p[3]! >> 4) & 0x3;
    if (adaptation === 0 || adaptation === 2) return; // no payload
    let start = 4;
    let randomAccess = false;
    if (adaptation === 3) {
      const length = p[4]!;
      randomAccess = length > 0 && (p[5]! & 0x40) !== 0;
      start += 1 + length;
    }
    if (start >= PACKET) return;
    const payload = p.subarray(start);
    if (pid === 0) {
      this.pmtPid = readPat(payload) ?? this.pmtPid;
    } else if (pid === this.pmtPid) {
      this.videoPid = readPmt(payload)?.videoPid ?? this.videoPid;
    } else if (pid === this.videoPid) {
      const at = pesDecodeTime(payload);
      if (at !== null) frame({ at: at / CLOCK_HZ, keyframe: randomAccess });
    }
  }
}

/** A PES header's DTS, or its PTS without one, in 90 kHz ticks; null when the header has neither. */
function pesDecodeTime(pes: Uint8Array): number | null {
  if (pes.length < 14 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return null;
  const flags = pes[7]! >> 6; // 2: PTS only, 3: PTS and DTS
  if (flags === 3 && pes.length >= 19) return timestamp(pes, 14);
  if (flags === 2 || flags === 3) return timestamp(pes, 9);
  return null;
}

/** A 33-bit PES timestamp (5 bytes, marker bits between its parts). */
function timestamp(b: Uint8Array, at: number): number {
  return (
    ((b[at]! >> 1) & 0x07) * 2 ** 30 + (b[at + 1]! << 22) + ((b[at + 2]! >> 1) << 15) + (b[at + 3]! << 7) + (b[at + 4]! >> 1)
  );
}
