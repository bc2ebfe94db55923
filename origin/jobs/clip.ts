// Cuts a clip from a session's source rendition (live or finished): a fast-start MP4 and a VOD HLS.
// Times are seconds on the session timeline (sum of EXTINF, reconnect gaps not counted).
//
// Keyframe mode copies whole GOPs: it starts on the last keyframe at or before startTime and ends on
// the first keyframe at or after endTime, so the clip covers the request and is off by less than a GOP.
// Accurate mode is a smart cut: the frames before the first and after the last keyframe inside the
// range are re-encoded with x264 set up to write the source's exact SPS/PPS (read from x264's own
// options SEI), the GOPs in between are copied. The joined stream is only used when the re-encoded
// edges' parameter sets are byte-identical to the copied ones (then one avcC is right for all of it);
// otherwise, or for a source not encoded by x264, the clip's video is re-encoded whole.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import { matchX264Settings, parameterSets, sameParameterSets, splitAnnexB, spsLevel, startsWithIdr, x264Options } from './h264-params.ts';
import type { ParameterSets } from './h264-params.ts';
import { fileSize, makeWorkDir, moveInto, writeVodMaster } from './job-files.ts';
import { MediaJobError } from './job-error.ts';
import { ffmpegOrThrow, probeMediaInfo, probePackets, readAnnexB } from './media-probe.ts';
import { isTransientJobFailure } from './job-retry.ts';
import type { MediaInfo, ToolPaths, VideoFrame } from './media-probe.ts';
import { concatInputArgs, concatTime, periodIndexOf, prepareConcat, ProbeCache } from './session-concat.ts';
import { readSourceRendition, segmentIndexAt } from './session-media.ts';
import type { SessionRendition, SessionSegment } from './session-media.ts';
import { buildConcatList, seconds } from './vod-playlist.ts';
import { aacIntoMp4Args, isFmp4Media, segmentInputOf } from '../durable/fmp4-init.ts';
import { validateClipRange, MAX_CLIP_SECONDS, MIN_CLIP_SECONDS } from '../../shared/clip-range.ts';

export { validateClipRange, MAX_CLIP_SECONDS, MIN_CLIP_SECONDS };

export const CLIP_MP4 = 'clip.mp4';
export const CLIP_VOD_DIR = 'vod';
const CLIP_RENDITION = 'source';
// Timestamps go through ffprobe's and ffmpeg's microseconds: compare with half a millisecond of slack.
const EPS = 0.0005;



export interface CutClipJob extends ToolPaths {
  sessionDir: string;
  /** seconds on the session timeline */
  startTime: number;
  endTime: number;
  /** frame-accurate smart cut; default false (keyframes, no re-encode) */
  accurate?: boolean;
  /** where the clip goes; created if missing, an earlier attempt's outputs are replaced */
  outDir: string;
  /** default MAX_CLIP_SECONDS */
  maxSeconds?: number;
  /**
   * The segment that opened the encoder run of the folder's first segment, when the folder starts mid-run (a part
   * materialized from R2): x264 wrote its options there, which the smart cut needs.
   */
  runHeadFile?: string;
}

export type ClipMethod = 'keyframe' | 'smart' | 'reencode';

export interface ClipArtifacts {
  /** {outDir}/clip.mp4, fast start */
  mp4Path: string;
  /** {outDir}/vod: master.m3u8 + source/index.m3u8 and segments */
  vodDir: string;
  /** seconds: the MP4's duration */
  duration: number;
  /** seconds on the session timeline the clip really starts and ends at */
  actualStart: number;
  actualEnd: number;
  /** bytes of the MP4 */
  size: number;
  mediaInfo: MediaInfo;
  /** keyframe: GOPs copied; smart: edges re-encoded, middle copied; reencode: the clip's video encoded whole */
  method: ClipMethod;
  /** video frames that went through the encoder (0: the clip's video is the source's, bit for bit) */
  reencodedFrames: number;
  /** why an accurate clip was re-encoded whole instead of smart-cut */
  fallbackReason?: string;
}

