// Live thumbnails: the newest segment of the top rendition becomes {sessionDir}/thumbnail.jpg, refreshed as segments land.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, mkdir, writeFile, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { liveThumbnail, newestSegmentUri, newestTopSegment, refreshThumbnails, topVariantUri, THUMBNAIL_FILE } from '../../../origin/pipeline/thumbnail.ts';
import { thumbnailOutputArgs } from '../../../origin/pipeline/hls-command.ts';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-thumbnail-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MASTER = [
  '#EXTM3U',
  '#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=640x360',
  '360p/index.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1920x1080',
  'source/index.m3u8',
  '',
].join('\n');

/** A session folder as the live transcode leaves it: a master and one rendition of real 2 s segments. */
async function session(name: string, size: string, seconds: number) {
  const sessionDir = path.join(dir, name);
  await mkdir(path.join(sessionDir, 'source'), { recursive: true });
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'event',
    '-hls_segment_filename', path.join(sessionDir, 'source', 'seg_%05d.ts'), path.join(sessionDir, 'source', 'index.m3u8'),
  ]);
  const [width, height] = size.split('x');
  await writeFile(path.join(sessionDir, 'master.m3u8'), `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=${width}x${height}\nsource/index.m3u8\n`);
  return sessionDir;
}

async function probe(file: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_streams', file]);
  return JSON.parse(stdout).streams[0];
}

describe('choosing the segment', () => {
  it('takes the tallest variant and the last segment', () => {
    expect(topVariantUri(MASTER)).toBe('source/index.m3u8');
    expect(topVariantUri('#EXTM3U\n')).toBeNull();
    expect(newestSegmentUri('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:2.0,\nseg_00001.ts\n')).toBe('seg_00001.ts');
    expect(newestSegmentUri('#EXTM3U\n#EXT-X-TARGETDURATION:2\n')).toBeNull();
  });

  it('finds nothing in a session that has no master yet', async () => {
    expect(await newestTopSegment(path.join(dir, 'nothing-here'))).toBeNull();
  });
});

describe('refreshThumbnails', () => {
  it('writes a JPEG of the newest segment, scaled to at most 720 lines, and refreshes when a new segment lands', async () => {
    const sessionDir = await session('tall', '1920x1080', 4);
    expect(await newestTopSegment(sessionDir)).toBe(path.join(sessionDir, 'source', 'seg_00001.ts'));
    const refresher = refreshThumbnails(sessionDir, { intervalMs: 100 });
    try {
      const target = path.join(sessionDir, THUMBNAIL_FILE);
      for (let i = 0; i < 100 && refresher.refreshed < 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(refresher.refreshed).toBe(1);
      const bytes = await readFile(target);
      expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
      expect(await probe(target)).toMatchObject({ codec_name: 'mjpeg', width: 1280, height: 720 });
      const first = (await stat(target)).mtimeMs;

      // Nothing new: no rewrite.
      await new Promise((r) => setTimeout(r, 400));
      expect(refresher.refreshed).toBe(1);

      // A new segment in the playlist: a new thumbnail.
      const playlist = path.join(sessionDir, 'source', 'index.m3u8');
      const text = await readFile(playlist, 'utf8');
      await writeFile(playlist, text.replace(/#EXT-X-ENDLIST\s*$/, '') + '#EXTINF:2.000000,\nseg_00000.ts\n');
      for (let i = 0; i < 100 && refresher.refreshed < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(refresher.refreshed).toBe(2);
      expect((await stat(target)).mtimeMs).toBeGreaterThanOrEqual(first);
    } finally {
      refresher.stop();
    }
  });

  it('keeps the source size when it is small, and stops by itself once the broadcast is over', async () => {
    const sessionDir = await session('small', '854x480', 4);
    const playlist = path.join(sessionDir, 'source', 'index.m3u8');
    const onlyFirst = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_00000.ts\n';
    await writeFile(playlist, onlyFirst);
    let over = false;
    const refresher = refreshThumbnails(sessionDir, { intervalMs: 100, isOver: () => over });
    for (let i = 0; i < 100 && refresher.refreshed < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await probe(path.join(sessionDir, THUMBNAIL_FILE))).toMatchObject({ width: 854, height: 480 });
    over = true;
    await new Promise((r) => setTimeout(r, 300));
    await rm(path.join(sessionDir, THUMBNAIL_FILE));
    await writeFile(playlist, `${onlyFirst}#EXTINF:2.0,\nseg_00001.ts\n`);
    await new Promise((r) => setTimeout(r, 400));
    expect(refresher.refreshed).toBe(1);
    await expect(stat(path.join(sessionDir, THUMBNAIL_FILE))).rejects.toThrow();
  });
});

describe('thumbnails kept by the ladder ffmpeg', () => {
  it('its thumbnail output writes the source picture scaled down, atomically (no temporary file left)', async () => {
    const sessionDir = path.join(dir, 'ladder-output');
    await mkdir(sessionDir, { recursive: true });
    const thumbnail = { ...liveThumbnail(sessionDir), maxHeight: 180 };
    const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '3', ...thumbnailOutputArgs(thumbnail)]);
    expect(stderr).not.toMatch(/error/i);
    expect(await probe(thumbnail.file)).toMatchObject({ codec_name: 'mjpeg', width: 320, height: 180 });
    expect(await readdir(sessionDir)).toEqual([THUMBNAIL_FILE]);
  });

  it('the refresher runs no ffmpeg of its own while someone else keeps the thumbnail fresh, and takes over once it goes stale', async () => {
    const sessionDir = await session('kept', '640x360', 2);
    const target = path.join(sessionDir, THUMBNAIL_FILE);
    await writeFile(target, 'written by the ladder');
    const refresher = refreshThumbnails(sessionDir, { intervalMs: 100 });
    try {
      await new Promise((r) => setTimeout(r, 150));
      expect(refresher.refreshed).toBe(0);
      expect(await readFile(target, 'utf8')).toBe('written by the ladder');
      // The ladder stopped writing (its ffmpeg died, say): after two intervals the refresher's own picture replaces it.
      const old = new Date(Date.now() - 1000);
      await utimes(target, old, old);
      for (let i = 0; i < 100 && refresher.refreshed < 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(refresher.refreshed).toBe(1);
      expect(await probe(target)).toMatchObject({ codec_name: 'mjpeg', width: 640, height: 360 });
    } finally {
      refresher.stop();
    }
  });
});
