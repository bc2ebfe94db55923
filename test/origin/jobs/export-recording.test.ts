// Recording export with real ffmpeg: a 20 s session with one reconnect made by the live pipeline becomes a fast-start
// MP4 whose timestamps run on across the join (the VOD is the session's durable playlists, not built here); a session
// folder without ENDLIST, with a `.tmp` and a truncated last segment still gives a recording of what is there.
import { cp, mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRecording } from '../../../origin/jobs/export-recording.ts';
import type { RecordingExport } from '../../../origin/jobs/export-recording.ts';
import { endSession } from '../../../origin/pipeline/live-transcode.ts';
import { parseMediaPlaylist } from '../../../origin/pipeline/playlists.ts';
import { progressSeconds } from '../../../origin/jobs/export-progress.ts';
import { copiedSession, decodeErrors, encodeInput, ffprobeJson, liveSession, packets, topLevelBoxes } from './session-fixture.ts';

let tmp: string;
let liveDir: string;
let endedDir: string;
let rec: RecordingExport;
let finalizeMs = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'export-'));
  // Two connections of 10 s each: the encoder dropped and came back within the reconnect window.
  const inputs = [path.join(tmp, 'a.ts'), path.join(tmp, 'b.ts')];
  await Promise.all(inputs.map((f) => encodeInput(f, { seconds: 10 })));
  liveDir = path.join(tmp, 'live');
  await liveSession(liveDir, inputs, { end: false });
  endedDir = path.join(tmp, 'ended');
  await cp(liveDir, endedDir, { recursive: true });
  await endSession(endedDir);
  const t = Date.now();
  rec = await exportRecording({ sessionDir: endedDir, outDir: path.join(tmp, 'rec'), progressFile: path.join(tmp, 'progress.txt') });
  finalizeMs = Date.now() - t;
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('exportRecording: a finished session with a reconnect', () => {
  it('reports the artifacts and the session timeline', () => {
    expect(rec.rendition).toBe('source');
    expect(rec.segments).toBe(10);
    expect(rec.discontinuities).toBe(1);
    expect(rec.droppedSegments).toEqual([]);
    expect(rec.warnings).toEqual([]);
    expect(rec.timelineDuration).toBeCloseTo(20, 1);
    expect(finalizeMs).toBeLessThan(15_000);
  });

  it('makes an MP4 of the source with audio whose duration is the media sent, within 1 s', async () => {
    const j = await ffprobeJson<{ format: { format_name: string; duration: string }; streams: { codec_type: string; codec_name: string }[] }>(['-show_format', '-show_streams', rec.mp4Path]);
    expect(j.format.format_name).toContain('mp4');
    expect(j.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Math.abs(Number(j.format.duration) - 20)).toBeLessThan(1);
    expect(rec.duration).toBeCloseTo(Number(j.format.duration), 2);
    expect(rec.size).toBe((await stat(rec.mp4Path)).size);
    expect(await decodeErrors(rec.mp4Path)).toBe('');
  });

  it('puts moov before mdat (fast start)', async () => {
    const boxes = await topLevelBoxes(rec.mp4Path);
    expect(boxes[0]).toBe('ftyp');
    expect(boxes.indexOf('moov')).toBeGreaterThan(-1);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
  });

  it('keeps timestamps running on across the reconnect join: no step back, no overlap, no gap over 0.1 s', async () => {
    const video = (await packets(rec.mp4Path, 'v')).map((p) => p.pts).sort((a, b) => a - b);
    expect(video).toHaveLength(600);
    const steps = video.slice(1).map((t, i) => t - video[i]!);
    expect(Math.min(...steps)).toBeGreaterThan(0.03);
    expect(Math.max(...steps)).toBeLessThan(0.1);
    const audio = await packets(rec.mp4Path, 'a');
    for (let i = 1; i < audio.length; i++) {
      const prev = audio[i - 1]!;
      expect(audio[i]!.pts).toBeGreaterThanOrEqual(prev.pts + prev.duration - 0.001);
      expect(audio[i]!.pts - (prev.pts + prev.duration)).toBeLessThan(0.1);
    }
    const dts = (await packets(rec.mp4Path, 'v')).map((p) => p.dts);
    expect(dts.every((d, i) => i === 0 || d > dts[i - 1]!)).toBe(true);
  });

  it("writes ffmpeg's progress while muxing, up to the recording's length", async () => {
    const seconds = progressSeconds(await readFile(path.join(tmp, 'progress.txt'), 'utf8'));
    expect(seconds).toBeGreaterThan(19);
    expect(seconds).toBeLessThan(21);
  });

  it('makes a JPEG screenshot 640 wide', async () => {
    const jpeg = await readFile(rec.screenshotPath);
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const j = await ffprobeJson<{ streams: { codec_name: string; width: number; height: number }[] }>(['-show_streams', rec.screenshotPath]);
    expect(j.streams[0]).toMatchObject({ codec_name: 'mjpeg', width: 640, height: 360 });
  });

  it('reads the media info of the MP4', () => {
    expect(rec.mediaInfo).toMatchObject({
      size: rec.size,
      video: { codec: 'h264', width: 854, height: 480, fps: 30, profile: expect.any(String) },
      audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
    });
    expect(rec.mediaInfo.duration).toBe(rec.duration);
    expect(rec.mediaInfo.bitrate).toBeGreaterThan(100_000);
  });
});

