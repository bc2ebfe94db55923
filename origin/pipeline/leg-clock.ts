// The wall clock of one ffmpeg run's input (a leg): the instant its first media was live, from the media timestamps
// fed to ffmpeg and the moments they arrived. The leg's first segment starts at its first media, so this anchors the
// leg's #EXT-X-PROGRAM-DATE-TIME (origin/durable/program-date-time.ts).
//
// Estimate: min over media units of (arrival − (timestamp − first timestamp)). A unit can only arrive late (network,
// a buffer before the transcode started, the worker's queue), never early, so the smallest implied start is the best
// one; a burst of held-back media (the early buffer, fed at once when ffmpeg starts) is covered by its last units,
// which arrived when they were live. FLV: audio/video tag timestamps (ms), codec configuration excluded. MPEG-TS:
// PES PTS (90 kHz). Bounded: a fixed-size carry across chunks, a few numbers of state.

const FLV_HEADER_BYTES = 13;
const FLV_TAG_HEAD = 11;
const TS_PACKET = 188;

export class LegClock {
  private best: number | undefined;
  private first: number | undefined;
  private samples = 0;
  // FLV: bytes still to skip before the next tag head, and the head being gathered.
  private flvSkip = FLV_HEADER_BYTES;
  private readonly flvHead = new Uint8Array(FLV_TAG_HEAD + 2);
  private flvHeadLen = 0;
  // MPEG-TS: a packet split across chunks.
  private readonly tsCarry = new Uint8Array(TS_PACKET);
  private tsCarryLen = 0;
  private broken = false;

  constructor(private readonly format: 'flv' | 'mpegts') {}

  /** Bytes as they go to ffmpeg's input, in order; `nowMs` = when they arrived on this origin. */
  push(chunk: Uint8Array, nowMs: number): void {
    if (this.broken) return;
    if (this.format === 'flv') this.pushFlv(chunk, nowMs);
    else this.pushTs(chunk, nowMs);
  }

  /** The estimated wall-clock instant (epoch ms) of the leg's first media; undefined before any media. */
  get anchor(): number | undefined {
    return this.best === undefined ? undefined : Math.round(this.best);
  }

  /** media units the estimate saw */
  get sampleCount(): number {
    return this.samples;
  }

  private sample(mediaMs: number, nowMs: number): void {
    this.first ??= mediaMs;
    const implied = nowMs - (mediaMs - this.first);
    if (this.best === undefined || implied < this.best) this.best = implied;
    this.samples++;
  }

  private pushFlv(chunk: Uint8Array, nowMs: number): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.flvSkip > 0) {
        const n = Math.min(this.flvSkip, chunk.length - i);
        this.flvSkip -= n;
        i += n;
        continue;
      }
      const n = Math.min(this.flvHead.length - this.flvHeadLen, chunk.length - i);
      this.flvHead.set(chunk.subarray(i, i + n), this.flvHeadLen);
      this.flvHeadLen += n;
      i += n;
      if (this.flvHeadLen < this.flvHead.length) continue;
      const h = this.flvHead;
      const type = h[0]! & 0x1f;
      const size = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
      if ((type !== 8 && type !== 9 && type !== 18) || size < 2) {
        // Not a tag boundary (or a tag too short to classify): stop measuring rather than guess; ffmpeg's PDT stays.
        this.broken = true;
        return;
      }
      if (isMediaTag(type, h[FLV_TAG_HEAD]!, h[FLV_TAG_HEAD + 1]!)) {
        const ts = ((h[7]! << 24) | (h[4]! << 16) | (h[5]! << 8) | h[6]!) >>> 0;
        this.sample(ts, nowMs);
      }
      // The rest of the tag's data (2 bytes were read) and its PreviousTagSize.
      this.flvSkip = Math.max(0, size - 2) + 4;
      this.flvHeadLen = 0;
    }
  }

  private pushTs(chunk: Uint8Array, nowMs: number): void {
    let i = 0;
    if (this.tsCarryLen > 0) {
      const n = Math.min(TS_PACKET - this.tsCarryLen, chunk.length);
      this.tsCarry.set(chunk.subarray(0, n), this.tsCarryLen);
      this.tsCarryLen += n;
      i = n;
      if (this.tsCarryLen < TS_PACKET) return;
      this.tsPacket(this.tsCarry, nowMs);
      this.tsCarryLen = 0;
    }
    while (i < chunk.length) {
      if (chunk[i] !== 0x47) {
        i++; // resynchronise on the next sync byte
        continue;
      }
      if (chunk.length - i < TS_PACKET) {
        this.tsCarry.set(chunk.subarray(i), 0);
        this.tsCarryLen = chunk.length - i;
        return;
      }
      this.tsPacket(chunk.subarray(i, i + TS_PACKET), nowMs);
      i += TS_PACKET;
    }
  }

  /** A PES start with a PTS (audio or video stream ids) is one media unit. */
  private tsPacket(p: Uint8Array, nowMs: number): void {
    if (p[0] !== 0x47 || !(p[1]! & 0x40)) return;
    const afc = (p[3]! >> 4) & 3;
    if (!(afc & 1)) return;
    let o = 4;
    if (afc & 2) o += 1 + p[4]!;
    if (o + 14 > TS_PACKET) return;
    if (p[o] !== 0 || p[o + 1] !== 0 || p[o + 2] !== 1) return;
    const streamId = p[o + 3]!;
    const media = (streamId >= 0xc0 && streamId <= 0xdf) || (streamId >= 0xe0 && streamId <= 0xef);
    if (!media || !(p[o + 7]! & 0x80)) return;
    const b = p.subarray(o + 9, o + 14);
    // 33-bit PTS; the division keeps it exact in a double.
    const pts = (b[0]! & 0x0e) * 2 ** 29 + b[1]! * 2 ** 22 + (b[2]! >> 1) * 2 ** 15 + b[3]! * 2 ** 7 + (b[4]! >> 1);
    this.sample(pts / 90, nowMs);
  }
}

/** Audio or video frames; their codec configuration (AVC/HEVC sequence header, AAC AudioSpecificConfig) is not media. */
function isMediaTag(type: number, d0: number, d1: number): boolean {
  if (type === 9) {
    if (d0 & 0x80) return (d0 & 0x0f) === 1 || (d0 & 0x0f) === 3; // enhanced RTMP: coded frames only
    if ((d0 & 0x0f) === 7 && d1 === 0) return false;
    return (d0 >> 4) !== 5; // video info/command frames carry no picture
  }
  if (type === 8) return !(d0 >> 4 === 10 && d1 === 0);
  return false;
}
