// Builds the ffmpeg arguments of one live ABR HLS run: the source copied, lower rungs encoded with
// keyframes forced on the segment grid, one EVENT playlist per rendition under {outDir}/{rendition}/.
//
// Why EVENT and not a sliding window: the whole session stays seekable (DVR), the finished playlist is the
// session's VOD for recordings and clips, and ffmpeg 5.1 never writes EXT-X-DISCONTINUITY-SEQUENCE, so a
// sliding window would break RFC 8216 §6.2.2 as soon as a reconnect's DISCONTINUITY slid out of it.
// Segment names are `{legTag}-{nnnnn}.ts`, the tag new for every ffmpeg launch (a leg): a reconnect, a restart or another
// origin continues the sequence numbers (append_list) under new names, so no cache ever holds two bodies for one name.
// Segment files leave the disk once durable in R2 (origin/durable/); the playlist keeps listing them.
//
// Why no -master_pl_name: ffmpeg's master omits CODECS for a copied stream and counts only its audio in
// BANDWIDTH (verified with 5.1), so live-transcode writes master.m3u8 itself from the first segments.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { EncodedRendition, H264Profile, Rendition } from './ladder.ts';
import { DEFAULT_SEGMENT_SECONDS } from './ladder.ts';

export type InputFormat = 'flv' | 'mpegts';
export type X264Preset = 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium';

export interface HlsCommandOptions {
  input: InputFormat;
  /** absolute folder of this session's HLS; renditions go in sub-folders named after them */
  outDir: string;
  renditions: readonly Rendition[];
  /** 6 lowercase hex chars naming this launch's segments; unique per ffmpeg launch (default: a fresh newLegTag()) */
  legTag?: string;
  /** continue existing playlists (same session after the encoder dropped) */
  resume?: boolean;
  /** false when the source has no audio track at all */
  hasAudio?: boolean;
  /** 'copy' when the source audio is AAC already; anything else is re-encoded for the source too */
  sourceAudio?: 'copy' | 'aac';
  segmentSeconds?: number;
  preset?: X264Preset;
  /** seconds of input ffmpeg may read before choosing streams; more is slower to start */
  analyzeSeconds?: number;
  /** also keep a JPEG of the live picture at `file` (see thumbnailOutputArgs); only worth it when a rung is encoded */
  thumbnail?: LiveThumbnail;
}

export interface LiveThumbnail {
  /** absolute path, rewritten in place (atomically) */
  file: string;
  /** a new picture at most this often, in seconds of input */
  everySeconds: number;
  /** taller sources are scaled down to this many lines */
  maxHeight: number;
}

export interface HlsCommand {
  inputOptions: string[];
  outputOptions: string[];
  /** the playlist pattern given to ffmpeg as its output */
  output: string;
}

export const MASTER_PLAYLIST = 'master.m3u8';
export const MEDIA_PLAYLIST = 'index.m3u8';
const LEG_TAG = /^[0-9a-f]{6}$/;

/** A fresh leg tag: 24 random bits, so two launches of one session practically never share one. */
export const newLegTag = (): string => randomBytes(3).toString('hex');

/** ffmpeg's segment file name pattern for one leg: its tag, then the media sequence number. */
export function segmentPattern(legTag: string): string {
  if (!LEG_TAG.test(legTag)) throw new Error('a leg tag is 6 lowercase hex characters');
  return `${legTag}-%05d.ts`;
}

export function renditionDir(outDir: string, rendition: string): string {
  return path.join(outDir, rendition);
}

export function mediaPlaylistPath(outDir: string, rendition: string): string {
  return path.join(outDir, rendition, MEDIA_PLAYLIST);
}

export function buildHlsCommand(opts: HlsCommandOptions): HlsCommand {
  if (opts.renditions.length === 0) throw new Error('a ladder needs at least one rendition');
  const segmentFile = segmentPattern(opts.legTag ?? newLegTag());
  const seg = opts.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS;
  const hasAudio = opts.hasAudio ?? true;
  const preset = opts.preset ?? 'veryfast';
  const analyzeUs = Math.round((opts.analyzeSeconds ?? 2) * 1_000_000);

  const inputOptions = [
    '-f', opts.input,
    // Live input: ffmpeg must not wait the default 5 s before it starts writing.
    '-analyzeduration', String(analyzeUs),
    '-probesize', String(5 * 1024 * 1024),
  ];

  // The thumbnail is an output of its own, before the HLS one (its options end at its file name).
  const out: string[] = opts.thumbnail ? thumbnailOutputArgs(opts.thumbnail) : [];
  for (let i = 0; i < opts.renditions.length; i++) {
    out.push('-map', '0:v:0');
    if (hasAudio) out.push('-map', '0:a:0');
  }

  opts.renditions.forEach((r, i) => {
    if (r.copy) {
      out.push(`-c:v:${i}`, 'copy');
    } else {
      out.push(...encodedVideoArgs(r, i, preset));
    }
    if (hasAudio) {
      if (r.copy && (opts.sourceAudio ?? 'copy') === 'copy') {
        out.push(`-c:a:${i}`, 'copy');
      } else {
        out.push(`-c:a:${i}`, 'aac', `-b:a:${i}`, String(r.audioBitrate), `-ac:a:${i}`, '2');
      }
    }
  });

  // Encoders keep input timestamps: duplicating or dropping frames to a constant rate would add a
  // frame the copied source does not have, and the last segments would no longer line up.
  out.push('-fps_mode', 'passthrough', '-max_muxing_queue_size', '1024');

  // program_date_time: each segment carries the wall-clock moment it began (#EXT-X-PROGRAM-DATE-TIME after its
  // EXTINF), so the edge can cut an event's playlists at the instant it went live; append_list keeps the old lines.
  const flags = ['independent_segments', 'omit_endlist', 'temp_file', 'program_date_time'];
  // append_list re-reads each playlist, continues its sequence numbers and segment names, and marks the
  // join with one EXT-X-DISCONTINUITY. On a first run it would add a leading DISCONTINUITY, so resume only.
  if (opts.resume) flags.push('append_list');

  out.push(
    '-f', 'hls',
    '-hls_time', String(seg),
    '-hls_list_size', '0',
    '-hls_playlist_type', 'event',
    '-hls_segment_type', 'mpegts',
    '-hls_flags', flags.join('+'),
    '-hls_segment_filename', path.join(opts.outDir, '%v', segmentFile),
    '-var_stream_map', varStreamMap(opts.renditions, hasAudio),
  );

  return { inputOptions, outputOptions: out, output: path.join(opts.outDir, '%v', MEDIA_PLAYLIST) };
}

