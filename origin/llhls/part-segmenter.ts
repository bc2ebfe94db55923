// Cuts LL-HLS parts and segments from fMP4 fragments: every fragment is a part (numbered from 0 within its segment), and
// a segment closes at the first independent fragment once segmentSeconds have accumulated. Its bytes are its parts'.
import type { Fmp4Fragment } from './fmp4-fragments.ts';

export type SegmenterOutput =
  | { type: 'part'; msn: number; part: number; duration: number; independent: boolean; bytes: Uint8Array }
  | { type: 'segment'; msn: number; duration: number; parts: number; bytes: Uint8Array };

export interface PartSegmenterOptions {
  segmentSeconds: number;
  /** media sequence number of the first segment */
  firstMsn: number;
  /**
   * A source without keyframes for this long still gets its segment closed (at a non-independent part), so a
   * segment's duration stays within the playlist's target duration and its bytes bounded. Default 3 × segmentSeconds.
   */
  maxSegmentSeconds?: number;
  /** the same bound in bytes; default 64 MiB */
  maxSegmentBytes?: number;
  /**
   * The first segment closes at the first independent fragment after its start, however short. ffmpeg cuts a fragment
   * when any track (audio too) has run for -frag_duration since its own first packet in the fragment; at a leg's start
   * the audio leads the video (AAC priming of a transcoded rung: 23 ms, plus the source's own A/V offset), so the first
   * fragment is cut a frame or more early and the whole part grid stays shifted until the next keyframe restarts it,
   * leaving a sliver of a part before that keyframe (measured: 0.033 s at 29.97 fps). Ending the first segment there
   * makes the sliver a segment's last part, which rfc8216bis exempts from the 85 % rule (the short first part is
   * INDEPENDENT, exempt too); from that keyframe on the audio never leads and every part is whole.
   */
  closeFirstAtKeyframe?: boolean;
}

/**
 * Fragment durations come from the encoder's clock (RTMP's are whole milliseconds): a keyframe 2 s after the last one
 * may sum to a hair under 2 s, and must still close the segment rather than double it.
 */
const DURATION_SLACK_SECONDS = 0.01;

export class PartSegmenter {
  private readonly segmentSeconds: number;
  private readonly maxSegmentSeconds: number;
  private readonly maxSegmentBytes: number;
  private msn: number;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private accumulated = 0;
  private readonly closeFirstAtKeyframe: boolean;
  private closedAny = false;

  constructor(opts: PartSegmenterOptions) {
    if (!(opts.segmentSeconds > 0)) throw new Error('segmentSeconds must be positive');
    if (!Number.isInteger(opts.firstMsn) || opts.firstMsn < 0) throw new Error('firstMsn must be a whole number >= 0');
    this.segmentSeconds = opts.segmentSeconds;
    this.maxSegmentSeconds = opts.maxSegmentSeconds ?? 3 * opts.segmentSeconds;
    this.maxSegmentBytes = opts.maxSegmentBytes ?? 64 * 1024 * 1024;
    this.msn = opts.firstMsn;
    this.closeFirstAtKeyframe = opts.closeFirstAtKeyframe ?? false;
  }

  /** media sequence number of the segment the next part goes into */
  get nextMsn(): number {
    return this.msn;
  }

  push(fragment: Pick<Fmp4Fragment, 'bytes' | 'duration' | 'independent'>): SegmenterOutput[] {
    const out: SegmenterOutput[] = [];
    if (this.parts.length === 0 && !fragment.independent) {
      // Nothing before the first keyframe can be decoded: such a part would open a segment no player can start with.
      return out;
    }
    const due = fragment.independent && (this.accumulated >= this.segmentSeconds - DURATION_SLACK_SECONDS || (this.closeFirstAtKeyframe && !this.closedAny));
    const overdue = this.accumulated >= this.maxSegmentSeconds || this.partsBytes + fragment.bytes.length > this.maxSegmentBytes;
    if (this.parts.length > 0 && (due || overdue)) out.push(this.closeSegment());
    out.push({ type: 'part', msn: this.msn, part: this.parts.length, duration: fragment.duration, independent: fragment.independent, bytes: fragment.bytes });
    this.parts.push(fragment.bytes);
    this.partsBytes += fragment.bytes.length;
    this.accumulated += fragment.duration;
    return out;
  }

  /** The stream ended: the segment in progress closes as it is. */
  flush(): SegmenterOutput[] {
    return this.parts.length > 0 ? [this.closeSegment()] : [];
  }

  private closeSegment(): SegmenterOutput {
    const bytes = new Uint8Array(this.partsBytes);
    let offset = 0;
    for (const p of this.parts) {
      bytes.set(p, offset);
      offset += p.length;
    }
    const segment: SegmenterOutput = { type: 'segment', msn: this.msn, duration: this.accumulated, parts: this.parts.length, bytes };
    this.msn += 1;
    this.closedAny = true;
    this.parts = [];
    this.partsBytes = 0;
    this.accumulated = 0;
    return segment;
  }
}
