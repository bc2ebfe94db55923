// Session segments as one continuous input for ffmpeg, without re-encoding: each run of segments
// between discontinuities (a "period") becomes a VOD playlist read by the HLS demuxer, and ffmpeg's
// concat demuxer lays the periods end to end.
//
// Why: after a reconnect the encoder's timestamps start again, so the segments cannot be read as one
// stream (DTS would jump back). Why not one concat entry per segment: the concat demuxer rebases each
// file on its earliest packet, which is audio in some segments and video in others, so A/V would shift
// by up to a frame at every segment. Per period the muxer's own timestamps are continuous and only the
// joins need placing: each period starts where the previous one's last packet (audio or video) ends,
// so no packet overlaps and timestamps only ever grow (a reconnect costs at most a few ms of gap).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { probePackets } from './media-probe.ts';
import type { SegmentProbe, ToolPaths } from './media-probe.ts';
import { periodsOf } from './session-media.ts';
import type { SessionSegment } from './session-media.ts';
import { buildConcatList, buildVodPlaylist } from './vod-playlist.ts';
import { initPathOf } from '../durable/fmp4-init.ts';

export interface ConcatPeriod {
  segments: SessionSegment[];
  /** media seconds: the earliest presentation time in the period's first segment (where the demuxer rebases it) */
  inpoint: number;
  /** media seconds: where the last stream of its last segment ends */
  end: number;
  /** seconds on the concat output where `inpoint` lands */
  offset: number;
}

export interface ConcatPlan {
  periods: ConcatPeriod[];
  /** seconds of output */
  duration: number;
}

export interface ConcatInput extends ConcatPlan {
  /** the ffconcat list to give ffmpeg as `-f concat -safe 0 -i <listFile>` */
  listFile: string;
}

/** Probes of segment files, shared by the steps of one job (each probe is a process). */
export class ProbeCache {
  private readonly cache = new Map<string, Promise<SegmentProbe>>();
  constructor(private readonly tools: ToolPaths = {}) {}

  get(file: string): Promise<SegmentProbe> {
    let p = this.cache.get(file);
    if (!p) {
      p = probePackets(file, this.tools);
      this.cache.set(file, p);
    }
    return p;
  }
}

/** Pure: places the periods end to end given the first and last segment probes of each. */
export function planConcat(periods: readonly { segments: SessionSegment[]; first: SegmentProbe; last: SegmentProbe }[]): ConcatPlan {
  let offset = 0;
  const out: ConcatPeriod[] = [];
  for (const p of periods) {
    const inpoint = p.first.start;
    // A period of one segment: first and last are the same probe.
    const end = Math.max(p.last.end, inpoint);
    out.push({ segments: p.segments, inpoint, end, offset });
    offset += end - inpoint;
  }
  return { periods: out, duration: offset };
}

/** Pure: where a media timestamp of period `i` lands on the concat output. */
export function concatTime(plan: ConcatPlan, i: number, mediaTime: number): number {
  const p = plan.periods[i];
  if (!p) throw new RangeError(`no period ${i}`);
  return p.offset + (mediaTime - p.inpoint);
}

/** Pure: the period holding a given segment (by its file). */
export function periodIndexOf(plan: ConcatPlan, segment: SessionSegment): number {
  return plan.periods.findIndex((p) => p.segments.some((s) => s.file === segment.file));
}

/** Writes one VOD playlist per period and the concat list into workDir (which must exist). */
export async function prepareConcat(segments: readonly SessionSegment[], workDir: string, probes: ProbeCache, name = 'input'): Promise<ConcatInput> {
  if (segments.length === 0) throw new Error('nothing to concatenate');
  // A segment starts its own period when it follows a discontinuity: the first one of the selection
  // starts one regardless.
  const runs = periodsOf(segments.map((s, i) => (i === 0 ? { ...s, discontinuity: true } : s)));
  const probed = await Promise.all(runs.map(async (r) => ({ segments: r, first: await probes.get(r[0]!.file), last: await probes.get(r[r.length - 1]!.file) })));
  const plan = planConcat(probed);
  const entries = await Promise.all(
    plan.periods.map(async (p, i) => {
      const file = path.join(workDir, `${name}-period-${i}.m3u8`);
      // A low-latency session's fMP4 segments carry their leg's init as EXT-X-MAP.
      await writeFile(file, buildVodPlaylist(p.segments.map((s) => ({ uri: s.file, duration: s.duration, discontinuity: false, map: initPathOf(s.file) ?? undefined }))));
      // No `inpoint`: it makes the HLS demuxer seek, which fails (EPERM/EIO) or drops the first GOP when the
      // point is a microsecond off its first timestamp. Unset, the demuxer's own start_time is used,
      // which is the same earliest presentation time `inpoint` holds here.
      return { file, duration: p.end - p.inpoint };
    }),
  );
  const listFile = path.join(workDir, `${name}.ffconcat`);
  await writeFile(listFile, buildConcatList(entries));
  return { ...plan, listFile };
}

/** ffmpeg input options for a prepared concat list (HLS playlists inside, absolute paths). */
export function concatInputArgs(listFile: string): string[] {
  return ['-f', 'concat', '-safe', '0', '-i', listFile];
}