describe('exportRecording after an origin crash', () => {
  let crashed: string;
  let r: RecordingExport;
  /** the source's last listed segment (names carry the live pipeline's leg tag) */
  let lastName: string;

  beforeAll(async () => {
    // What a SIGKILL leaves: no ENDLIST (the session never ended), ffmpeg's partial next segment as
    // .tmp, and the last listed segment cut short (it had not reached the disk), no master.
    crashed = path.join(tmp, 'crashed');
    await cp(liveDir, crashed, { recursive: true });
    const listed = parseMediaPlaylist(await readFile(path.join(crashed, 'source', 'index.m3u8'), 'utf8')).segments;
    lastName = listed[listed.length - 1]!.uri;
    await writeFile(path.join(crashed, 'source', `${lastName}.next.tmp`), Buffer.alloc(188 * 40, 0x47));
    const last = path.join(crashed, 'source', lastName);
    // Cut on a TS packet boundary, so only probing the segment can tell.
    await truncate(last, Math.floor((await stat(last)).size / 2 / 188) * 188);
    await unlink(path.join(crashed, 'master.m3u8'));
    r = await exportRecording({ sessionDir: crashed, outDir: path.join(tmp, 'rec-crashed') });
  });

  it('starts from playlists without ENDLIST', async () => {
    const pl = parseMediaPlaylist(await readFile(path.join(crashed, 'source', 'index.m3u8'), 'utf8'));
    expect(pl.endList).toBe(false);
    expect(pl.segments).toHaveLength(10);
  });

  it('drops the truncated last segment and ignores the .tmp', () => {
    expect(r.droppedSegments).toEqual([{ uri: lastName, sequence: 9, reason: expect.stringMatching(/^truncated/) }]);
    expect(r.segments).toBe(9);
  });

  it('still makes a clean MP4 of what is left', async () => {
    expect(Math.abs(r.duration - 18)).toBeLessThan(1);
    expect(await decodeErrors(r.mp4Path)).toBe('');
  });

  it('also exports when a listed segment is missing altogether', async () => {
    const gone = path.join(tmp, 'gone');
    await cp(liveDir, gone, { recursive: true });
    await unlink(path.join(gone, 'source', lastName));
    const g = await exportRecording({ sessionDir: gone, outDir: path.join(tmp, 'rec-gone') });
    expect(g.droppedSegments).toEqual([{ uri: lastName, sequence: 9, reason: 'missing' }]);
    expect(g.segments).toBe(9);
  });

  it('can be run again over an earlier attempt (a retry)', async () => {
    const again = await exportRecording({ sessionDir: crashed, outDir: path.join(tmp, 'rec-crashed') });
    expect(again.segments).toBe(9);
    expect(await decodeErrors(again.mp4Path)).toBe('');
  });
});

describe('exportRecording with B-frames (OBS-like x264 veryfast, CBR)', () => {
  it('keeps DTS increasing and the pictures gap-free across the join', async () => {
    const inputs = [path.join(tmp, 'bf-a.ts'), path.join(tmp, 'bf-b.ts')];
    await Promise.all(inputs.map((f) => encodeInput(f, { seconds: 4, preset: 'veryfast', cbr: true })));
    const dir = path.join(tmp, 'bframes');
    await liveSession(dir, inputs, { end: true });
    const r = await exportRecording({ sessionDir: dir, outDir: path.join(tmp, 'rec-bframes') });
    expect(r.discontinuities).toBe(1);
    expect(Math.abs(r.duration - 8)).toBeLessThan(1);
    expect(r.mediaInfo.video).toMatchObject({ profile: 'High', frames: 240 });
    expect(await decodeErrors(r.mp4Path)).toBe('');
    const video = await packets(r.mp4Path, 'v');
    expect(video.every((p, i) => i === 0 || p.dts > video[i - 1]!.dts)).toBe(true);
    const pts = video.map((p) => p.pts).sort((a, b) => a - b);
    const steps = pts.slice(1).map((t, i) => t - pts[i]!);
    expect(Math.min(...steps)).toBeGreaterThan(0.03);
    expect(Math.max(...steps)).toBeLessThan(0.1);
  });
});

describe('exportRecording when the encoder comes back with other settings', () => {
  it('still makes the MP4 and says the header only describes the first run', async () => {
    const dir = path.join(tmp, 'changed');
    const [a, b] = [path.join(tmp, 'ch-a.ts'), path.join(tmp, 'ch-b.ts')];
    await Promise.all([encodeInput(a, { seconds: 4 }), encodeInput(b, { seconds: 4, size: '640x360' })]);
    await copiedSession(dir, a);
    await copiedSession(dir, b, { append: true });
    const r = await exportRecording({ sessionDir: dir, outDir: path.join(tmp, 'rec-changed') });
    expect(r.discontinuities).toBe(1);
    expect(r.warnings).toEqual([expect.stringMatching(/parameters changed at seg_00002\.ts/)]);
    expect(await decodeErrors(r.mp4Path)).toBe('');
  });
});
