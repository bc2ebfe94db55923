// Clips with real ffmpeg from a 20 s session with a reconnect at 10 s, made by the live pipeline from an
// OBS-like encoder (x264 veryfast, CBR, High with B-frames): keyframe clips are the source's pictures bit
// for bit and within a GOP of the request; accurate clips are within 0.1 s, decode cleanly and re-encode
// only the edges. Also: a clip while the session is live, across the join, and the fallbacks.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutClip } from '../../../origin/jobs/clip.ts';
import type { ClipArtifacts } from '../../../origin/jobs/clip.ts';
import { MediaJobError } from '../../../origin/jobs/job-error.ts';
import { parseMediaPlaylist, validateMasterPlaylist } from '../../../origin/pipeline/playlists.ts';
import { copiedSession, decodeErrors, encodeInput, ffprobeJson, framePsnr, frameHashes, liveSession, topLevelBoxes } from './session-fixture.ts';

let tmp: string;
let session: string;
/** decoded frames of the source rendition's first 16 s, session order (30 fps: frame n is at n/30 s) */
let sourceFrames: string[];
let n = 0;

/** The path of the source rendition's i-th listed segment. */
let sourceSegment: (i: number) => string;
const clip = (startTime: number, endTime: number, accurate: boolean, sessionDir = session): Promise<ClipArtifacts> =>
  cutClip({ sessionDir, startTime, endTime, accurate, outDir: path.join(tmp, `clip-${n++}`) });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-'));
  const inputs = [path.join(tmp, 'a.ts'), path.join(tmp, 'b.ts')];
  await Promise.all(inputs.map((f) => encodeInput(f, { seconds: 10, preset: 'veryfast', cbr: true })));
  session = path.join(tmp, 'session');
  // Not ended: clips are cut while the session is live (no ENDLIST yet) as well as after.
  await liveSession(session, inputs, { end: false });
  // The tests compare against the first 16 s; each segment starts with a keyframe, so each decodes alone.
  // Names carry the live pipeline's leg tag: read them from the playlist.
  const listed = parseMediaPlaylist(await readFile(path.join(session, 'source', 'index.m3u8'), 'utf8')).segments;
  sourceSegment = (i) => path.join(session, 'source', listed[i]!.uri);
  const hashes = await Promise.all(listed.slice(0, 8).map((_, i) => frameHashes(sourceSegment(i))));
  sourceFrames = hashes.flat();
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function checkMp4(c: ClipArtifacts): Promise<void> {
  expect(await decodeErrors(c.mp4Path)).toBe('');
  const boxes = await topLevelBoxes(c.mp4Path);
  expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
  const j = await ffprobeJson<{ streams: { codec_type: string }[] }>(['-show_streams', c.mp4Path]);
  expect(j.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  const master = await readFile(path.join(c.vodDir, 'master.m3u8'), 'utf8');
  expect(validateMasterPlaylist(master)).toEqual([]);
  const pl = parseMediaPlaylist(await readFile(path.join(c.vodDir, 'source', 'index.m3u8'), 'utf8'));
  expect(pl.playlistType).toBe('VOD');
  expect(pl.endList).toBe(true);
  const total = pl.segments.reduce((a, s) => a + s.duration, 0);
  expect(Math.abs(total - c.duration)).toBeLessThan(0.15);
  const vod = await ffprobeJson<{ format: { duration: string } }>(['-show_format', path.join(c.vodDir, 'master.m3u8')]);
  expect(Math.abs(Number(vod.format.duration) - c.duration)).toBeLessThan(0.15);
}

describe('keyframe clips (default): GOPs copied', () => {
  it('covers the request, off by less than a GOP (2 s), and is the source bit for bit', async () => {
    const c = await clip(3.3, 9.7, false);
    expect(c.method).toBe('keyframe');
    expect(c.reencodedFrames).toBe(0);
    expect(c.actualStart).toBeLessThanOrEqual(3.3);
    expect(3.3 - c.actualStart).toBeLessThan(2);
    expect(c.actualEnd).toBeGreaterThanOrEqual(9.7);
    expect(c.actualEnd - 9.7).toBeLessThan(2);
    expect([c.actualStart, c.actualEnd]).toEqual([2, 10]);
    expect(Math.abs(c.duration - (c.actualEnd - c.actualStart))).toBeLessThan(0.1);
    // No re-encode: every decoded picture equals the source's at the same instant.
    expect(await frameHashes(c.mp4Path)).toEqual(sourceFrames.slice(60, 300));
    await checkMp4(c);
  });

  it('spans the reconnect join', async () => {
    const c = await clip(7.1, 14.5, false);
    expect([c.actualStart, c.actualEnd]).toEqual([6, 16]);
    expect(await frameHashes(c.mp4Path)).toEqual(sourceFrames.slice(180, 480));
    expect(Math.abs(c.duration - 10)).toBeLessThan(0.1);
    await checkMp4(c);
  });

  it('cuts on keyframes inside segments when the encoder sends them more often (1 s GOP)', async () => {
    const dir = path.join(tmp, 'gop1');
    const input = path.join(tmp, 'gop1.ts');
    await encodeInput(input, { seconds: 8, gop: 30 });
    await copiedSession(dir, input);
    const c = await clip(3.3, 7.4, false, dir);
    expect([c.actualStart, c.actualEnd]).toEqual([3, 8]);
    expect(c.reencodedFrames).toBe(0);
    await checkMp4(c);
  });
});

describe('accurate clips: smart cut', () => {
  let c: ClipArtifacts;
  beforeAll(async () => {
    c = await clip(3.3, 9.7, true);
  });

  it('is within 0.1 s of the request and lasts endTime - startTime within 0.1 s', async () => {
    expect(c.method).toBe('smart');
    expect(Math.abs(c.actualStart - 3.3)).toBeLessThan(0.1);
    expect(Math.abs(c.actualEnd - 9.7)).toBeLessThan(0.1);
    expect(Math.abs(c.duration - 6.4)).toBeLessThan(0.1);
    const j = await ffprobeJson<{ streams: { codec_type: string; nb_frames: string }[] }>(['-show_streams', c.mp4Path]);
    expect(j.streams.find((s) => s.codec_type === 'video')?.nb_frames).toBe('192');
  });

  it('decodes without a single error', async () => {
    await checkMp4(c);
  });

  it('re-encodes only the partial GOPs at the edges: the whole GOPs between are the source bit for bit', async () => {
    // 3.3–4.0 s (21 frames) and 8.0–9.7 s (51 frames) re-encoded; 4.0–8.0 s copied.
    expect(c.reencodedFrames).toBe(72);
    const frames = await frameHashes(c.mp4Path);
    expect(frames.slice(21, 141)).toEqual(sourceFrames.slice(120, 240));
    expect(frames[0]).not.toBe(sourceFrames[99]);
  });

  it('starts and ends on the right pictures (PSNR against the neighbouring source frames)', async () => {
    const seg1 = sourceSegment(1);
    const first = await Promise.all([38, 39, 40].map((k) => framePsnr(c.mp4Path, 0, seg1, k)));
    expect(first.indexOf(Math.max(...first))).toBe(1);
    expect(first[1]).toBeGreaterThan(35);
    const seg4 = sourceSegment(4);
    const last = await Promise.all([49, 50, 51].map((k) => framePsnr(c.mp4Path, 191, seg4, k)));
    expect(last.indexOf(Math.max(...last))).toBe(1);
  });

  it('smart-cuts across the reconnect join', async () => {
    const j = await clip(7.1, 14.5, true);
    expect(j.method).toBe('smart');
    expect(Math.abs(j.actualStart - 7.1)).toBeLessThan(0.1);
    expect(Math.abs(j.actualEnd - 14.5)).toBeLessThan(0.1);
    expect(Math.abs(j.duration - 7.4)).toBeLessThan(0.1);
    await checkMp4(j);
  });

  it('copies everything when the range falls on keyframes', async () => {
    const k = await clip(4, 10, true);
    expect(k).toMatchObject({ method: 'smart', reencodedFrames: 0, actualStart: 4, actualEnd: 10 });
    expect(await frameHashes(k.mp4Path)).toEqual(sourceFrames.slice(120, 300));
  });

  it('re-encodes the whole clip when the source does not say it is x264 (no options SEI)', async () => {
    const dir = path.join(tmp, 'nosei');
    const input = path.join(tmp, 'nosei.ts');
    await encodeInput(input, { seconds: 8, stripSei: true });
    await copiedSession(dir, input);
    const f = await clip(2.5, 7.2, true, dir);
    expect(f.method).toBe('reencode');
    expect(f.fallbackReason).toMatch(/x264/);
    expect(f.reencodedFrames).toBe(141);
    expect(Math.abs(f.duration - 4.7)).toBeLessThan(0.1);
    await checkMp4(f);
  });
});

describe('bad ranges', () => {
  it('are refused before any work, naming the field', async () => {
    const cases: [number, number, string][] = [
      [5, 5, 'endTime'],
      [-1, 4, 'startTime'],
      [25, 30, 'startTime'],
      [15, 25, 'endTime'],
    ];
    for (const [s, e, field] of cases) {
      const err = await clip(s, e, false).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(MediaJobError);
      expect(err).toMatchObject({ code: 'invalid-range', field });
    }
  });
});