/**
 * A second output of the ladder's ffmpeg keeping a live thumbnail: the decoded source frame every `everySeconds`
 * (the ladder decodes it anyway for its encoded rungs), scaled, as a JPEG written beside the target and renamed over
 * it. A separate ffmpeg per refresh cost ~0.1 CPU-s each, mostly its start-up (issue 15); this costs one JPEG encode.
 * select, not fps: fps would fill a timestamp jump with copies of one frame, each encoded; abs() lets a jump back
 * through a reconnect still produce pictures.
 */
export function thumbnailOutputArgs(t: LiveThumbnail): string[] {
  if (!(t.everySeconds > 0) || !(t.maxHeight > 0)) throw new Error('a thumbnail needs a positive interval and height');
  return [
    '-map', '0:v:0',
    '-vf', `select='isnan(prev_selected_t)+gte(abs(t-prev_selected_t),${t.everySeconds})',scale=-2:'min(ih,${t.maxHeight})'`,
    '-fps_mode', 'passthrough',
    '-c:v', 'mjpeg', '-q:v', '4',
    '-f', 'image2', '-update', '1', '-atomic_writing', '1',
    t.file,
  ];
}

/** The whole argv after `ffmpeg`, for logs and for running the command without fluent-ffmpeg. */
export function commandArgs(cmd: HlsCommand, input = 'pipe:0'): string[] {
  return ['-hide_banner', '-y', ...cmd.inputOptions, '-i', input, ...cmd.outputOptions, cmd.output];
}

function varStreamMap(renditions: readonly Rendition[], hasAudio: boolean): string {
  return renditions.map((r, i) => (hasAudio ? `v:${i},a:${i},name:${r.name}` : `v:${i},name:${r.name}`)).join(' ');
}

const X264_PROFILE: Record<H264Profile, string> = {
  H264Baseline: 'baseline',
  H264Main: 'main',
  H264High: 'high',
  H264ConstrainedHigh: 'high',
};

/** One transcoded rung's x264 options for output stream `i` (also used by the low-latency command, origin/llhls). */
export function encodedVideoArgs(r: EncodedRendition, i: number, preset: X264Preset): string[] {
  const rate = r.fps / r.fpsDen;
  const gopFrames = Math.max(1, Math.round(rate * r.gop));
  const filters = [`scale=${r.width}:${r.height}`];
  // Only a reduced rate gets the fps filter: at the source rate it would pad or drop frames on jitter.
  if (r.reducedFps) filters.push(`fps=${r.fps}/${r.fpsDen}`);
  const maxrate = Math.round(r.videoBitrate * 1.1);
  const args = [
    `-c:v:${i}`, 'libx264',
    `-filter:v:${i}`, filters.join(','),
    `-preset:v:${i}`, preset,
    `-profile:v:${i}`, X264_PROFILE[r.profile],
    `-level:v:${i}`, (r.level / 10).toFixed(1),
    `-pix_fmt:v:${i}`, 'yuv420p',
  ];
  if (r.quality !== undefined) {
    args.push(`-crf:v:${i}`, String(r.quality));
  } else {
    args.push(`-b:v:${i}`, String(r.videoBitrate));
  }
  args.push(`-maxrate:v:${i}`, String(maxrate), `-bufsize:v:${i}`, String(r.videoBitrate * 2));
  // Constrained High is High without B-frames.
  if (r.profile === 'H264ConstrainedHigh') args.push(`-bf:v:${i}`, '0');
  // Keyframes on the same clock in every rendition: forced every gop seconds, with scene cuts off and
  // the GOP fixed so x264 adds none of its own in between.
  args.push(
    `-g:v:${i}`, String(gopFrames),
    `-keyint_min:v:${i}`, String(gopFrames),
    `-sc_threshold:v:${i}`, '0',
    `-force_key_frames:v:${i}`, `expr:gte(t,n_forced*${r.gop})`,
  );
  return args;
}