export async function cutClip(job: CutClipJob): Promise<ClipArtifacts> {
  const tools: ToolPaths = { ...(job.ffmpegPath ? { ffmpegPath: job.ffmpegPath } : {}), ...(job.ffprobePath ? { ffprobePath: job.ffprobePath } : {}) };
  const source = await readSourceRendition(job.sessionDir, tools);
  const problem = validateClipRange({ startTime: job.startTime, endTime: job.endTime, available: source.duration, ...(job.maxSeconds !== undefined ? { maxSeconds: job.maxSeconds } : {}) });
  if (problem) throw new MediaJobError('invalid-range', problem.message, problem.field);

  const work = await makeWorkDir(job.outDir);
  try {
    const ctx: CutContext = { source, probes: new ProbeCache(tools), tools, work: work.dir, ...(job.runHeadFile ? { runHeadFile: job.runHeadFile } : {}) };
    const tmpMp4 = path.join(work.dir, CLIP_MP4);
    let cut: CutResult;
    if (!job.accurate) {
      cut = await keyframeCut(ctx, job.startTime, job.endTime, tmpMp4);
    } else {
      cut = await smartCut(ctx, job.startTime, job.endTime, tmpMp4);
    }
    const mediaInfo = await probeMediaInfo(tmpMp4, tools);
    const vodTmp = path.join(work.dir, CLIP_VOD_DIR);
    await writeClipVod(tmpMp4, vodTmp, mediaInfo, tools);

    const mp4Path = path.join(job.outDir, CLIP_MP4);
    const vodDir = path.join(job.outDir, CLIP_VOD_DIR);
    await moveInto(vodTmp, vodDir);
    await moveInto(tmpMp4, mp4Path);
    const out: ClipArtifacts = {
      mp4Path,
      vodDir,
      duration: mediaInfo.duration,
      actualStart: round6(cut.actualStart),
      actualEnd: round6(cut.actualEnd),
      size: await fileSize(mp4Path),
      mediaInfo,
      method: cut.method,
      // Re-encoded whole: every frame of the clip went through the encoder.
      reencodedFrames: cut.method === 'reencode' ? (mediaInfo.video?.frames ?? 0) : cut.reencodedFrames,
    };
    if (cut.fallbackReason) out.fallbackReason = cut.fallbackReason;
    return out;
  } finally {
    await work.remove();
  }
}

interface CutContext {
  source: SessionRendition;
  runHeadFile?: string;
  probes: ProbeCache;
  tools: ToolPaths;
  work: string;
}

interface CutResult {
  actualStart: number;
  actualEnd: number;
  method: ClipMethod;
  reencodedFrames: number;
  fallbackReason?: string;
}

/** A video frame of a segment, placed on the session timeline. */
interface PlacedFrame extends VideoFrame {
  /** index of its segment in the source rendition */
  seg: number;
  /** index in the segment, presentation order */
  index: number;
  /** seconds on the session timeline */
  at: number;
}

/** Where a copy ends: before a keyframe (excluded, cut on its DTS), or at the end of a segment's video. */
type CopyEnd = { kind: 'keyframe'; frame: PlacedFrame } | { kind: 'segment-end'; seg: number };

interface SegmentFrames {
  frames: PlacedFrame[];
  /** timeline instant the segment's video ends */
  end: number;
}

async function framesOf(ctx: CutContext, seg: number): Promise<SegmentFrames> {
  const s = ctx.source.segments[seg]!;
  const v = (await ctx.probes.get(s.file)).video;
  if (!v || v.frames.length === 0) throw new MediaJobError('no-media', `segment ${s.uri} has no video`);
  const frames = v.frames.map((f, index) => ({ ...f, seg, index, at: s.start + (f.pts - v.start) }));
  // EXTINF is the muxer's own measure of the same span: prefer it to a sum of rounded frame times.
  const measured = v.end - v.start;
  return { frames, end: s.start + (Math.abs(measured - s.duration) < 0.002 ? s.duration : measured) };
}

/** The segment holding a range's end: an end exactly on a boundary belongs to the earlier segment. */
const segmentEndingAt = (segments: readonly SessionSegment[], t: number): number => segmentIndexAt(segments, Math.max(0, t - EPS));

