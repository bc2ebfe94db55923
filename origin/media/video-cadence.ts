// The encoder's video cadence as it arrives: its frame rate and keyframe interval, measured from the timestamps and
// keyframe flags of its recent frames (what the session health reports as frameRate / keyframeInterval). Pure and
// bounded: a few seconds of frame times and the last few keyframes.

/** Frame times kept for the frame rate: the last few seconds (and never more than this many frames). */
const FRAME_WINDOW_SECONDS = 5;
const MAX_FRAMES = 600;
/** Keyframe intervals averaged for the keyframe interval. */
const KEYFRAME_INTERVALS = 5;
/** A jump in timestamps larger than this (or backwards) is a new timeline: what came before says nothing now. */
const TIMELINE_BREAK_SECONDS = 30;
/** A frame rate needs frames spanning at least this long to mean anything. */
const MIN_SPAN_SECONDS = 0.5;

export interface VideoCadenceReading {
  /** frames per second over the last few seconds; null until measured */
  frameRate: number | null;
  /** seconds between the encoder's keyframes, averaged over the last few; null until two keyframes came */
  keyframeInterval: number | null;
}

export class VideoCadence {
  private frames: number[] = [];
  private keyframes: number[] = [];

  /** One video frame: its decode time (seconds, any origin) and whether it is a keyframe. */
  frame(at: number, keyframe: boolean): void {
    if (!Number.isFinite(at)) return;
    const last = this.frames.at(-1);
    if (last !== undefined && (at < last || at - last > TIMELINE_BREAK_SECONDS)) {
      this.frames = [];
      this.keyframes = [];
    }
    this.frames.push(at);
    while (this.frames.length > MAX_FRAMES || at - this.frames[0]! > FRAME_WINDOW_SECONDS) this.frames.shift();
    if (keyframe) {
      this.keyframes.push(at);
      if (this.keyframes.length > KEYFRAME_INTERVALS + 1) this.keyframes.shift();
    }
  }

  read(): VideoCadenceReading {
    return { frameRate: this.frameRate(), keyframeInterval: this.keyframeInterval() };
  }

  private frameRate(): number | null {
    const span = this.frames.length > 1 ? this.frames.at(-1)! - this.frames[0]! : 0;
    if (span < MIN_SPAN_SECONDS) return null;
    return Math.round(((this.frames.length - 1) / span) * 100) / 100;
  }

  private keyframeInterval(): number | null {
    const k = this.keyframes;
    if (k.length < 2) return null;
    const average = (k.at(-1)! - k[0]!) / (k.length - 1);
    // A keyframe overdue for longer than the average is the interval now (an encoder that stopped sending them).
    const overdue = this.frames.at(-1)! - k.at(-1)!;
    return Math.round(Math.max(average, overdue) * 1000) / 1000;
  }
}

/**
 * An FLV video tag's frame: whether it is a keyframe, or null when the tag carries no picture (codec configuration,
 * end of sequence, a command frame). Legacy tags (AVC, HEVC by codec id) and Enhanced RTMP's extended header.
 */
export function flvVideoFrame(payload: Uint8Array): { keyframe: boolean } | null {
  if (payload.length < 2) return null;
  const first = payload[0]!;
  if (first & 0x80) {
    // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4]; 1 = CodedFrames, 3 = CodedFramesX (no composition time).
    const frameType = (first >> 4) & 0x07;
    const packetType = first & 0x0f;
    if (frameType === 5 || (packetType !== 1 && packetType !== 3)) return null;
    return { keyframe: frameType === 1 };
  }
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  if (frameType === 5) return null;
  // AVC (7) and legacy HEVC (12) carry a packet type: 1 is a picture, 0 the sequence header, 2 end of sequence.
  if ((codecId === 7 || codecId === 12) && payload[1] !== 1) return null;
  return { keyframe: frameType === 1 };
}
