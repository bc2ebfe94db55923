// Streaming reader of ffmpeg's fragmented MP4 (`-movflags +empty_moov+default_base_moof+frag_keyframe`): bytes in, in
// any chunking; out come the init segment (ftyp+moov, with its CODECS string) and each fragment (moof+mdat) with its
// video decode time, duration and whether it starts with a sync sample. Bounded: one box at a time, at most 16 MiB.
import { childBoxes, FieldReader, Mp4BoxError, readBoxHeader } from './mp4-boxes.ts';
import { readTracks, type TrackInfo } from './fmp4-tracks.ts';

export { Mp4BoxError } from './mp4-boxes.ts';

export type Fmp4Unit =
  | { kind: 'init'; bytes: Uint8Array; codecs: string; timescale: number }
  | { kind: 'fragment'; bytes: Uint8Array; decodeTime: number /* s */; duration: number /* s */; independent: boolean };

export type Fmp4Fragment = Extract<Fmp4Unit, { kind: 'fragment' }>;

export const MAX_BOX_BYTES = 16 * 1024 * 1024;

// tfhd flags (ISO 14496-12 8.8.7)
const TFHD_BASE_DATA_OFFSET = 0x01;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x02;
const TFHD_DEFAULT_DURATION = 0x08;
const TFHD_DEFAULT_SIZE = 0x10;
const TFHD_DEFAULT_FLAGS = 0x20;
// trun flags (8.8.8)
const TRUN_DATA_OFFSET = 0x01;
const TRUN_FIRST_SAMPLE_FLAGS = 0x04;
const TRUN_SAMPLE_DURATION = 0x100;
const TRUN_SAMPLE_SIZE = 0x200;
const TRUN_SAMPLE_FLAGS = 0x400;
const TRUN_SAMPLE_CTS = 0x800;

/** A sample is independent when it is a sync sample that depends on no other (sample_depends_on != 1). */
export function sampleIsIndependent(flags: number): boolean {
  const nonSync = (flags >>> 16) & 1;
  const dependsOn = (flags >>> 24) & 3;
  return nonSync === 0 && dependsOn !== 1;
}