async function keyframeCut(ctx: CutContext, start: number, end: number, out: string): Promise<CutResult> {
  const segs = ctx.source.segments;
  const first = segmentIndexAt(segs, start);
  const last = segmentEndingAt(segs, end);
  const { frames: fs } = await framesOf(ctx, first);
  const { frames: fe, end: lastEnd } = await framesOf(ctx, last);
  const from = lastWhere(fs, (f) => f.key && f.at <= start + EPS) ?? fs[0]!;
  // The segment starts before endTime, so a keyframe at or after it is never the segment's first frame.
  const next = fe.find((f) => f.key && f.index > 0 && f.at >= end - EPS && f.at > from.at + EPS);
  const to: CopyEnd = next ? { kind: 'keyframe', frame: next } : { kind: 'segment-end', seg: last };
  const endFrame = next ? fe[next.index - 1]! : fe[fe.length - 1]!;
  const video = path.join(ctx.work, 'video.ts');
  await copyVideo(ctx, from, to, video);
  await muxClip(ctx, [video], from, endFrame, out);
  return { actualStart: from.at, actualEnd: next ? next.at : lastEnd, method: 'keyframe', reencodedFrames: 0 };
}

async function smartCut(ctx: CutContext, start: number, end: number, out: string): Promise<CutResult> {
  const segs = ctx.source.segments;
  const first = segmentIndexAt(segs, start);
  const last = segmentEndingAt(segs, end);
  const { frames: fs } = await framesOf(ctx, first);
  const { frames: fe, end: lastEnd } = await framesOf(ctx, last);

  // The frame on screen at startTime, and the last frame that starts before endTime.
  const startFrame = lastWhere(fs, (f) => f.at <= start + EPS) ?? fs[0]!;
  const endFrame = lastWhere(fe, (f) => f.at < end - EPS) ?? fe[0]!;
  const afterEnd = fe[endFrame.index + 1];
  const actualStart = startFrame.at;
  const actualEnd = afterEnd ? afterEnd.at : lastEnd;

  // Copy from the first keyframe at or after the start to the last GOP boundary at or before the end.
  let copyFrom: PlacedFrame | undefined = fs.find((f) => f.key && f.index >= startFrame.index);
  if (!copyFrom && first + 1 <= last) copyFrom = (first + 1 === last ? fe : (await framesOf(ctx, first + 1)).frames)[0];
  let copyTo: CopyEnd | undefined;
  if (!afterEnd) copyTo = { kind: 'segment-end', seg: last };
  else if (afterEnd.key) copyTo = { kind: 'keyframe', frame: afterEnd };
  else {
    const k = lastWhere(fe, (f) => f.key && f.index <= endFrame.index);
    if (k && k.index > 0) copyTo = { kind: 'keyframe', frame: k };
    else if (k && last > 0) copyTo = { kind: 'segment-end', seg: last - 1 };
  }
  const copyToAt = copyTo === undefined ? undefined : copyTo.kind === 'keyframe' ? copyTo.frame.at : copyTo.seg === last ? lastEnd : fe[0]!.at;
  const headFrames = copyFrom ? (copyFrom.seg === first ? copyFrom.index : fs.length) - startFrame.index : 0;
  const tailFrom = copyTo?.kind === 'keyframe' && copyTo.frame.seg === last ? copyTo.frame.index : 0;
  const tailFrames = copyToAt !== undefined && actualEnd > copyToAt + EPS ? endFrame.index + 1 - tailFrom : 0;

  const reencode = async (reason: string): Promise<CutResult> => {
    await reencodeRange(ctx, startFrame, endFrame, out);
    return { actualStart, actualEnd, method: 'reencode', reencodedFrames: 0, fallbackReason: reason };
  };
  if (!copyFrom || copyTo === undefined || copyToAt === undefined || copyToAt <= copyFrom.at + EPS) {
    return reencode('no whole GOP inside the range to copy');
  }

  const plan: SmartPlan = { first, last, startFrame, endFrame, copyFrom, copyTo, headFrames, tailFrom, tailFrames };
  let problem: string | undefined;
  try {
    problem = await smartPieces(ctx, plan, out);
  } catch (err) {
    // Killed from outside: the job is run again as it was, not turned into a slower re-encode.
    if (isTransientJobFailure(err)) throw err;
    // An x264 that refuses the copied options, say: the whole re-encode still makes the clip.
    problem = `the smart cut failed: ${(err as Error).message}`;
  }
  if (problem) return reencode(problem);
  return { actualStart, actualEnd, method: 'smart', reencodedFrames: headFrames + tailFrames };
}

