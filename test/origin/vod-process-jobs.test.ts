// A library video's job on the origin, end to end but for the edge: the command taken in the jobs pool's VOD lane, the
// source read through the media API (a loopback stand-in checking media grants) or from a local folder, real ffmpeg on a
// worker thread, the outputs stored under videos/{id}/ in the contract's layout, video_progress rising to video_ready;
// an unreadable source fails once and for good, the lane's bound and the live room refuse with 429.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { OriginEvent, type VodJobCommand } from '../../shared/schemas/internal.ts';
import { EdgeClient } from '../../origin/edge-client.ts';
import { MediaUploader } from '../../origin/media-uploader.ts';
import { MediaJobPool } from '../../origin/jobs/jobs-pool.ts';
import { JobLanes } from '../../origin/jobs/job-lanes.ts';
import { downloadSource, PermanentDownloadError } from '../../origin/simulive/source-download.ts';
import { processingProgress, VodJobs, type VodJobStorage } from '../../origin/vod/vod-jobs.ts';
import { startMediaStore, STORE_MASTER, type MediaStore } from './jobs/media-store-fixture.ts';
import { DEFAULT_IMPORT_LIMITS, importSource } from '../../origin/vod/import-source.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const ORIGIN_ID = 'origin-vod-1';
const SECRET = 'test-origin-secret-0123456789abcdef';
let tmp: string;
let store: MediaStore;
let pool: MediaJobPool;
let sourceMp4: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vod-jobs-'));
  store = await startMediaStore(path.join(tmp, 'bucket'));
  sourceMp4 = path.join(tmp, 'source.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', sourceMp4]);
  pool = new MediaJobPool({ threads: 1, vodPerOrigin: 1 });
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const grantFor = (videoId: string) => issueMediaGrant(STORE_MASTER, { originId: ORIGIN_ID, prefixes: [`videos/${videoId}/`], expiresAt: Date.now() + 3_600_000 });

async function command(videoId: string, attempt = 1): Promise<VodJobCommand> {
  return { videoId, workspaceId: 'ws_1', kind: 'process', grant: await grantFor(videoId), attempt };
}

/** The media API stand-in as the job's storage: ranged reads (downloadSource) and uploads (MediaUploader) as in main.ts. */
function edgeStorage(): VodJobStorage {
  const edge = new EdgeClient(store.url, { originId: ORIGIN_ID, secret: SECRET });
  const uploader = new MediaUploader(edge, 16 * 1024 * 1024, { budgetMs: 2_000, firstDelayMs: 50, maxDelayMs: 200 });
  return {
    download: (key, file, grant) => downloadSource({ edgeUrl: store.url, credentials: { originId: ORIGIN_ID, secret: SECRET }, key, grant, file, attempts: 2 }),
    upload: (key, file, grant) => uploader.uploadFile(key, file, grant),
  };
}

/** A local folder standing for the bucket: the job's storage without HTTP. */
function folderStorage(root: string): VodJobStorage {
  return {
    download: async (key, file) => {
      const from = path.join(root, key);
      if (!(await stat(from).catch(() => null))) throw new PermanentDownloadError(`no object ${key}`);
      await copyFile(from, file);
      return { bytes: (await stat(file)).size };
    },
    upload: async (key, file) => {
      await mkdir(path.dirname(path.join(root, key)), { recursive: true });
      await copyFile(file, path.join(root, key));
      return (await stat(file)).size;
    },
  };
}

