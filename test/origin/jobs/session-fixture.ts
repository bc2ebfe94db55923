// Session folders for the media job tests, made the way the origin makes them: an encoder's MPEG-TS
// through the live pipeline (LiveTranscode, resumed after a drop, so the playlists carry a reconnect
// DISCONTINUITY), plus the ffprobe/ffmpeg checks the tests share.
import { execFile } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { chooseLadder } from '../../../origin/pipeline/ladder.ts';
import { endSession, LiveTranscode } from '../../../origin/pipeline/live-transcode.ts';

const run = promisify(execFile);

export interface EncoderOptions {
  seconds: number;
  /** x264 preset; default ultrafast (no B-frames). veryfast + CBR is OBS's default: High, B-frames. */
  preset?: 'ultrafast' | 'veryfast';
  cbr?: boolean;
  /** keyframe interval in frames at 30 fps; default 60 (2 s) */
  gop?: number;
  /** strip SEI NAL units, so the stream no longer says it comes from x264 */
  stripSei?: boolean;
  /** default 854x480 */
  size?: string;
}

/** What an encoder sends: testsrc2 854x480 at 30 fps with a 440 Hz tone, H.264 + AAC in MPEG-TS. */
export async function encodeInput(file: string, o: EncoderOptions): Promise<void> {
  const gop = String(o.gop ?? 60);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '854x480'}:rate=30`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', o.preset ?? 'ultrafast', '-g', gop, '-keyint_min', gop, '-pix_fmt', 'yuv420p',
  ];
  if (o.cbr) args.push('-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k');
  if (o.stripSei) args.push('-bsf:v', 'filter_units=remove_types=6');
  args.push('-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file);
  await run('ffmpeg', args);
}

/**
 * One session from several encoder connections: the first run starts the playlists, each later one
 * resumes them (append_list → one DISCONTINUITY per join), exactly like the origin after a reconnect.
 * With `end`, the session is closed like live-ingest does (ENDLIST appended).
 */
export async function liveSession(dir: string, inputs: readonly string[], o: { end: boolean }): Promise<void> {
  const ladder = chooseLadder({ width: 854, height: 480, fps: 30 });
  for (const [i, file] of inputs.entries()) {
    const t = new LiveTranscode({ input: 'mpegts', outDir: dir, renditions: ladder, resume: i > 0, preset: 'ultrafast', pollIntervalMs: 200 });
    await t.start();
    const bytes = await readFile(file);
    for (let off = 0; off < bytes.length; off += 64 * 1024) t.write(bytes.subarray(off, off + 64 * 1024));
    t.end();
    const r = await t.done;
    if (r.reason !== 'input-ended' || r.exitCode !== 0) throw new Error(`live transcode ${i} ended with ${r.reason} (${r.error ?? r.exitCode})`);
  }
  if (o.end) await endSession(dir);
}

/**
 * A one-rendition session straight from ffmpeg's HLS muxer (copy): quick, for source variants. With
 * `append`, the input continues an existing session after a reconnect (append_list, as the origin does).
 */
export async function copiedSession(dir: string, input: string, o: { append?: boolean } = {}): Promise<void> {
  await mkdir(path.join(dir, 'source'), { recursive: true });
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-map', '0:v', '-map', '0:a', '-c', 'copy',
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'event', '-hls_segment_type', 'mpegts',
    '-hls_flags', `independent_segments+temp_file+omit_endlist+program_date_time${o.append ? '+append_list' : ''}`,
    '-hls_segment_filename', path.join(dir, 'source', 'seg_%05d.ts'), path.join(dir, 'source', 'index.m3u8'),
  ]);
}

export async function ffprobeJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  return JSON.parse((await run('ffprobe', ['-v', 'error', '-of', 'json', ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout) as T;
}

/** ffmpeg's complaints when decoding the whole file; empty when it decodes cleanly. */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-']);
  return stderr.trim();
}

export interface Packet {
  pts: number;
  dts: number;
  duration: number;
  key: boolean;
}

export async function packets(file: string, stream: 'v' | 'a'): Promise<Packet[]> {
  const j = await ffprobeJson<{ packets: { pts_time: string; dts_time: string; duration_time?: string; flags: string }[] }>([
    '-select_streams', `${stream}:0`, '-show_entries', 'packet=pts_time,dts_time,duration_time,flags', file,
  ]);
  return j.packets.map((p) => ({ pts: Number(p.pts_time), dts: Number(p.dts_time), duration: Number(p.duration_time ?? 0), key: p.flags.startsWith('K') }));
}

/** MD5 of every decoded video frame, in presentation order: equal lists mean bit-identical pictures. */
export async function frameHashes(file: string): Promise<string[]> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-'], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()!.trim());
}

/** PSNR (dB) between frame `a` of one file and frame `b` of another. */
export async function framePsnr(fileA: string, a: number, fileB: string, b: number): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner', '-i', fileA, '-i', fileB, '-filter_complex',
    `[0:v]trim=start_frame=${a}:end_frame=${a + 1},setpts=PTS-STARTPTS[x];[1:v]trim=start_frame=${b}:end_frame=${b + 1},setpts=PTS-STARTPTS[y];[x][y]psnr`,
    '-f', 'null', '-',
  ]);
  const m = /average:(inf|[\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no PSNR in ${stderr.slice(-400)}`);
  return m[1] === 'inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** Top-level ISO BMFF boxes in order (type names), e.g. ['ftyp', 'moov', 'free', 'mdat']. */
export async function topLevelBoxes(file: string): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const out: string[] = [];
    const head = Buffer.alloc(16);
    for (let off = 0; off + 8 <= size && out.length < 32; ) {
      await fh.read(head, 0, 16, off);
      let boxSize = head.readUInt32BE(0);
      if (boxSize === 1) boxSize = Number(head.readBigUInt64BE(8));
      else if (boxSize === 0) boxSize = size - off;
      out.push(head.toString('latin1', 4, 8));
      if (boxSize < 8) break;
      off += boxSize;
    }
    return out;
  } finally {
    await fh.close();
  }
}