interface SmartPlan {
  first: number;
  last: number;
  startFrame: PlacedFrame;
  endFrame: PlacedFrame;
  copyFrom: PlacedFrame;
  copyTo: CopyEnd;
  headFrames: number;
  /** first re-encoded frame of the last segment */
  tailFrom: number;
  tailFrames: number;
}

/** Encodes the edges, copies the middle and joins them; returns why it could not, or undefined when done. */
async function smartPieces(ctx: CutContext, p: SmartPlan, out: string): Promise<string | undefined> {
  const { first, last, startFrame, endFrame, copyFrom, copyTo, headFrames, tailFrom, tailFrames } = p;
  const pieces: string[] = [];
  let reference: ParameterSets | undefined;
  let x264Params: string | undefined;
  if (headFrames > 0 || tailFrames > 0) {
    // The settings the source was encoded with, from x264's SEI at the start of its encoder run.
    const ref = await annexBOf(ctx, copyFrom.seg);
    if (!startsWithIdr(ref.nals)) return 'the source keyframes are not IDR frames';
    const runStart = firstSegmentOfRun(ctx.source, copyFrom.seg);
    // A folder that starts mid-run holds the run's first segment apart (runHeadFile).
    const head = runStart === 0 && ctx.runHeadFile ? splitAnnexB(await readAnnexB(ctx.runHeadFile, 1, ctx.tools)) : (await annexBOf(ctx, runStart)).nals;
    const options = x264Options(head);
    if (!options) return 'the source was not encoded by x264 (no x264 options SEI), so its SPS/PPS cannot be reproduced';
    const level = spsLevel(ref.sets);
    if (level === undefined) return 'no SPS in the source';
    const matched = matchX264Settings(options, level);
    if (!matched.ok) return matched.reason;
    const info = await probeMediaInfo(ctx.source.segments[copyFrom.seg]!.file, ctx.tools);
    if (info.video?.pixelFormat && info.video.pixelFormat !== 'yuv420p') return `pixel format ${info.video.pixelFormat}`;
    reference = ref.sets;
    x264Params = matched.x264Params;
  }
  if (headFrames > 0) {
    const head = path.join(ctx.work, 'head.ts');
    await encodeEdge(ctx, first, startFrame.index, startFrame.index + headFrames, x264Params!, head);
    pieces.push(head);
  }
  const middle = path.join(ctx.work, 'middle.ts');
  await copyVideo(ctx, copyFrom, copyTo, middle);
  pieces.push(middle);
  if (tailFrames > 0) {
    const tail = path.join(ctx.work, 'tail.ts');
    await encodeEdge(ctx, last, tailFrom, tailFrom + tailFrames, x264Params!, tail);
    pieces.push(tail);
  }
  for (const p of pieces) {
    if (p === middle || !reference) continue;
    const sets = parameterSets(splitAnnexB(await readAnnexB(p, 1, ctx.tools)));
    if (!sameParameterSets(sets, reference)) {
      return `x264 did not reproduce the source's SPS/PPS (${sets.sps[0] ?? '-'}/${sets.pps[0] ?? '-'} vs ${reference.sps[0]}/${reference.pps[0]})`;
    }
  }
  await muxClip(ctx, pieces, startFrame, endFrame, out);
  return undefined;
}

async function annexBOf(ctx: CutContext, seg: number): Promise<{ nals: Uint8Array[]; sets: ParameterSets }> {
  const nals = splitAnnexB(await readAnnexB(ctx.source.segments[seg]!.file, 1, ctx.tools));
  return { nals, sets: parameterSets(nals) };
}

/** The segment that opened the encoder run holding `seg`: x264 writes its options SEI there. */
function firstSegmentOfRun(r: SessionRendition, seg: number): number {
  let i = seg;
  while (i > 0 && !r.segments[i]!.discontinuity) i--;
  return i;
}

/**
 * Copies the video packets from keyframe `from` up to `to` into an MPEG-TS piece, through the concat
 * input of the segments involved, trimmed with output-side -ss/-t. Both compare DTS for a copied
 * stream (ffmpeg 5.1 drops a packet whose DTS is before -ss even when its PTS is not), so the cut
 * points are the keyframes' DTS: with B-frames the frames shown before a keyframe are decoded before it.
 */