function runner(storage: VodJobStorage, o: { liveRoom?: () => boolean; workDir?: string; imports?: boolean } = {}) {
  const events: OriginEvent[] = [];
  const jobs = new VodJobs({
    workDir: o.workDir ?? path.join(tmp, 'work'),
    pool,
    storage,
    emit: async (event) => {
      // Every event the origin queues must pass the edge's own schema.
      events.push(OriginEvent.parse(event));
    },
    progressIntervalMs: 200,
    ...(o.liveRoom ? { liveRoom: o.liveRoom } : {}),
    // V3's import fetch as main.ts wires it, against loopback (the local-development switch on).
    ...(o.imports
      ? {
          importSource: (c: VodJobCommand, file: string, onProgress: (f: number) => void, signal: AbortSignal) => {
            const uploader = new MediaUploader(new EdgeClient(store.url, { originId: ORIGIN_ID, secret: SECRET }), 16 * 1024 * 1024, { budgetMs: 2_000, firstDelayMs: 50, maxDelayMs: 200 });
            return importSource(
              { videoId: c.videoId, sourceUrl: c.sourceUrl ?? '', grant: c.grant },
              { workDir: path.dirname(file), uploader, limits: { ...DEFAULT_IMPORT_LIMITS, stallTimeoutMs: 5_000, deadlineMs: 60_000 }, allowLoopback: true, onProgress: (p) => onProgress(p / 100), signal },
            );
          },
        }
      : {}),
  });
  return { jobs, events };
}

describe('processingProgress (pure)', () => {
  it('weighs download, encode and upload into 0–100, never claiming 100', () => {
    expect(processingProgress('download', 0)).toBe(0);
    expect(processingProgress('encode', 0)).toBe(10);
    expect(processingProgress('encode', 0.5)).toBe(50);
    expect(processingProgress('upload', 1)).toBe(99.9);
    expect(processingProgress('encode', Number.NaN)).toBe(10);
  });
});

describe("the jobs pool's VOD lane (pure)", () => {
  it('serves recordings and clips on their threads and VOD jobs on theirs, bounded per origin', () => {
    const lanes = new JobLanes<string>({ threads: 2, clipsPerWorkspace: 2, clipsPerOrigin: 8, maxRecordingsWaiting: 10, vodPerOrigin: 2, vodThreads: 1 });
    for (const id of ['v1', 'v2']) {
      expect(lanes.admit('vod', '')).toEqual({ ok: true });
      lanes.enqueue({ lane: 'vod', workspaceId: '', item: id });
    }
    expect(lanes.admit('vod', '')).toEqual({ ok: false, reason: 'this origin already has 2 video processing jobs' });
    // The VOD job starts on its own thread before anything else is asked of the pool.
    const v1 = lanes.next()!;
    expect(v1.item).toBe('v1');
    expect(lanes.next()).toBeUndefined(); // one VOD thread: v2 waits for it, not for the recordings' threads
    lanes.hold('ws');
    lanes.enqueue({ lane: 'clip', workspaceId: 'ws', item: 'c1' });
    lanes.enqueue({ lane: 'recording', workspaceId: '', item: 'r1' });
    // A running VOD job takes neither of the two threads: the recording and the clip both start at once.
    const first = lanes.next()!;
    const second = lanes.next()!;
    expect([first.item, second.item]).toEqual(['r1', 'c1']);
    expect(lanes.next()).toBeUndefined();
    expect(lanes.vodsRunning).toBe(1);
    lanes.finished(v1);
    const v2 = lanes.next()!;
    expect(v2.item).toBe('v2');
    lanes.finished(v2);
    expect(lanes.vodsAccepted).toBe(0);
    expect(lanes.admit('vod', '')).toEqual({ ok: true });
  });

  it('a recording waiting for the one recordings thread never goes to a VOD thread, nor a VOD job to it', () => {
    const lanes = new JobLanes<string>({ threads: 1, clipsPerWorkspace: 2, clipsPerOrigin: 8, maxRecordingsWaiting: 10, vodPerOrigin: 3, vodThreads: 2 });
    lanes.enqueue({ lane: 'recording', workspaceId: '', item: 'r1' });
    lanes.enqueue({ lane: 'recording', workspaceId: '', item: 'r2' });
    for (const id of ['v1', 'v2', 'v3']) lanes.enqueue({ lane: 'vod', workspaceId: '', item: id });
    const started: string[] = [];
    for (let job = lanes.next(); job; job = lanes.next()) started.push(job.item);
    expect(started).toEqual(['r1', 'v1', 'v2']);
    expect(lanes.waiting).toBe(2);
    expect(lanes.drain().map((w) => w.item)).toEqual(['r2', 'v3']);
  });
});

