// What ffprobe and a copied bitstream tell the jobs: packet timing of a segment (keyframes, where each
// stream starts and ends), the media info of a finished file, and the raw H.264 of a file's first frames.
import { runFfmpegOnce, runFfprobe } from '../pipeline/ffmpeg.ts';
import type { OneShotResult } from '../pipeline/ffmpeg.ts';
import { MediaJobError } from './job-error.ts';
import { segmentInputOf } from '../durable/fmp4-init.ts';

export interface ToolPaths {
  ffmpegPath?: string;
  ffprobePath?: string;
}

export interface VideoFrame {
  /** seconds in the file's own timestamps */
  pts: number;
  dts: number;
  duration: number;
  key: boolean;
}

export interface StreamSpan {
  /** first presentation time */
  start: number;
  /** last presentation time plus its duration */
  end: number;
}

export interface SegmentProbe {
  /** earliest presentation time of any stream: libavformat's start_time, which ffmpeg's concat demuxer rebases on */
  start: number;
  /** end of the stream that ends last */
  end: number;
  /** frames in presentation order */
  video?: StreamSpan & { frames: VideoFrame[] };
  /** with each packet's presentation time, in order */
  audio?: StreamSpan & { packets: number[] };
}

interface ProbeJson {
  streams?: { index: number; codec_type?: string }[];
  packets?: { stream_index: number; pts_time?: string; dts_time?: string; duration_time?: string; flags?: string }[];
}

/**
 * Packet timing of a short file (an HLS segment or a clip piece): first video and audio stream only. A low-latency
 * session's `.m4s` segment is read with its leg's init segment (origin/durable/fmp4-init.ts).
 */
export async function probePackets(file: string, tools: ToolPaths = {}): Promise<SegmentProbe> {
  const r = await runFfprobe(
    ['-v', 'error', '-show_entries', 'stream=index,codec_type:packet=stream_index,pts_time,dts_time,duration_time,flags', '-of', 'json', segmentInputOf(file)],
    probeOpts(tools),
  );
  if (r.code !== 0) throw ffmpegError(`ffprobe ${file}`, r);
  const j = JSON.parse(r.stdout.toString('utf8')) as ProbeJson;
  const streams = j.streams ?? [];
  const videoIndex = streams.find((s) => s.codec_type === 'video')?.index;
  const audioIndex = streams.find((s) => s.codec_type === 'audio')?.index;
  const frames: VideoFrame[] = [];
  let audio: (StreamSpan & { packets: number[] }) | undefined;
  for (const p of j.packets ?? []) {
    const pts = num(p.pts_time);
    if (pts === undefined) continue;
    const duration = num(p.duration_time) ?? 0;
    if (p.stream_index === videoIndex) {
      frames.push({ pts, dts: num(p.dts_time) ?? pts, duration, key: (p.flags ?? '').startsWith('K') });
    } else if (p.stream_index === audioIndex) {
      audio ??= { start: pts, end: pts + duration, packets: [] };
      audio.start = Math.min(audio.start, pts);
      audio.end = Math.max(audio.end, pts + duration);
      audio.packets.push(pts);
    }
  }
  frames.sort((a, b) => a.pts - b.pts);
  audio?.packets.sort((a, b) => a - b);
  // MPEG-TS often leaves video packet durations unset: a frame lasts until the next one.
  const typical = typicalFrameDuration(frames);
  frames.forEach((f, i) => {
    const next = frames[i + 1];
    if (next) f.duration = next.pts - f.pts;
    else if (!(f.duration > 0)) f.duration = typical;
  });
  const out: SegmentProbe = { start: Number.POSITIVE_INFINITY, end: Number.NEGATIVE_INFINITY };
  if (frames.length > 0) {
    const last = frames[frames.length - 1]!;
    out.video = { start: frames[0]!.pts, end: last.pts + last.duration, frames };
  }
  if (audio) out.audio = audio;
  for (const s of [out.video, out.audio]) {
    if (!s) continue;
    out.start = Math.min(out.start, s.start);
    out.end = Math.max(out.end, s.end);
  }
  if (!Number.isFinite(out.start)) {
    out.start = 0;
    out.end = 0;
  }
  return out;
}

function typicalFrameDuration(frames: readonly VideoFrame[]): number {
  const deltas = frames.slice(1).map((f, i) => f.pts - frames[i]!.pts).filter((d) => d > 0).sort((a, b) => a - b);
  return deltas[Math.floor(deltas.length / 2)] ?? frames.find((f) => f.duration > 0)?.duration ?? 1 / 30;
}

/**
 * Technical metadata of a finished file, as a recording's `mediaInfo` shows it. Every key is present,
 * null when ffprobe does not know (the shape of shared/schemas/recording.ts's MediaInfo, plus extras).
 */
export interface MediaInfo {
  /** seconds */
  duration: number;
  /** bytes */
  size: number;
  /** bits per second over the whole file */
  bitrate: number | null;
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
  container: string;
  video: {
    codec: string;
    width: number;
    height: number;
    fps: number | null;
    /** frames in the file, when the container counts them (MP4 does) */
    frames: number | null;
    profile: string | null;
    /** e.g. 3.1 */
    level: number | null;
    pixelFormat: string | null;
    bitrate: number | null;
  } | null;
  audio: {
    codec: string;
    sampleRate: number | null;
    channels: number | null;
    profile: string | null;
    channelLayout: string | null;
    bitrate: number | null;
  } | null;
}