async function copyVideo(ctx: CutContext, from: PlacedFrame, to: CopyEnd, out: string): Promise<void> {
  const lastSeg = to.kind === 'keyframe' ? to.frame.seg : to.seg;
  const input = await prepareConcat(ctx.source.segments.slice(from.seg, lastSeg + 1), ctx.work, ctx.probes, `copy-${path.basename(out, '.ts')}`);
  const at = (seg: number, mediaTime: number): number => concatTime(input, periodIndexOf(input, ctx.source.segments[seg]!), mediaTime);
  const ss = at(from.seg, from.dts) - EPS;
  const until = to.kind === 'keyframe' ? at(to.frame.seg, to.frame.dts) - EPS : at(to.seg, (await ctx.probes.get(ctx.source.segments[to.seg]!.file)).video!.end) - EPS;
  await ffmpegOrThrow('copying the clip video', [
    ...concatInputArgs(input.listFile), '-map', '0:v:0', '-an',
    '-c', 'copy', '-ss', seconds(ss), '-t', seconds(until - ss), '-f', 'mpegts', out,
  ], ctx.tools);
}

/** Re-encodes frames [from, to) (presentation order) of one segment; the segment starts with a keyframe. */
async function encodeEdge(ctx: CutContext, seg: number, from: number, to: number, x264Params: string, out: string): Promise<void> {
  await ffmpegOrThrow('re-encoding a clip edge', [
    '-i', segmentInputOf(ctx.source.segments[seg]!.file),
    '-map', '0:v:0', '-an',
    // Frame numbers, not times: exact whatever the timestamps' rounding.
    '-vf', `trim=start_frame=${from}:end_frame=${to},setpts=PTS-STARTPTS`,
    '-fps_mode', 'passthrough',
    '-c:v', 'libx264', '-preset', 'veryfast', '-x264-params', x264Params,
    '-f', 'mpegts', out,
  ], ctx.tools);
}

/**
 * The clip MP4 from its video pieces (concat demuxer, each lasting exactly its frames) and the source's
 * audio over the same frames, copied. The audio goes through a raw ADTS file, which starts at 0 for
 * sure, and is put back at its first packet's offset from the first frame with -itsoffset, so no
 * output -ss touches the video (it would drop a B-frame stream's first keyframe on its DTS).
 */
async function muxClip(ctx: CutContext, pieces: readonly string[], startFrame: PlacedFrame, endFrame: PlacedFrame, out: string): Promise<void> {
  const spans = await Promise.all(pieces.map((p) => probePackets(p, ctx.tools)));
  const list = path.join(ctx.work, 'pieces.ffconcat');
  await writeFile(list, buildConcatList(pieces.map((file, i) => ({ file, duration: spans[i]!.video!.end - spans[i]!.video!.start }))));

  const segments = ctx.source.segments.slice(startFrame.seg, endFrame.seg + 1);
  const fmp4 = isFmp4Media(segments);
  const args = ['-f', 'concat', '-safe', '0', '-i', list];
  if ((await ctx.probes.get(segments[0]!.file)).audio) {
    const input = await prepareConcat(segments, ctx.work, ctx.probes, 'audio');
    const at = (seg: number, mediaTime: number): number => concatTime(input, periodIndexOf(input, ctx.source.segments[seg]!), mediaTime);
    const startAt = at(startFrame.seg, startFrame.pts);
    // Audio runs to the end of the last frame on the source's timeline (a reconnect gap inside counts).
    const endAt = at(endFrame.seg, endFrame.pts) + endFrame.duration;
    let firstAudio: number | undefined;
    for (const s of segments) {
      const p = await ctx.probes.get(s.file);
      const seg = ctx.source.segments.indexOf(s);
      firstAudio = p.audio?.packets.map((t) => at(seg, t)).find((t) => t >= startAt - EPS);
      if (firstAudio !== undefined) break;
    }
    if (firstAudio !== undefined && firstAudio < endAt) {
      // fMP4 sessions' raw AAC reaches the concat output without its config, which ADTS headers need: an M4A instead
      // (its muxer takes the config from the packets), starting at 0 just the same.
      const audio = path.join(ctx.work, fmp4 ? 'audio.m4a' : 'audio.aac');
      await ffmpegOrThrow('cutting the clip audio', [
        ...concatInputArgs(input.listFile), '-map', '0:a:0', '-vn',
        '-c', 'copy', '-ss', seconds(startAt - EPS), '-t', seconds(endAt - startAt), '-f', fmp4 ? 'mp4' : 'adts', audio,
      ], ctx.tools);
      args.push('-itsoffset', seconds(Math.max(0, firstAudio - startAt)), ...(fmp4 ? [] : ['-f', 'aac']), '-i', audio, '-map', '0:v:0', '-map', '1:a:0');
    } else {
      args.push('-map', '0:v:0');
    }
  } else {
    args.push('-map', '0:v:0');
  }
  await ffmpegOrThrow('muxing the clip', [...args, '-c', 'copy', ...aacIntoMp4Args(fmp4), '-movflags', '+faststart', '-f', 'mp4', out], ctx.tools);
}

