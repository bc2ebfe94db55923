// What a library video's source is, as the VOD job needs it: its video's display size (pixel aspect applied), frame
// rate, interlacing, audio, duration and media info, from one ffprobe run. A file ffprobe cannot read, or that holds no
// video, is refused with ffprobe's reason in plain words: a permanent failure, another run would say the same.
import { runFfprobe } from '../pipeline/ffmpeg.ts';
import { ffmpegError, mediaInfoFromProbe, type MediaInfo, type ToolPaths } from '../jobs/media-probe.ts';
import { MediaJobError } from '../jobs/job-error.ts';

export interface SourceVideo {
  /** display width and height: the coded size with the sample aspect ratio applied (anamorphic sources made square) */
  width: number;
  height: number;
  /** frames per second (0 when ffprobe cannot tell) */
  fps: number;
  /** bits per second of the video stream, when known */
  videoBitrate?: number;
  /** the stream says its frames are fields (tt, bb, tb, bt): deinterlaced before scaling */
  interlaced: boolean;
  hasAudio: boolean;
  /** seconds */
  duration: number;
  mediaInfo: MediaInfo;
}

interface ProbeStream {
  codec_type?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  field_order?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  bit_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
}

interface ProbeJson {
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
  streams?: ProbeStream[];
}

/** The prefix of every refusal of an unreadable source, so the video's error says what it is about. */
export const NOT_A_VIDEO = 'the source is not a readable video';

/** Known ffprobe/ffmpeg complaints, told in plain words (the original stays appended for support). */
const PLAIN_REASONS: readonly [RegExp, string][] = [
  [/moov atom not found/i, 'the MP4/MOV is incomplete (its index is missing: the file was cut short or never finished)'],
  [/Invalid data found when processing input/i, 'its bytes are not in any audio/video format ffprobe knows'],
  [/End of file|Truncating packet|partial file/i, 'the file ends early (it was cut short)'],
  [/could not find codec parameters/i, 'ffprobe could not work out its codecs'],
];

/** Pure: a plain-words reason for ffprobe's stderr lines. */
export function plainProbeReason(stderr: readonly string[]): string {
  const text = stderr.join(' | ');
  const plain = PLAIN_REASONS.find(([pattern]) => pattern.test(text))?.[1] ?? 'ffprobe could not read it';
  // ffprobe's own words without its file paths and demuxer tags: they say nothing to the video's owner.
  const said = stderr
    .map((line) => line.replace(/^\[[^\]]*\]\s*/, '').replace(/^\S*\/\S*:\s*/, '').trim())
    .filter((line) => line !== '')
    .join('; ')
    .slice(0, 200);
  return said ? `${NOT_A_VIDEO}: ${plain} (ffprobe: ${said})` : `${NOT_A_VIDEO}: ${plain}`;
}

/** Pure: the ffprobe JSON of a source → what the job needs, or the reason it is no video. */
export function describeSourceVideo(j: ProbeJson): SourceVideo | { refused: string } {
  const video = j.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video || !(video.width! > 0) || !(video.height! > 0)) {
    return { refused: `${NOT_A_VIDEO}: it holds no video stream${j.streams?.some((s) => s.codec_type === 'audio') ? ' (only audio)' : ''}` };
  }
  const mediaInfo = mediaInfoFromProbe(j);
  const duration = num(j.format?.duration) ?? num(video.duration) ?? 0;
  if (!(duration > 0)) return { refused: `${NOT_A_VIDEO}: ffprobe finds no duration in it (no decodable frames)` };
  const sar = ratio(video.sample_aspect_ratio);
  const width = sar > 0 && Math.abs(sar - 1) > 0.01 ? Math.round(video.width! * sar) : video.width!;
  const out: SourceVideo = {
    width,
    height: video.height!,
    fps: mediaInfo.video?.fps ?? 0,
    interlaced: ['tt', 'bb', 'tb', 'bt'].includes(video.field_order ?? ''),
    hasAudio: j.streams!.some((s) => s.codec_type === 'audio'),
    duration,
    mediaInfo,
  };
  const bitrate = num(video.bit_rate) ?? num(j.format?.bit_rate);
  if (bitrate !== undefined && bitrate > 0) out.videoBitrate = bitrate;
  return out;
}

/** Probes the source file; throws MediaJobError 'no-media' (permanent) with a plain reason when it is no video. */
export async function probeSourceVideo(file: string, tools: ToolPaths = {}): Promise<SourceVideo> {
  const r = await runFfprobe(
    ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file],
    { ...(tools.ffprobePath ? { path: tools.ffprobePath } : {}), timeoutMs: 60_000 },
  );
  if (r.code !== 0) {
    // Killed from outside (or our deadline): not the file's fault.
    if (r.signal !== null) throw ffmpegError(`probing the source`, r);
    throw new MediaJobError('no-media', plainProbeReason(r.stderrTail));
  }
  let parsed: ProbeJson;
  try {
    parsed = JSON.parse(r.stdout.toString('utf8')) as ProbeJson;
  } catch {
    throw new MediaJobError('no-media', `${NOT_A_VIDEO}: ffprobe gave no description of it`);
  }
  const described = describeSourceVideo(parsed);
  if ('refused' in described) throw new MediaJobError('no-media', described.refused);
  return described;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === 'N/A') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function ratio(s: string | undefined): number {
  const m = /^(\d+):(\d+)$/.exec(s ?? '');
  if (!m || Number(m[2]) === 0 || Number(m[1]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}
