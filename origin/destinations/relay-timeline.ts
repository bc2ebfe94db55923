// One relayed rendition's timeline across the whole session, shared by the targets relaying it. Pure.
// Each leg of input (an encoder's run, a rung reader's run) starts its timestamps anew; here they are laid end to end so
// a target's connection sees one stream from the first publish to the session's end. While the encoder is gone (the
// reconnect window) the last keyframe is repeated with silent audio beside it (origin/destinations/silent-audio.ts), so
// the remote servers keep a live stream (a still picture, quiet) instead of ending their viewers' broadcast. Duplicate
// codec configuration from a new leg is dropped: `-c copy` relays were started with the first one. The timeline keeps a wall clock (where a real-time stream would be now):
// the repeated keyframe follows it, and the RelayPacer holds what was taken until the clock reaches it.
import { isAudio, isKeyframe, isMetadata, isSequenceHeader, isVideo, type MediaTag } from './flv-tags.ts';
import { silentAudioFor, type SilentAudio } from './silent-audio.ts';

/** The repeated keyframe's spacing while the encoder is gone: about 2 fps keeps players and servers fed at little cost. */
export const FILL_INTERVAL_MS = 500;
/** While the encoder is gone, filling starts once no tag came for this long (a rung's last segment may still arrive). */
export const IDLE_BEFORE_FILL_MS = 1000;
/** A new leg starts this long after the previous leg's last tag (about one frame). */
const LEG_STEP_MS = 40;
/** Jumps in a leg's own timestamps beyond these are a discontinuity (an HLS leg boundary, a restarted ffmpeg). */
const BACKWARD_TOLERANCE_MS = 1000;
const FORWARD_TOLERANCE_MS = 5000;
/** Input may run this far ahead of the clock (a rung's segment read at once, with room for a late long one). */
export const MAX_AHEAD_MS = 6000;

export class RelayTimeline {
  private offset = 0;
  private newLeg = true;
  private lastIn: number | null = null;
  /** Highest timestamp given out so far; -1 before the first tag. */
  private lastOut = -1;
  private metadata: MediaTag | null = null;
  private videoConfig: MediaTag | null = null;
  private audioConfig: MediaTag | null = null;
  private silence: SilentAudio | null = null;
  /** Where the audio given out ends (fractional ms: silent frames are laid on the sample clock, not rounded ms). */
  private audioEnd: number | null = null;
  private lastKeyframe: MediaTag | null = null;
  /** The encoder is gone: idle stretches are filled until the next leg's first tag. */
  private gap = false;
  private pendingLeg = false;
  private filled = false;
  private lastTakeAt = 0;
  /** The clock's reference: the timeline timestamp that was due at wall time `at` (set by the first media tag). */
  private anchor: { at: number; timestamp: number } | null = null;

  /** A new leg begins (the encoder is back): its first tag is laid right after what was given out, and ends the gap. */
  startLeg(): void {
    this.pendingLeg = true;
    this.newLeg = true;
  }

  /** The encoder is gone for now: once the input is idle, fill() gives the repeated keyframe until the next leg. */
  endLeg(): void {
    this.gap = true;
  }

  get inGap(): boolean {
    return this.gap;
  }