/**
 * The fallback: the range decoded and encoded whole (frame-exact: output -ss/-t become a trim of the
 * decoded frames), audio copied.
 */
async function reencodeRange(ctx: CutContext, startFrame: PlacedFrame, endFrame: PlacedFrame, out: string): Promise<void> {
  const input = await prepareConcat(ctx.source.segments.slice(startFrame.seg, endFrame.seg + 1), ctx.work, ctx.probes, 'reencode');
  const at = (f: PlacedFrame): number => concatTime(input, periodIndexOf(input, ctx.source.segments[f.seg]!), f.pts);
  const startAt = at(startFrame);
  // Keep startFrame … endFrame, not the frame after.
  const length = at(endFrame) - startAt + endFrame.duration / 2;
  const fps = 1 / (startFrame.duration || 1 / 30);
  const gop = String(Math.max(1, Math.round(fps * 2)));
  await ffmpegOrThrow('re-encoding the clip', [
    ...concatInputArgs(input.listFile),
    '-map', '0:v:0', '-map', '0:a:0?',
    '-ss', seconds(startAt - EPS), '-t', seconds(length),
    '-fps_mode', 'passthrough',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p',
    // 2 s GOPs so the clip's VOD HLS cuts like the live one.
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
    '-c:a', 'copy', ...aacIntoMp4Args(isFmp4Media(ctx.source.segments)),
    '-movflags', '+faststart', '-f', 'mp4', out,
  ], ctx.tools);
}

/** The clip's VOD: its MP4 cut into 2 s MPEG-TS segments at its keyframes, one rendition. */
async function writeClipVod(mp4: string, vodDir: string, info: MediaInfo, tools: ToolPaths): Promise<void> {
  const dir = path.join(vodDir, CLIP_RENDITION);
  await mkdir(dir, { recursive: true });
  await ffmpegOrThrow('the clip VOD', [
    '-i', mp4, '-map', '0', '-c', 'copy',
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'mpegts', '-hls_flags', 'independent_segments',
    '-hls_segment_filename', path.join(dir, 'seg_%05d.ts'), path.join(dir, MEDIA_PLAYLIST),
  ], tools);
  const pl = parseMediaPlaylist(await readFile(path.join(dir, MEDIA_PLAYLIST), 'utf8'));
  const segments = await Promise.all(pl.segments.map(async (s) => ({ bytes: await fileSize(path.join(dir, s.uri)), duration: s.duration })));
  if (segments.length === 0) throw new MediaJobError('ffmpeg-failed', 'the clip VOD has no segment');
  await writeVodMaster(vodDir, [{
    name: CLIP_RENDITION,
    width: info.video?.width ?? 0,
    height: info.video?.height ?? 0,
    ...(info.video?.fps ? { frameRate: info.video.fps } : {}),
    firstSegment: path.join(dir, pl.segments[0]!.uri),
    segments,
    hasAudio: info.audio !== null,
  }]);
}

function lastWhere<T>(a: readonly T[], p: (v: T) => boolean): T | undefined {
  for (let i = a.length - 1; i >= 0; i--) if (p(a[i]!)) return a[i];
  return undefined;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
