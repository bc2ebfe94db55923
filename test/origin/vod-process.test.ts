// The VOD job's ffmpeg part with real ffmpeg on small generated sources: an H.264/AAC MP4, an audio-less MOV with odd
// dimensions, a 4:3 interlaced 1080i-like file, and a truncated file refused with a reason in plain words.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processVideo } from '../../origin/vod/process-video.ts';
import { vodLadder } from '../../origin/vod/vod-ladder.ts';
import { describeSourceVideo, plainProbeReason } from '../../origin/vod/source-probe.ts';
import { MediaJobError } from '../../origin/jobs/job-error.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../origin/pipeline/playlists.ts';

let dir: string;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { stdio: 'pipe' });
}

function probe(file: string): { streams: { codec_type: string; width?: number; height?: number; field_order?: string }[]; format: { duration: string } } {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]).toString('utf8'));
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vod-process-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vodLadder (pure)', () => {
  it('never goes above the source, keeps even sizes, caps at 1080p', () => {
    expect(vodLadder({ width: 1280, height: 720, fps: 30 }).map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(['720p:1280x720', '480p:854x480', '360p:640x360']);
    expect(vodLadder({ width: 641, height: 361, fps: 25 }).map((r) => [r.width % 2, r.height % 2])).toEqual(vodLadder({ width: 641, height: 361, fps: 25 }).map(() => [0, 0]));
    expect(vodLadder({ width: 641, height: 361, fps: 25 })[0]!.height).toBeLessThanOrEqual(362);
    const uhd = vodLadder({ width: 3840, height: 2160, fps: 60 });
    expect(uhd[0]).toMatchObject({ name: '1080p', width: 1920, height: 1080 });
    expect(uhd.every((r) => !r.copy)).toBe(true);
    // a low-bitrate source caps every rung's bitrate
    expect(Math.max(...vodLadder({ width: 1280, height: 720, fps: 30, videoBitrate: 600_000 }).map((r) => r.videoBitrate))).toBe(600_000);
  });

  it('reads anamorphic and interlaced sources, refuses audio-only ones', () => {
    const seen = describeSourceVideo({
      format: { duration: '2.0' },
      streams: [{ codec_type: 'video', width: 1440, height: 1080, sample_aspect_ratio: '4:3', field_order: 'tt', r_frame_rate: '25/1', avg_frame_rate: '25/1' }],
    });
    expect(seen).toMatchObject({ width: 1920, height: 1080, interlaced: true, hasAudio: false });
    expect(describeSourceVideo({ format: { duration: '3' }, streams: [{ codec_type: 'audio' }] })).toEqual({ refused: expect.stringContaining('no video stream (only audio)') });
    expect(plainProbeReason(['/tmp/x/source: moov atom not found'])).toMatch(/^the source is not a readable video: the MP4\/MOV is incomplete/);
  });
});