export class Fmp4FragmentReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ftyp: Uint8Array | undefined;
  private tracks: TrackInfo[] | undefined;
  /** the track whose clock times fragments: the video track, else the first */
  private timing: TrackInfo | undefined;
  private moof: Uint8Array | undefined;

  constructor(private readonly maxBoxBytes = MAX_BOX_BYTES) {}

  /** Takes the next bytes of the stream; returns the units they completed. Throws Mp4BoxError on a malformed stream. */
  push(chunk: Uint8Array): Fmp4Unit[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const units: Fmp4Unit[] = [];
    for (;;) {
      const box = this.nextBox();
      if (!box) return units;
      const unit = this.onBox(box.type, box.bytes, box.headerSize);
      if (unit) units.push(unit);
    }
  }

  /** bytes held that do not yet make a whole box (and a moof waiting for its mdat) */
  get pendingBytes(): number {
    return this.buffered + (this.moof?.length ?? 0);
  }

  private nextBox(): { type: string; bytes: Uint8Array; headerSize: number } | undefined {
    if (this.buffered < 8) return undefined;
    const header = readBoxHeader(this.peek(Math.min(16, this.buffered)), 0);
    if (!header) return undefined;
    if (header.size > this.maxBoxBytes) throw new Mp4BoxError(`box '${header.type}' of ${header.size} bytes is over the ${this.maxBoxBytes}-byte limit`);
    if (this.buffered < header.size) return undefined;
    return { type: header.type, bytes: this.take(header.size), headerSize: header.headerSize };
  }

  private onBox(type: string, bytes: Uint8Array, headerSize: number): Fmp4Unit | undefined {
    const body = bytes.subarray(headerSize);
    switch (type) {
      case 'ftyp':
        // A new ftyp starts a new presentation (its own moov follows). Copied: `bytes` may view the caller's chunk.
        this.ftyp = bytes.slice();
        this.tracks = undefined;
        this.moof = undefined;
        return undefined;
      case 'moov': {
        if (!this.ftyp) throw new Mp4BoxError('moov before ftyp');
        const tracks = readTracks(body);
        this.tracks = tracks;
        this.timing = tracks.find((t) => t.kind === 'video') ?? tracks[0]!;
        const init = concat([this.ftyp, bytes]);
        this.ftyp = undefined;
        return { kind: 'init', bytes: init, codecs: tracks.filter((t) => t.kind !== 'other').map((t) => t.codec).join(','), timescale: this.timing.timescale };
      }
      case 'moof':
        if (!this.tracks) throw new Mp4BoxError('moof before the init segment (ftyp+moov)');
        if (this.moof) throw new Mp4BoxError('moof without its mdat');
        this.moof = bytes.slice();
        return undefined;
      case 'mdat': {
        if (!this.moof) throw new Mp4BoxError(this.tracks ? 'mdat without a moof' : 'mdat before the init segment (ftyp+moov)');
        const moof = this.moof;
        this.moof = undefined;
        return { kind: 'fragment', bytes: concat([moof, bytes]), ...this.timingOf(moof.subarray(8)) };
      }
      default:
        // styp, sidx, prft, free, udta…: nothing a part needs.
        return undefined;
    }
  }

  private timingOf(moof: Uint8Array): { decodeTime: number; duration: number; independent: boolean } {
    const trafs = childBoxes(moof).filter((b) => b.type === 'traf').map((b) => this.readTraf(b.body));
    const timing = trafs.find((t) => t.track === this.timing);
    if (timing) return { decodeTime: timing.decodeTime / timing.track.timescale, duration: timing.ticks / timing.track.timescale, independent: timing.independent };
    // A fragment without the timing track (audio left over at the end): timed by its longest track, never a start.
    const longest = trafs.reduce<(typeof trafs)[number] | undefined>((a, t) => (!a || t.ticks / t.track.timescale > a.ticks / a.track.timescale ? t : a), undefined);
    if (!longest) throw new Mp4BoxError('moof has no traf');
    return { decodeTime: longest.decodeTime / longest.track.timescale, duration: longest.ticks / longest.track.timescale, independent: false };
  }

  private readTraf(traf: Uint8Array): { track: TrackInfo; decodeTime: number; ticks: number; independent: boolean } {
    const boxes = childBoxes(traf);
    const tfhd = boxes.find((b) => b.type === 'tfhd');
    if (!tfhd) throw new Mp4BoxError('traf without tfhd');
    const h = new FieldReader(tfhd.body, 'tfhd');
    const { flags } = h.fullBox();
    const trackId = h.u32();
    const track = this.tracks!.find((t) => t.id === trackId);
    if (!track) throw new Mp4BoxError(`traf of track ${trackId}, which the moov does not declare`);
    if (flags & TFHD_BASE_DATA_OFFSET) h.skip(8);
    if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX) h.skip(4);
    const defaultDuration = flags & TFHD_DEFAULT_DURATION ? h.u32() : track.defaultSampleDuration;
    if (flags & TFHD_DEFAULT_SIZE) h.skip(4);
    const defaultFlags = flags & TFHD_DEFAULT_FLAGS ? h.u32() : track.defaultSampleFlags;

    const tfdt = boxes.find((b) => b.type === 'tfdt');
    if (!tfdt) throw new Mp4BoxError('traf without tfdt (its decode time)');
    const d = new FieldReader(tfdt.body, 'tfdt');
    const decodeTime = d.fullBox().version === 1 ? d.u64() : d.u32();

    let ticks = 0;
    let firstFlags: number | undefined;
    for (const trun of boxes.filter((b) => b.type === 'trun')) {
      const r = new FieldReader(trun.body, 'trun');
      const { flags: tf } = r.fullBox();
      const count = r.u32();
      if (tf & TRUN_DATA_OFFSET) r.skip(4);
      const first = tf & TRUN_FIRST_SAMPLE_FLAGS ? r.u32() : undefined;
      const perSample = ((tf & TRUN_SAMPLE_DURATION) && 4) + ((tf & TRUN_SAMPLE_SIZE) && 4) + ((tf & TRUN_SAMPLE_FLAGS) && 4) + ((tf & TRUN_SAMPLE_CTS) && 4);
      // Checked before the loop: a forged count cannot make us spin over bytes that are not there.
      if (count * perSample > r.remaining) throw new Mp4BoxError(`trun declares ${count} samples, more than its bytes hold`);
      for (let i = 0; i < count; i++) {
        const duration = tf & TRUN_SAMPLE_DURATION ? r.u32() : defaultDuration;
        if (tf & TRUN_SAMPLE_SIZE) r.skip(4);
        const sampleFlags = tf & TRUN_SAMPLE_FLAGS ? r.u32() : defaultFlags;
        if (tf & TRUN_SAMPLE_CTS) r.skip(4);
        if (firstFlags === undefined) firstFlags = i === 0 && first !== undefined ? first : sampleFlags;
        ticks += duration;
      }
    }
    // Audio samples are all sync samples whatever their flags say; only video decides where a part may start.
    const independent = track.kind === 'video' ? firstFlags !== undefined && sampleIsIndependent(firstFlags) : true;
    return { track, decodeTime, ticks, independent };
  }

  private peek(n: number): Uint8Array {
    const head = this.chunks[0]!;
    if (head.length >= n) return head.subarray(0, n);
    return concat(this.chunks, n);
  }

  /** Removes the first n buffered bytes (n <= buffered) into one array, copying only when they span chunks. */
  private take(n: number): Uint8Array {
    const head = this.chunks[0]!;
    let out: Uint8Array;
    if (head.length >= n) {
      out = head.subarray(0, n);
      if (head.length === n) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        out.set(c.subarray(0, k), filled);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

function concat(parts: Uint8Array[], limit = Number.POSITIVE_INFINITY): Uint8Array {
  const total = Math.min(limit, parts.reduce((n, p) => n + p.length, 0));
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    if (offset >= total) break;
    const k = Math.min(p.length, total - offset);
    out.set(p.subarray(0, k), offset);
    offset += k;
  }
  return out;
}
