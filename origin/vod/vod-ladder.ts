// A library video's ABR ladder and the one ffmpeg run that encodes it to VOD HLS (pure). The rungs follow the live
// ladder's rules (origin/pipeline/ladder.ts: never above the source, lines counted on the short side, even sizes, small
// rungs at a whole fraction of a high frame rate), except that the top rung is encoded too: an uploaded source may be
// any codec, interlaced, anamorphic or with keyframes anywhere, and every rung must cut on the same keyframe grid.
import path from 'node:path';
import { chooseLadder, h264Level, type EncodedRendition, type MaxResolution, type Rendition } from '../pipeline/ladder.ts';
import type { X264Preset } from '../pipeline/hls-command.ts';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import type { SourceVideo } from './source-probe.ts';

/** Seconds per HLS segment of a library video (the contract: 2–6 s). */
export const VOD_SEGMENT_SECONDS = 4;
/** Keyframe interval: divides the segment duration, so every rendition's segments start on a shared keyframe. */
export const VOD_GOP_SECONDS = 2;
/** The highest rung a library video gets (a 4K upload is served up to 1080p). */
export const VOD_MAX_RESOLUTION: MaxResolution = '1080p';
const MIN_VIDEO_BITRATE = 200_000;

/** Pure: the rungs for a source, top first, all encoded. */
export function vodLadder(source: Pick<SourceVideo, 'width' | 'height' | 'fps' | 'videoBitrate'>, maxResolution: MaxResolution = VOD_MAX_RESOLUTION): EncodedRendition[] {
  // Without the source's bitrate the ladder gives each rung its standard bitrate; the source's caps them below.
  const ladder = chooseLadder({ width: source.width, height: source.height, fps: source.fps }, { maxResolution });
  const names = new Set<string>();
  return ladder.map((r) => {
    const rung = r.copy ? topRung(r) : r;
    const lines = Math.min(rung.width, rung.height);
    let name = `${lines}p`;
    for (let i = 2; names.has(name); i++) name = `${lines}p-${i}`;
    names.add(name);
    // A rung gains nothing from more bits than the source carries (a low-bitrate upload stays small).
    const videoBitrate = source.videoBitrate ? Math.max(MIN_VIDEO_BITRATE, Math.min(rung.videoBitrate, Math.round(source.videoBitrate))) : rung.videoBitrate;
    return { ...rung, name, videoBitrate, gop: VOD_GOP_SECONDS, level: h264Level(rung.width, rung.height, rung.fps / rung.fpsDen, Math.round(videoBitrate * 1.1)) };
  });
}

/** The live ladder's copied source rendition as an encoded rung of the same size and rate. */
function topRung(r: Rendition): EncodedRendition {
  const lines = Math.min(r.width, r.height);
  return {
    name: `${lines}p`,
    copy: false,
    width: r.width,
    height: r.height,
    videoBitrate: r.videoBitrate,
    audioBitrate: lines >= 720 ? 128_000 : 96_000,
    fps: r.fps,
    fpsDen: r.fpsDen,
    gop: VOD_GOP_SECONDS,
    profile: lines >= 720 ? 'H264High' : 'H264Main',
    level: h264Level(r.width, r.height, r.fps / r.fpsDen),
    reducedFps: false,
  };
}

export interface VodEncodeOptions {
  sourceFile: string;
  /** renditions go in `{hlsDir}/{name}/index.m3u8` + `seg-NNNNN.ts` */
  hlsDir: string;
  rungs: readonly EncodedRendition[];
  interlaced: boolean;
  hasAudio: boolean;
  /** ffmpeg's -progress target */
  progressFile?: string;
  preset?: X264Preset;
  /** threads of the decoder, the filter graph and each rung's x264 (0: ffmpeg decides); bounds one job's CPU */
  threads?: number;
}

const X264_PROFILE = { H264Baseline: 'baseline', H264Main: 'main', H264High: 'high', H264ConstrainedHigh: 'high' } as const;

/** Pure: the ffmpeg argv (after `ffmpeg`) that decodes the source once and writes every rung as VOD HLS. */
export function vodEncodeArgs(o: VodEncodeOptions): string[] {
  if (o.rungs.length === 0) throw new Error('a ladder needs at least one rung');
  const n = o.rungs.length;
  // Decode (and deinterlace) once, then one scale per rung; setsar=1 because the sizes are display sizes already.
  const head = [...(o.interlaced ? ['yadif=mode=send_frame:parity=auto:deint=interlaced'] : []), `split=${n}${o.rungs.map((_, i) => `[s${i}]`).join('')}`];
  const graph = [`[0:v:0]${head.join(',')}`];
  o.rungs.forEach((r, i) => graph.push(`[s${i}]scale=${r.width}:${r.height},setsar=1,fps=${r.fps}/${r.fpsDen},format=yuv420p[v${i}]`));
  const threads = o.threads !== undefined ? String(o.threads) : undefined;
  const args = [
    ...(o.progressFile ? ['-progress', o.progressFile, '-stats_period', '1'] : []),
    ...(threads !== undefined ? ['-threads', threads] : []),
    '-i', o.sourceFile,
    ...(threads !== undefined ? ['-filter_complex_threads', threads] : []),
    '-filter_complex', graph.join(';'),
  ];
  o.rungs.forEach((r, i) => {
    args.push('-map', `[v${i}]`);
    if (o.hasAudio) args.push('-map', '0:a:0');
    const gopFrames = Math.max(1, Math.round((r.fps / r.fpsDen) * r.gop));
    args.push(
      `-c:v:${i}`, 'libx264',
      `-preset:v:${i}`, o.preset ?? 'veryfast',
      `-profile:v:${i}`, X264_PROFILE[r.profile],
      `-level:v:${i}`, (r.level / 10).toFixed(1),
      `-b:v:${i}`, String(r.videoBitrate),
      `-maxrate:v:${i}`, String(Math.round(r.videoBitrate * 1.1)),
      `-bufsize:v:${i}`, String(r.videoBitrate * 2),
      `-g:v:${i}`, String(gopFrames),
      `-keyint_min:v:${i}`, String(gopFrames),
      `-sc_threshold:v:${i}`, '0',
    );
    if (o.hasAudio) args.push(`-c:a:${i}`, 'aac', `-b:a:${i}`, String(r.audioBitrate), `-ac:a:${i}`, '2');
  });
  if (threads !== undefined) args.push('-threads', threads);
  args.push(
    '-max_muxing_queue_size', '1024',
    '-f', 'hls',
    '-hls_time', String(VOD_SEGMENT_SECONDS),
    '-hls_list_size', '0',
    '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'mpegts',
    '-hls_flags', 'independent_segments',
    '-hls_segment_filename', path.join(o.hlsDir, '%v', 'seg-%05d.ts'),
    '-var_stream_map', o.rungs.map((r, i) => (o.hasAudio ? `v:${i},a:${i},name:${r.name}` : `v:${i},name:${r.name}`)).join(' '),
    path.join(o.hlsDir, '%v', MEDIA_PLAYLIST),
  );
  return args;
}