interface InfoJson {
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    profile?: string;
    level?: number;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    nb_frames?: string;
    pix_fmt?: string;
    bit_rate?: string;
    sample_rate?: string;
    channels?: number;
    channel_layout?: string;
  }[];
}

export async function probeMediaInfo(file: string, tools: ToolPaths = {}): Promise<MediaInfo> {
  const r = await runFfprobe(['-v', 'error', '-show_format', '-show_streams', '-of', 'json', segmentInputOf(file)], probeOpts(tools));
  if (r.code !== 0) throw ffmpegError(`ffprobe ${file}`, r);
  return mediaInfoFromProbe(JSON.parse(r.stdout.toString('utf8')) as InfoJson);
}

/** Pure: ffprobe's `-show_format -show_streams` JSON → MediaInfo. */
export function mediaInfoFromProbe(j: InfoJson): MediaInfo {
  const f = j.format ?? {};
  const v = j.streams?.find((s) => s.codec_type === 'video');
  const a = j.streams?.find((s) => s.codec_type === 'audio');
  const fps = v ? frameRate(v.r_frame_rate, v.avg_frame_rate) : 0;
  return {
    duration: round3(num(f.duration) ?? 0),
    size: Math.round(num(f.size) ?? 0),
    bitrate: intOrNull(num(f.bit_rate)),
    container: f.format_name ?? 'unknown',
    video: v
      ? {
          codec: v.codec_name ?? 'unknown',
          width: v.width ?? 0,
          height: v.height ?? 0,
          fps: fps > 0 ? round3(fps) : null,
          frames: intOrNull(num(v.nb_frames)),
          profile: v.profile ?? null,
          level: v.level !== undefined && v.level > 0 ? v.level / 10 : null,
          pixelFormat: v.pix_fmt ?? null,
          bitrate: intOrNull(num(v.bit_rate)),
        }
      : null,
    audio: a
      ? {
          codec: a.codec_name ?? 'unknown',
          sampleRate: intOrNull(num(a.sample_rate)),
          channels: a.channels ?? null,
          profile: a.profile ?? null,
          channelLayout: a.channel_layout ?? null,
          bitrate: intOrNull(num(a.bit_rate)),
        }
      : null,
  };
}

const intOrNull = (n: number | undefined): number | null => (n === undefined ? null : Math.round(n));

/**
 * The H.264 elementary stream (Annex B) of a file's first `frames` video frames, copied: parameter
 * sets, SEI and slices exactly as the encoder wrote them.
 */
export async function readAnnexB(file: string, frames: number, tools: ToolPaths = {}): Promise<Buffer> {
  const r = await runFfmpegOnce(
    ['-v', 'error', '-i', segmentInputOf(file), '-map', '0:v:0', '-frames:v', String(frames), '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', 'pipe:1'],
    { ...(tools.ffmpegPath ? { path: tools.ffmpegPath } : {}), captureStdout: true, timeoutMs: 60_000 },
  );
  if (r.code !== 0) throw ffmpegError(`reading the H.264 of ${file}`, r);
  return r.stdout;
}

/** Runs ffmpeg and throws a MediaJobError carrying its stderr when it fails. */
export async function ffmpegOrThrow(what: string, args: readonly string[], tools: ToolPaths = {}, timeoutMs = 30 * 60_000): Promise<OneShotResult> {
  const r = await runFfmpegOnce(['-v', 'error', ...args], { ...(tools.ffmpegPath ? { path: tools.ffmpegPath } : {}), timeoutMs });
  if (r.code !== 0) throw ffmpegError(what, r);
  return r;
}

/**
 * Signals that stop a process from outside (an operator, a supervisor, the OOM killer). A crash of ffmpeg's own
 * (SIGSEGV, SIGABRT...) is its input's doing and would repeat.
 */
const STOPPED_FROM_OUTSIDE: ReadonlySet<string> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);

export function ffmpegError(what: string, r: OneShotResult): MediaJobError {
  if (r.signal !== null && STOPPED_FROM_OUTSIDE.has(r.signal) && !r.killedByRunner) {
    return new MediaJobError('interrupted', `${what} was interrupted: the process got ${r.signal}`);
  }
  const detail = r.stderrTail.slice(-5).join(' | ') || r.error || `exit ${r.code}`;
  return new MediaJobError('ffmpeg-failed', `${what} failed: ${detail}`);
}

function probeOpts(tools: ToolPaths): { path?: string; timeoutMs: number } {
  return { ...(tools.ffprobePath ? { path: tools.ffprobePath } : {}), timeoutMs: 60_000 };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === 'N/A') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The nominal rate when the average agrees with it: a reconnect join's small gap pulls the average
 * below it (29.954 for a 30 fps recording). A variable-rate file keeps its average.
 */
function frameRate(real: string | undefined, avg: string | undefined): number {
  const r = rate(real);
  const a = rate(avg);
  if (r > 0 && a > 0) return Math.abs(r - a) / r < 0.05 ? r : a;
  return a || r;
}

function rate(s: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(s ?? '');
  if (!m || Number(m[2]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
