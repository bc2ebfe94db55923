// Silence for a relayed rendition's gap: while the encoder is gone the timeline repeats the last keyframe, and these
// AAC frames keep the audio track going beside it, so a platform that watches for sound (YouTube warns, some players
// stall on a track that stops) sees a still picture with quiet instead of a stream that lost its audio. Pure.
import type { MediaTag } from './flv-tags.ts';

/** AAC-LC (object type 2) has 1024 samples per frame. */
const SAMPLES_PER_FRAME = 1024;
/** ISO 14496-3 sampling frequency index → Hz (index 15, an explicit rate, is not used by FLV encoders). */
const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * One silent raw AAC-LC frame per channel configuration (a single zero-spectrum element: SCE for mono, CPE for stereo),
 * the frames encoders emit for digital silence. Other layouts and profiles (HE-AAC's SBR) get no filler: the video
 * alone is repeated, as before.
 */
const SILENT_FRAMES: Record<number, Buffer> = {
  1: Buffer.from([0x00, 0xc8, 0x00, 0x80, 0x23, 0x80]),
  2: Buffer.from([0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80]),
};

export interface SilentAudio {
  /** An FLV AAC raw-frame tag body at a timestamp. */
  frame(timestamp: number): MediaTag;
  /** One frame's duration in milliseconds (fractional: 1024 samples at the stream's rate). */
  frameMs: number;
}

/**
 * Silence matching a stream's AAC configuration (the FLV AAC sequence header tag), or null when it is not AAC-LC mono
 * or stereo at a standard rate.
 */
export function silentAudioFor(config: MediaTag): SilentAudio | null {
  const d = config.data;
  // FLV audio tag: sound format 10 (AAC) in the high nibble, then AACPacketType 0, then the AudioSpecificConfig.
  if (config.type !== 8 || d.length < 4 || d[0]! >> 4 !== 10 || d[1] !== 0) return null;
  const objectType = d[2]! >> 3;
  const rateIndex = ((d[2]! & 0x07) << 1) | (d[3]! >> 7);
  const channels = (d[3]! >> 3) & 0x0f;
  const rate = SAMPLE_RATES[rateIndex];
  const silent = SILENT_FRAMES[channels];
  if (objectType !== 2 || !rate || !silent) return null;
  const head = d[0]!;
  return {
    frameMs: (SAMPLES_PER_FRAME * 1000) / rate,
    frame: (timestamp) => ({ type: 8, timestamp, data: Buffer.concat([Buffer.from([head, 1]), silent]) }),
  };
}