describe('processVideo (real ffmpeg)', () => {
  it('H.264/AAC MP4 → ladder ≤ source, VOD HLS 2–6 s, fast-start MP4, thumbnail, media info, progress file', async () => {
    const src = path.join(dir, 'h264.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '9',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', src]);
    const outDir = path.join(dir, 'out-h264');
    const progressFile = path.join(dir, 'h264-progress.txt');
    const done = await processVideo({ sourceFile: src, outDir, progressFile, preset: 'ultrafast' });
    expect(done.renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(['480p:854x480', '360p:640x360']);
    expect(done.duration).toBeGreaterThan(8.5);
    expect(done.size).toBe(statSync(src).size);
    expect(done.mediaInfo.video).toMatchObject({ codec: 'h264', width: 854, height: 480 });
    expect(done.mediaInfo.audio).toMatchObject({ codec: 'aac' });
    const master = parseMasterPlaylist(readFileSync(path.join(outDir, 'hls', 'master.m3u8'), 'utf8'));
    expect(master.map((v) => v.uri)).toEqual(['480p/index.m3u8', '360p/index.m3u8']);
    expect(master[0]!.codecs.some((c) => c.startsWith('mp4a'))).toBe(true);
    for (const name of ['480p', '360p']) {
      const text = readFileSync(path.join(outDir, 'hls', name, 'index.m3u8'), 'utf8');
      const pl = parseMediaPlaylist(text);
      expect(pl.playlistType).toBe('VOD');
      expect(pl.endList).toBe(true);
      for (const s of pl.segments.slice(0, -1)) expect(s.duration).toBeGreaterThanOrEqual(2), expect(s.duration).toBeLessThanOrEqual(6);
      expect(pl.segments.reduce((a, s) => a + s.duration, 0)).toBeCloseTo(9, 0);
    }
    // fast start: moov before mdat
    const head = readFileSync(done.mp4Path).subarray(0, 64 * 1024).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat') === -1 ? Infinity : head.indexOf('mdat'));
    const mp4 = probe(done.mp4Path);
    expect(mp4.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 854, height: 480 });
    expect(mp4.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    expect(Number(mp4.format.duration)).toBeCloseTo(9, 0);
    expect(readFileSync(done.thumbnailPath).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(readFileSync(progressFile, 'utf8')).toMatch(/progress=end/);
  }, 120_000);

  it('an audio-less MOV with odd dimensions still works (video-only ladder, even sizes)', async () => {
    const src = path.join(dir, 'silent.mov');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=641x361:rate=25', '-t', '5', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p', src]);
    const done = await processVideo({ sourceFile: src, outDir: path.join(dir, 'out-mov'), preset: 'ultrafast' });
    expect(done.mediaInfo.audio).toBeNull();
    expect(done.renditions.every((r) => r.width % 2 === 0 && r.height % 2 === 0 && r.height <= 362)).toBe(true);
    const master = readFileSync(path.join(done.hlsDir, 'master.m3u8'), 'utf8');
    expect(master).not.toMatch(/mp4a/);
    const mp4 = probe(done.mp4Path);
    expect(mp4.streams.map((s) => s.codec_type)).toEqual(['video']);
    expect(Number(mp4.format.duration)).toBeCloseTo(5, 0);
  }, 120_000);

  it('a 4:3 interlaced 1080i-like file is deinterlaced into a progressive ladder topped at 1080 lines', async () => {
    const src = path.join(dir, 'interlaced.ts');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1440x1080:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '3',
      '-vf', 'setdar=4/3', '-c:v', 'libx264', '-preset', 'ultrafast', '-flags', '+ilme+ildct', '-x264-params', 'tff=1', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-shortest', '-f', 'mpegts', src]);
    expect(probe(src).streams.find((s) => s.codec_type === 'video')!.field_order).toMatch(/^(tt|tb)$/);
    const done = await processVideo({ sourceFile: src, outDir: path.join(dir, 'out-1080i'), preset: 'ultrafast' });
    expect(done.deinterlaced).toBe(true);
    expect(done.renditions.map((r) => `${r.width}x${r.height}`)).toEqual(['1440x1080', '960x720', '640x480', '480x360']);
    const top = probe(path.join(done.hlsDir, '1080p', 'seg-00000.ts')).streams.find((s) => s.codec_type === 'video')!;
    expect(top.field_order ?? 'progressive').toBe('progressive');
    expect(existsSync(done.mp4Path)).toBe(true);
  }, 180_000);

  it('a truncated file fails for good, with the reason in plain words', async () => {
    const src = path.join(dir, 'truncated.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', src]);
    truncateSync(src, Math.floor(statSync(src).size / 2));
    const failure = await processVideo({ sourceFile: src, outDir: path.join(dir, 'out-trunc') }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(MediaJobError);
    expect((failure as MediaJobError).code).toBe('no-media');
    expect((failure as MediaJobError).message).toMatch(/^the source is not a readable video: the MP4\/MOV is incomplete .*moov atom not found/);
  }, 60_000);
});
