// Builds the ffmpeg arguments of one low-latency live run (latencyMode 'low'): the same ladder as the standard run
// (origin/pipeline/hls-command.ts), each rendition written as fragmented MP4 (video + audio) to a pipe of its own
// (`pipe:3`, `pipe:4`, … — extra stdio fds), which origin/llhls/low-latency-run.ts cuts into LL-HLS parts and segments.
//
// Why these settings: `delay_moov` puts the init segment (ftyp+moov) first, as `empty_moov` would, but written once the
// first fragment is ready (a part later), so its edit list holds each track's start: a source whose audio starts 21 ms
// before its video keeps that offset, where `empty_moov` stretched the first video frame (and each leg's join in a
// recording or clip showed it as an uneven frame). `default_base_moof` makes every fragment
// self-contained (CMAF), `frag_keyframe` + `frag_duration` cut a fragment at every keyframe and every part duration, so
// a part never straddles a segment boundary; `-flush_packets 1` hands each fragment to the pipe as soon as it is muxed.
// `-frag_duration` is not the part target itself but a threshold set from the rendition's frame rate
// (fragmentSeconds below), so that every fragment holds as many whole frames as fit in the part target and never more;
// the part target itself is whole frames of the source (partTargetSeconds below), so parts fill it: PART-TARGET is
// constant for the whole session (rfc8216bis: it must not change, every part must be no longer than it, and all but
// INDEPENDENT parts and a segment's last at least 85 % of it).
// Transcoded rungs: x264 `zerolatency` (no lookahead, no frame delay), no B-frames, and keyframes exactly where the
// source has them (`-force_key_frames source`), so every rendition closes its segments at the same instants as the
// copied source rung and the renditions stay aligned part for part (rfc8216bis: within one part of each other).
import type { Rendition } from '../pipeline/ladder.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../pipeline/ladder.ts';
import { encodedVideoArgs } from '../pipeline/hls-command.ts';
import type { InputFormat, X264Preset } from '../pipeline/hls-command.ts';

export interface LowLatencyCommandOptions {
  input: InputFormat;
  renditions: readonly Rendition[];
  /** seconds per LL-HLS part: each fragment lasts at most this long */
  partSeconds: number;
  /** false when the source has no audio track at all */
  hasAudio?: boolean;
  /** 'copy' when the source audio is AAC already; anything else is re-encoded for the source too */
  sourceAudio?: 'copy' | 'aac';
  preset?: X264Preset;
  /** seconds of input ffmpeg may read before choosing streams */
  analyzeSeconds?: number;
  /** seconds x264 may go without a source keyframe before it adds one of its own (a safety net; default 5 segments) */
  maxGopSeconds?: number;
}

export interface LowLatencyCommand {
  /** the whole argv after `ffmpeg` */
  args: string[];
  /** stdio fd of each rendition's fMP4, in ladder order (3, 4, …) */
  fds: number[];
}

/** The first extra fd: 0–2 are stdin (the encoder's bytes), stdout (unused) and stderr (ffmpeg's log and progress). */
export const FIRST_RENDITION_FD = 3;

export function buildLowLatencyCommand(opts: LowLatencyCommandOptions): LowLatencyCommand {
  if (opts.renditions.length === 0) throw new Error('a ladder needs at least one rendition');
  if (!(opts.partSeconds >= 0.1 && opts.partSeconds <= 2)) throw new Error('partSeconds must be within 0.1–2');
  const hasAudio = opts.hasAudio ?? true;
  const preset = opts.preset ?? 'veryfast';
  const analyzeUs = Math.round((opts.analyzeSeconds ?? 1) * 1_000_000);

  const args = [
    '-hide_banner', '-nostdin', '-y',
    '-f', opts.input,
    // Live input: ffmpeg must not wait the default 5 s before it starts writing.
    '-analyzeduration', String(analyzeUs),
    '-probesize', String(5 * 1024 * 1024),
    '-i', 'pipe:0',
  ];
  const fds: number[] = [];
  opts.renditions.forEach((r, i) => {
    const fd = FIRST_RENDITION_FD + i;
    fds.push(fd);
    // One output per rendition: its streams are numbered from 0 again, so every specifier below is `:0`.
    args.push('-map', '0:v:0');
    if (hasAudio) args.push('-map', '0:a:0');
    if (r.copy) {
      args.push('-c:v:0', 'copy');
    } else {
      args.push(...lowLatencyVideoArgs(encodedVideoArgs(r, 0, preset), r.fps / r.fpsDen, opts.maxGopSeconds ?? DEFAULT_SEGMENT_SECONDS * 5));
    }
    if (hasAudio) {
      if (r.copy && (opts.sourceAudio ?? 'copy') === 'copy') {
        args.push('-c:a:0', 'copy');
        // MPEG-TS carries AAC as ADTS; MP4 wants the raw frames with the config in the init segment.
        if (opts.input === 'mpegts') args.push('-bsf:a:0', 'aac_adtstoasc');
      }
      else args.push('-c:a:0', 'aac', '-b:a:0', String(r.audioBitrate), '-ac:a:0', '2');
    }
    args.push(
      // Encoders keep input timestamps (as in the standard run): the copied rung and the encoded ones stay on one clock.
      '-fps_mode', 'passthrough',
      '-max_muxing_queue_size', '1024',
      '-f', 'mp4',
      '-movflags', '+delay_moov+default_base_moof+frag_keyframe+skip_trailer',
      '-frag_duration', String(Math.round(fragmentSeconds(opts.partSeconds, r.fps / r.fpsDen) * 1_000_000)),
      '-flush_packets', '1',
      `pipe:${fd}`,
    );
  });
  return { args, fds };
}