describe('VodJobs', () => {
  it('through the media API: source read with the grant, ladder encoded, outputs stored in the layout, progress then ready', async () => {
    const videoId = 'vid_apiSource000001';
    await mkdir(path.join(store.root, 'videos', videoId), { recursive: true });
    await copyFile(sourceMp4, path.join(store.root, 'videos', videoId, 'source'));
    const { jobs, events } = runner(edgeStorage());
    const writesBefore = store.writes.length;
    expect(jobs.accept(await command(videoId))).toEqual({ ok: true, joined: false });
    expect(jobs.jobIds).toEqual([videoId]);
    // The same video's command again (the edge re-sent it) joins the running job.
    expect(jobs.accept(await command(videoId, 2))).toEqual({ ok: true, joined: true });
    await jobs.running(videoId);
    expect(jobs.jobIds).toEqual([]);

    const progress = events.filter((e) => e.type === 'video_progress').map((e) => e.data as { phase: string; progress: number });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((p) => p.phase === 'processing' && p.progress >= 0 && p.progress < 100)).toBe(true);
    expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((a, b) => a - b));
    expect(progress.some((p) => p.progress > 10 && p.progress < 90)).toBe(true); // heard during the encode
    const ready = events.at(-1)!;
    expect(ready).toMatchObject({ type: 'video_ready', streamId: videoId, sessionId: 'vod-1' });
    expect(ready.data).toMatchObject({ videoId, renditions: ['480p', '360p'], size: (await stat(sourceMp4)).size });
    expect((ready.data as { duration: number }).duration).toBeCloseTo(8, 0);
    expect((ready.data as { mediaInfo: { video: { width: number } } }).mediaInfo.video.width).toBe(854);

    const written = store.writes.slice(writesBefore);
    for (const key of ['hls/master.m3u8', 'hls/480p/index.m3u8', 'hls/360p/index.m3u8', 'video.mp4', 'thumbnail.jpg']) expect(written).toContain(`videos/${videoId}/${key}`);
    expect(written.every((k) => k.startsWith(`videos/${videoId}/`))).toBe(true);
    // The master goes after every rendition's playlist and segment: one in R2 means the renditions are whole.
    expect(written.indexOf(`videos/${videoId}/hls/master.m3u8`)).toBeGreaterThan(Math.max(...written.filter((k) => k.includes('/hls/') && !k.endsWith('master.m3u8')).map((k) => written.indexOf(k))));
    expect(store.refused).toEqual([]);
    const master = await readFile(path.join(store.root, 'videos', videoId, 'hls', 'master.m3u8'), 'utf8');
    expect(master).toMatch(/480p\/index\.m3u8/);
    expect(await readFile(path.join(store.root, 'videos', videoId, 'hls', '480p', 'index.m3u8'), 'utf8')).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD[\s\S]*#EXT-X-ENDLIST/);
    // The job's scratch is gone.
    expect(await stat(path.join(tmp, 'work', 'vod', videoId)).catch(() => null)).toBeNull();
  }, 180_000);

  it('an import: fetched from its URL (importing), kept as videos/{id}/source, then processed to ready', async () => {
    const body = await readFile(sourceMp4);
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(body.length) }).end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const videoId = 'vid_imported000001';
      const { jobs, events } = runner(edgeStorage(), { imports: true, workDir: path.join(tmp, 'import-work') });
      const order: VodJobCommand = { ...(await command(videoId)), kind: 'import', sourceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/movie.mp4?sig=secret` };
      expect(jobs.accept(order).ok).toBe(true);
      await jobs.running(videoId);
      const phases = events.filter((e) => e.type === 'video_progress').map((e) => (e.data as { phase: string }).phase);
      expect(phases[0]).toBe('importing');
      expect(phases.at(-1)).toBe('processing');
      expect(phases.indexOf('processing')).toBeGreaterThan(phases.lastIndexOf('importing'));
      expect(events.at(-1)).toMatchObject({ type: 'video_ready', data: { videoId, renditions: ['480p', '360p'], size: body.length } });
      expect(await readFile(path.join(store.root, 'videos', videoId, 'source'))).toEqual(body);
      expect(store.writes).toContain(`videos/${videoId}/hls/master.m3u8`);
    } finally {
      server.close();
    }
  }, 180_000);

  it('a truncated source fails at once and for good, with ffprobe\'s reason in plain words', async () => {
    const bucket = path.join(tmp, 'folder-bucket');
    const videoId = 'vid_truncated00001';
    await mkdir(path.join(bucket, 'videos', videoId), { recursive: true });
    const source = path.join(bucket, 'videos', videoId, 'source');
    await copyFile(sourceMp4, source);
    await truncate(source, Math.floor((await stat(source)).size / 3));
    const { jobs, events } = runner(folderStorage(bucket));
    expect(jobs.accept(await command(videoId)).ok).toBe(true);
    await jobs.running(videoId);
    const failed = events.filter((e) => e.type === 'video_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({ videoId, permanent: true, reason: expect.stringMatching(/^the source is not a readable video: /) });
    expect(events.some((e) => e.type === 'video_ready')).toBe(false);
  }, 60_000);

  it('a source missing from storage fails for good; a grant not naming the video fails before any work', async () => {
    const { jobs, events } = runner(edgeStorage());
    const missing = 'vid_missingSource001';
    expect(jobs.accept(await command(missing)).ok).toBe(true);
    await jobs.running(missing);
    expect(events.at(-1)).toMatchObject({ type: 'video_failed', data: { videoId: missing, permanent: true, reason: expect.stringMatching(/answered 404/) } });

    const other = 'vid_wrongGrant00001';
    const wrong = { ...(await command(other)), grant: await grantFor('vid_someoneElse0001') };
    expect(jobs.accept(wrong).ok).toBe(true);
    await jobs.running(other);
    expect(events.at(-1)).toMatchObject({ type: 'video_failed', data: { videoId: other, permanent: true, reason: expect.stringMatching(/grant does not cover videos\/vid_wrongGrant00001\/source/) } });
  }, 60_000);

  it('refuses beyond VOD_JOBS_PER_ORIGIN and while live broadcasts take the capacity (429 with when to ask again)', async () => {
    const bucket = path.join(tmp, 'lane-bucket');
    const first = 'vid_laneFirst00001';
    await mkdir(path.join(bucket, 'videos', first), { recursive: true });
    await copyFile(sourceMp4, path.join(bucket, 'videos', first, 'source'));
    let roomForLive = true;
    const { jobs } = runner(folderStorage(bucket), { liveRoom: () => roomForLive, workDir: path.join(tmp, 'lane-work') });
    expect(jobs.accept(await command(first)).ok).toBe(true);
    expect(jobs.accept(await command('vid_laneSecond0001'))).toEqual({ ok: false, status: 429, reason: 'this origin already has 1 video processing job', retryAfterSeconds: 30 });
    await jobs.running(first);
    roomForLive = false;
    expect(jobs.accept(await command('vid_laneSecond0001'))).toMatchObject({ ok: false, status: 429, reason: expect.stringMatching(/live broadcasts/) });
    roomForLive = true;
    expect(jobs.accept(await command('vid_laneSecond0001')).ok).toBe(true);
    await jobs.running('vid_laneSecond0001');
  }, 180_000);
});