  /** An input tag → the tags the relays get (rebased), or none (a duplicate configuration, a later onMetaData). */
  take(tag: MediaTag, now: number): MediaTag[] {
    if (isMetadata(tag)) {
      if (this.metadata) return [];
      this.metadata = { ...tag, timestamp: 0 };
      return [this.metadata];
    }
    if (isSequenceHeader(tag)) {
      const kept = isVideo(tag) ? this.videoConfig : this.audioConfig;
      if (kept && kept.data.equals(tag.data)) return [];
      const config = { ...tag, timestamp: Math.max(0, this.lastOut) };
      if (isVideo(tag)) this.videoConfig = config;
      else {
        this.audioConfig = config;
        this.silence = silentAudioFor(config);
      }
      return [config];
    }
    if (!isVideo(tag) && !isAudio(tag)) return [];
    const jumped = this.lastIn !== null && (tag.timestamp < this.lastIn - BACKWARD_TOLERANCE_MS || tag.timestamp > this.lastIn + FORWARD_TOLERANCE_MS);
    if (this.pendingLeg) {
      this.pendingLeg = false;
      this.gap = false;
    }
    if (this.newLeg || this.filled || jumped) {
      // Repeated keyframes moved the clock on: whatever comes next is laid after them.
      this.offset = (this.lastOut < 0 ? 0 : this.lastOut + LEG_STEP_MS) - tag.timestamp;
      this.newLeg = false;
      this.filled = false;
    }
    this.lastIn = tag.timestamp;
    this.lastTakeAt = now;
    const out = { ...tag, timestamp: Math.max(0, tag.timestamp + this.offset) };
    this.lastOut = Math.max(this.lastOut, out.timestamp);
    // Input faster than real time for longer than a segment (an encoder's clock ahead of ours, a backlog): the clock
    // moves on rather than holding media without bound.
    if (!this.anchor) this.anchor = { at: now, timestamp: out.timestamp };
    else if (out.timestamp > this.clock(now) + MAX_AHEAD_MS) this.anchor = { at: now, timestamp: out.timestamp - MAX_AHEAD_MS };
    if (isKeyframe(out)) this.lastKeyframe = out;
    if (isAudio(out)) this.audioEnd = out.timestamp + (this.silence?.frameMs ?? 0);
    return [out];
  }

  /** The timeline timestamp a real-time stream is at now (what the pacer releases up to). */
  clock(now: number): number {
    return this.anchor ? this.anchor.timestamp + (now - this.anchor.at) : 0;
  }

  /**
   * During a gap, once idle: the last keyframe again, FILL_INTERVAL_MS after the last tag given out, when the clock
   * has reached it (a rung's input comes a segment at a time, ahead of the clock: that must play out first, or the
   * remote stream would drift ahead of real time), after the silent audio frames that reach up to it when the stream
   * has AAC-LC sound. Else nothing.
   */
  fill(now: number): MediaTag[] {
    if (!this.gap || !this.lastKeyframe || now - this.lastTakeAt < IDLE_BEFORE_FILL_MS) return [];
    if (this.clock(now) < this.lastOut + FILL_INTERVAL_MS) return [];
    this.filled = true;
    const data = Buffer.from(this.lastKeyframe.data);
    // Legacy AVC video tags carry a composition time offset; a repeated frame is shown when it is decoded.
    if (!(data[0]! & 0x80) && data.length >= 5) data.fill(0, 2, 5);
    const video: MediaTag = { type: 9, timestamp: this.lastOut + FILL_INTERVAL_MS, data };
    const tags = this.silenceUpTo(video.timestamp);
    tags.push(video);
    this.lastOut = video.timestamp;
    return tags;
  }

  /** Silent frames from where the audio given out ends up to `timestamp` (none for a stream without AAC-LC sound). */
  private silenceUpTo(timestamp: number): MediaTag[] {
    const silence = this.silence;
    if (!silence) return [];
    // A stream whose sound had not started yet starts it with the gap.
    let at = Math.max(this.audioEnd ?? timestamp - FILL_INTERVAL_MS, timestamp - FILL_INTERVAL_MS - silence.frameMs);
    const frames: MediaTag[] = [];
    while (at <= timestamp) {
      frames.push(silence.frame(Math.round(at)));
      at += silence.frameMs;
    }
    this.audioEnd = at;
    return frames;
  }

  /** What a relay joining now must send first: onMetaData and the codec configurations seen so far. */
  joinHeaders(): MediaTag[] {
    return [this.metadata, this.videoConfig, this.audioConfig].filter((t): t is MediaTag => t !== null).map((t) => ({ ...t, timestamp: 0 }));
  }

  /** A joining relay may start right away (during a gap) with the repeated keyframe. */
  get hasKeyframe(): boolean {
    return this.lastKeyframe !== null;
  }
}

/** A relay's own start: nothing before the first keyframe (audio included), so the remote stream decodes from frame one. */
export class JoinGate {
  private open = false;

  pass(tag: MediaTag): boolean {
    if (this.open) return true;
    if (isSequenceHeader(tag) || isMetadata(tag)) return true;
    if (isKeyframe(tag)) this.open = true;
    return this.open;
  }
}