/**
 * The standard rung's x264 options turned low-latency: keyframes from the source instead of a fixed grid (the GOP only
 * a safety net far beyond it), `zerolatency`, no B-frames.
 */
function lowLatencyVideoArgs(standard: string[], rate: number, maxGopSeconds: number): string[] {
  const out: string[] = [];
  const gopFrames = String(Math.max(1, Math.round(rate * maxGopSeconds)));
  for (let k = 0; k < standard.length; k += 2) {
    const name = standard[k]!;
    let value = standard[k + 1]!;
    if (name.startsWith('-bf:')) continue; // set below for every profile
    if (name.startsWith('-force_key_frames:')) value = 'source';
    else if (name.startsWith('-filter:v:')) value = value.split(',').map((f) => keyframeKeepingRate(f)).join(',');
    else if (name.startsWith('-g:')) value = gopFrames;
    else if (name.startsWith('-keyint_min:')) value = '1';
    out.push(name, value);
  }
  out.push('-tune:v:0', 'zerolatency', '-bf:v:0', '0');
  return out;
}

/**
 * A reduced-rate rung's `fps=N/D` filter as a `select` that keeps the source's keyframes: the fps filter makes new frames
 * without the key flag, so `-force_key_frames source` never fired on a 60 → 30 fps rung and its segments closed only at
 * x264's own GOP (the renditions no longer aligned, and a 4 s segment raised TARGETDURATION). A frame is kept when it is
 * a source keyframe or when it reaches the next slot of the rung's rate (a quarter frame early, for millisecond
 * timestamps): every other frame at 60 → 30, the rate kept on average for other ratios.
 */
function keyframeKeepingRate(filter: string): string {
  const m = /^fps=(\d+)\/(\d+)$/.exec(filter);
  if (!m) return filter;
  const [fps, den] = [Number(m[1]), Number(m[2])];
  return `select='key+gte(t-start_t\\,selected_n*${den}/${fps}-${(0.25 * den / fps).toFixed(6)})'`;
}

/**
 * The session's PART-TARGET (seconds) for a source of `rate` fps asked for parts of about `partSeconds`: a whole number
 * of the source's frames, so every part can fill it (rfc8216bis: each part ≤ PART-TARGET, and all but INDEPENDENT parts
 * and a segment's last ≥ 85 % of it). 0.2 s is not whole frames at 24 or 29.97 fps: a 0.2 s target left 4-frame parts
 * at 83 %. The count is the one nearest `partSeconds` among those that divide a second's frames (24 fps: 4, not 4.8 → 5):
 * keyframes come every second or two (the encoder settings low mode asks for), a part ends at each of them, and the part
 * before a keyframe inside a segment is not exempt, so 5-frame parts of a 24-frame GOP would leave a 4-frame one at 80 %.
 * Rounded up to the millisecond: an RTMP source's timestamps are whole milliseconds, so 6 frames at 29.97 fps last
 * 200 or 201 ms (0.2002 s would be exceeded); announced 0.201, every part fits and none falls under 85 %.
 */
export function partTargetSeconds(partSeconds: number, rate: number): number {
  const fps = Number.isFinite(rate) && rate > 0 ? rate : 30;
  const second = Math.max(1, Math.round(fps));
  const wanted = partSeconds * fps;
  let frames = 1;
  for (let n = 1; n <= second; n++) {
    if (second % n !== 0) continue;
    // nearest; on a tie the shorter part (lower latency)
    if (Math.abs(n - wanted) < Math.abs(frames - wanted) - 1e-9) frames = n;
  }
  return Math.ceil((frames / fps) * 1000 - 1e-6) / 1000;
}

/** The frame rate PART-TARGET is counted in: the ladder's fastest rung (the source's rate; slower rungs divide it). */
export function ladderFrameRate(renditions: readonly Pick<Rendition, 'fps' | 'fpsDen'>[]): number {
  return renditions.reduce((max, r) => Math.max(max, r.fps / r.fpsDen), 0);
}

/**
 * The `-frag_duration` (seconds) that makes ffmpeg's fragments of a `rate` fps video hold the most whole frames whose
 * duration is within `partSeconds`.
 *
 * ffmpeg's mov muxer closes a fragment before the first packet (of any track) whose decode time is at least
 * frag_duration past the fragment's first packet of that track; asked for the part target itself it closes after the
 * frame that crosses it, a frame over (24 fps: five frames, 0.208 s for 0.2 s). So: n = the frames that fit (timed in
 * whole milliseconds, as FLV's timestamps are: 29.97 fps makes six frames 200 or 201 ms, so five), and the threshold
 * just under the n-th frame's start (n × frame − 1.5 ms: below the millisecond jitter of FLV timestamps, far above the
 * (n−1)-th frame). Audio packets count too, but an audio packet reaching the threshold before the n-th frame only cuts
 * the fragment earlier, never later: at worst a part one frame short (60 fps, when the audio runs a frame ahead).
 */
export function fragmentSeconds(partSeconds: number, rate: number): number {
  const frame = Number.isFinite(rate) && rate > 0 ? 1 / rate : 1 / 30;
  let frames = Math.max(1, Math.floor(partSeconds / frame + 1e-9));
  while (frames > 1 && Math.ceil(frames * frame * 1000 - 1e-6) > Math.round(partSeconds * 1000)) frames -= 1;
  return Math.max(frame / 2, frames * frame - Math.min(0.0015, frame / 4));
}
