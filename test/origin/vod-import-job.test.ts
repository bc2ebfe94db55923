// An import job (kind 'import') on the origin, end to end but for the edge: the command taken by VodJobs with the import
// step wired as origin/main.ts wires it, a real ffmpeg-made MP4 served by a loopback server that drops the connection
// once mid-body, the media API stand-in as R2. The job reports 'importing' progress up to 100, stores the source
// (sha256 intact) as videos/{id}/source, hands over to processing in the same job and ends video_ready; a URL answering
// 404 ends video_failed permanent with the reason, nothing processed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { OriginEvent, type VodJobCommand } from '../../shared/schemas/internal.ts';
import { EdgeClient } from '../../origin/edge-client.ts';
import { MediaUploader } from '../../origin/media-uploader.ts';
import { MediaJobPool } from '../../origin/jobs/jobs-pool.ts';
import { downloadSource } from '../../origin/simulive/source-download.ts';
import { VodJobs } from '../../origin/vod/vod-jobs.ts';
import { DEFAULT_IMPORT_LIMITS, importSource } from '../../origin/vod/import-source.ts';
import { startMediaStore, STORE_MASTER, type MediaStore } from './jobs/media-store-fixture.ts';

const ORIGIN_ID = 'origin-import-job';
const SECRET = 'test-origin-secret-0123456789abcdef';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
let tmp: string;
let store: MediaStore;
let pool: MediaJobPool;
let source: Buffer;
let sourceServer: Server;
let base: string;
/** the Range of every GET of /talk.mp4; the first one's connection is dropped a third of the way in */
const ranges: (string | undefined)[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vod-import-job-'));
  store = await startMediaStore(path.join(tmp, 'bucket'));
  const file = path.join(tmp, 'talk.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+faststart', file]);
  source = await readFile(file);
  let drops = 1;
  sourceServer = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/talk.mp4') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
    ranges.push(req.headers.range);
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const body = source.subarray(from);
    res.writeHead(from > 0 ? 206 : 200, {
      'content-type': 'video/mp4', 'content-length': String(body.length), 'accept-ranges': 'bytes',
      ...(from > 0 ? { 'content-range': `bytes ${from}-${source.length - 1}/${source.length}` } : {}),
    });
    if (drops-- > 0) return void res.write(body.subarray(0, Math.floor(body.length / 3)), () => setTimeout(() => res.destroy(), 300));
    res.end(body);
  });
  await new Promise<void>((resolve) => sourceServer.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(sourceServer.address() as AddressInfo).port}`;
  pool = new MediaJobPool({ threads: 1, vodPerOrigin: 1 });
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await store?.close();
  sourceServer?.closeAllConnections();
  sourceServer?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function command(videoId: string, sourceUrl: string): Promise<VodJobCommand> {
  const grant = await issueMediaGrant(STORE_MASTER, { originId: ORIGIN_ID, prefixes: [`videos/${videoId}/`], expiresAt: Date.now() + 3_600_000 });
  return { videoId, workspaceId: 'ws_1', kind: 'import', sourceUrl, grant, attempt: 1 };
}

/** VodJobs as origin/main.ts builds it: the media API for storage, the import step with the loopback switch on. */
function runner() {
  const events: OriginEvent[] = [];
  const edge = new EdgeClient(store.url, { originId: ORIGIN_ID, secret: SECRET });
  const uploader = new MediaUploader(edge, 16 * 1024 * 1024, { budgetMs: 2_000, firstDelayMs: 50, maxDelayMs: 200 });
  const jobs = new VodJobs({
    workDir: path.join(tmp, 'work'),
    pool,
    storage: {
      download: (key, file, grant) => downloadSource({ edgeUrl: store.url, credentials: { originId: ORIGIN_ID, secret: SECRET }, key, grant, file, attempts: 2 }),
      upload: (key, file, grant) => uploader.uploadFile(key, file, grant),
    },
    importSource: (c, file, onProgress, signal) =>
      importSource(
        { videoId: c.videoId, sourceUrl: c.sourceUrl ?? '', grant: c.grant },
        { workDir: path.dirname(file), uploader, limits: { ...DEFAULT_IMPORT_LIMITS, stallTimeoutMs: 5_000 }, allowLoopback: true, onProgress: (p) => onProgress(p / 100), signal },
      ),
    emit: async (event) => {
      events.push(OriginEvent.parse(event)); // every event must pass the edge's own schema
    },
    progressIntervalMs: 100,
  });
  return { jobs, events };
}

describe('an import job', () => {
  it('imports through a dropped connection, stores the source, processes it in the same job, and ends ready', async () => {
    const videoId = 'vid_importJob00000001';
    const { jobs, events } = runner();
    expect(jobs.accept(await command(videoId, `${base}/talk.mp4?sig=abc`))).toEqual({ ok: true, joined: false });
    await jobs.running(videoId);

    expect(ranges[0]).toBe('bytes=0-');
    expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-$/); // resumed where the drop left the file
    expect(sha256(await readFile(path.join(store.root, 'videos', videoId, 'source')))).toBe(sha256(source));
    const progress = events.filter((e) => e.type === 'video_progress').map((e) => e.data as { phase: string; progress: number });
    const importing = progress.filter((p) => p.phase === 'importing');
    expect(importing.at(-1)?.progress).toBe(100);
    const firstProcessing = progress.findIndex((p) => p.phase === 'processing');
    expect(firstProcessing).toBeGreaterThan(0);
    expect(progress.slice(firstProcessing).every((p) => p.phase === 'processing')).toBe(true); // importing, then processing
    const ready = events.at(-1)!;
    expect(ready.type).toBe('video_ready');
    expect(ready.data).toMatchObject({ videoId, size: source.length });
    expect((ready.data as { duration: number }).duration).toBeCloseTo(4, 0);
    expect(store.writes).toContain(`videos/${videoId}/hls/master.m3u8`);
  }, 180_000);

  it('a URL answering 404 fails the video for good with the reason, nothing processed', async () => {
    const videoId = 'vid_importJob00000404';
    const { jobs, events } = runner();
    jobs.accept(await command(videoId, `${base}/gone.mp4?sig=abc`));
    await jobs.running(videoId);
    const failed = events.at(-1)!;
    expect(failed.type).toBe('video_failed');
    expect(failed.data).toMatchObject({ videoId, permanent: true });
    expect((failed.data as { reason: string }).reason).toMatch(/answered 404: no such file/);
    expect((failed.data as { reason: string }).reason).not.toContain('sig=abc');
    expect(events.some((e) => (e.data as { phase?: string }).phase === 'processing')).toBe(false);
    expect(store.writes.some((k) => k.startsWith(`videos/${videoId}/`))).toBe(false);
  }, 60_000);
});
