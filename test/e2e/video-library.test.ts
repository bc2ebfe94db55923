// The video library end to end (issue 13) with the real edge in workerd, a real origin, ffmpeg-made files and a
// webhook receiver verifying every delivery with the standardwebhooks library: a 60 s 720p H.264/AAC MP4 is uploaded
// through the one-time upload URL in parts of the smallest legal size, its first part cut mid-body once and sent
// again; a 60 s 480p MP4 is imported from a loopback HTTP server that drops the connection once mid-body (the origin
// resumes it with a Range request); both rise through their progress to ready, both ladders play through the edge
// with ffprobe (each rendition's picture size and a 60 s duration), the MP4 answers a byte range with exactly its
// bytes; a truncated upload (sent first, so its failure does not wait behind the others in the origin's VOD lane)
// fails with a reason. video.asset.created / .ready / .errored arrive signed, in order, numbered per video.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe } from '../support/encoder.ts';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import {
  completeUpload,
  createUpload,
  describeSeen,
  encodeTestVideo,
  getVideo,
  listedParts,
  partsOf,
  playLadder,
  putPart,
  putPartCutMidBody,
  putWhole,
  rangedGet,
  startFlakyFileServer,
  topLevelBoxes,
  truncatedCopy,
  uploadState,
  watchVideo,
  type FlakyFileServer,
  type PlayedRendition,
  type TestVideo,
  type VideoUpload,
  type VideoWatch,
} from '../support/videos.ts';

const SECONDS = 60;
/** Duration slack of a rendition or the MP4 against the source: a 2 s GOP, AAC priming, container rounding. */
const DURATION_SLACK = 1;
/** Both videos' processing runs one after the other in the origin's VOD lane (VOD_JOBS_PER_ORIGIN 1). */
const READY_WITHIN_MS = 150_000;

let stack: Stack;
let receiver: WebhookReceiver;
let tmp: string;
let uploaded: TestVideo;
let imported: TestVideo;
let importServer: FlakyFileServer | null = null;
const figures: Record<string, unknown> = {};

const ids = { upload: '', import: '', truncated: '' };
let upload: VideoUpload;
let completedAt = 0;
let importCreatedAt = 0;
let ready: { upload: VideoWatch; import: VideoWatch } | null = null;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'video-library-'));
  // The files are made while the stack starts. The upload is 720p at 2.5 Mb/s: just over one 16 MiB part (the
  // smallest the upload URL takes), so it goes in two parts; the import is 480p and small.
  const files = Promise.all([
    encodeTestVideo(path.join(tmp, 'upload-720p.mp4'), { size: '1280x720', seconds: SECONDS, videoBitrate: '2500k' }),
    encodeTestVideo(path.join(tmp, 'import-480p.mp4'), { size: '854x480', seconds: SECONDS, videoBitrate: '500k', pattern: 'testsrc', toneHz: 660 }),
  ]);
  stack = await startStack({
    edgeVars: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1' },
    // The origin accepts the three jobs at once (they still run one at a time on its one VOD thread): with the default
    // of 1 the edge would hand each later job out again on its dispatch backoff (5 s, 10 s, 20 s …), which is not what
    // this test is about and would cost it tens of seconds.
    originEnv: { VOD_JOBS_PER_ORIGIN: '3' },
  });
  [uploaded, imported] = await files;
  figures.files = { uploadBytes: uploaded.bytes, importBytes: imported.bytes };
  receiver = await startWebhookReceiver();
  const endpoint = await stack.api('POST', '/webhooks', { url: receiver.url });
  expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
  receiver.secret = endpoint.body.data.secret;
});

afterAll(async () => {
  console.log(JSON.stringify({ figure: 'video_library_e2e', ...figures }));
  await importServer?.close();
  await receiver?.close();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const webhooksOf = (videoId: string) => receiver.received.filter((r) => r.body?.videoId === videoId);

describe('the video library: uploads and imports to ready ABR videos', () => {
  it('takes a truncated MP4 in one PUT (its probe fails once the origin has it: checked below)', async () => {
    const truncatedFile = path.join(tmp, 'truncated.mp4');
    const truncatedBytes = await truncatedCopy(uploaded.file, truncatedFile, 0.3);
    const truncatedUpload = await createUpload(stack, { title: 'e2e truncated' });
    ids.truncated = truncatedUpload.videoId;
    const put = await putWhole(truncatedUpload.uploadUrl, new Uint8Array(await readFile(truncatedFile)));
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data).toMatchObject({ videoId: truncatedUpload.videoId, size: truncatedBytes, parts: 1 });
  });

  it('uploads a 60 s 720p MP4 in parts; a part cut mid-body is not kept, and sent again it completes the file', async () => {
    upload = await createUpload(stack, { title: 'e2e upload', metadata: { case: 'parts' }, size: uploaded.bytes });
    ids.upload = upload.videoId;
    expect(upload.videoId).toMatch(/^vid_/);
    expect(upload.uploadUrl).toMatch(new RegExp(`^${stack.edgeUrl}/uploads/[A-Za-z0-9_-]{43}$`));
    expect(upload.partSize, 'the file spans at least two parts of the smallest legal size').toBeLessThan(uploaded.bytes);
    const waiting = await getVideo(stack, upload.videoId);
    expect(waiting).toMatchObject({ status: 'waiting', source: 'upload', title: 'e2e upload', progress: null, hlsUrl: null, mp4Url: null });

    const bytes = new Uint8Array(await readFile(uploaded.file));
    const parts = partsOf(bytes, upload.partSize);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    figures.upload = { partSize: upload.partSize, parts: parts.map((p) => p.length) };

    // Part 1 announced whole, cut after half of it: the edge keeps nothing of it.
    const cut = await putPartCutMidBody(upload.uploadUrl, 1, parts[0]!, Math.floor(parts[0]!.length / 2));
    expect(cut.answered === null || cut.answered >= 400, `a cut part answered ${cut.answered}`).toBe(true);
    // The later parts go through meanwhile (each part is its own request).
    for (let n = 2; n <= parts.length; n++) {
      const put = await putPart(upload.uploadUrl, n, parts[n - 1]!);
      expect(put.status, JSON.stringify(put.body)).toBe(200);
    }
    const afterCut = await uploadState(upload.uploadUrl);
    expect(afterCut.status).toBe(200);
    const listedAfterCut = listedParts(afterCut.body);
    expect(listedAfterCut.find((p) => p.n === 1), 'no part 1 after its body was cut').toBeUndefined();
    expect(listedAfterCut.map((p) => p.n)).toEqual(parts.slice(1).map((_, i) => i + 2));
    expect(afterCut.body.data.nextPart).toBe(1);
    expect((await getVideo(stack, upload.videoId)).status).toBe('uploading');

    // Completing now is refused: part 1 is missing.
    const early = await completeUpload(upload.uploadUrl);
    expect(early.status).toBe(400);
    expect(JSON.stringify(early.body)).toContain('part 1');

    // The resume: part 1 again, whole.
    const resent = await putPart(upload.uploadUrl, 1, parts[0]!);
    expect(resent.status, JSON.stringify(resent.body)).toBe(200);
    const whole = await uploadState(upload.uploadUrl);
    expect(listedParts(whole.body)).toEqual(parts.map((p, i) => expect.objectContaining({ n: i + 1, size: p.length })));
    expect(whole.body.data.receivedBytes).toBe(uploaded.bytes);

    const done = await completeUpload(upload.uploadUrl);
    completedAt = Date.now();
    expect([200, 202], JSON.stringify(done.body)).toContain(done.status);
    expect(done.body.data).toMatchObject({ videoId: upload.videoId, size: uploaded.bytes, parts: parts.length });
    // The URL is one-time: spent once completed (a small body: the refusal comes before the edge reads one).
    const spent = await putPart(upload.uploadUrl, 2, parts[1]!.subarray(0, 1024));
    expect(spent.status, JSON.stringify(spent.body)).toBeGreaterThanOrEqual(400);
    expect((await uploadState(upload.uploadUrl)).status).toBeGreaterThanOrEqual(400);
  });

  it('imports a 60 s 480p MP4 from a loopback server that drops the connection once mid-body', async () => {
    importServer = await startFlakyFileServer(imported.file, { dropAfterBytes: Math.floor(imported.bytes * 0.4) });
    const created = await stack.api('POST', '/videos/imports', { url: importServer.url, title: 'e2e import', metadata: { case: 'import' } });
    importCreatedAt = Date.now();
    expect([201, 202], JSON.stringify(created.body)).toContain(created.status);
    ids.import = created.body.data.videoId;
    expect(created.body.data).toMatchObject({ source: 'import', title: 'e2e import' });
    expect(['waiting', 'importing']).toContain(created.body.data.status);

  });

  it('both rise through their progress to ready', async () => {
    const [uploadWatch, importWatch] = await Promise.all([
      watchVideo(stack, ids.upload, 'ready', READY_WITHIN_MS),
      watchVideo(stack, ids.import, 'ready', READY_WITHIN_MS),
    ]);
    ready = { upload: uploadWatch, import: importWatch };
    figures.completeToReadyMs = uploadWatch.at - completedAt;
    figures.importToReadyMs = importWatch.at - importCreatedAt;
    figures.uploadSeen = describeSeen(uploadWatch.seen);
    figures.importSeen = describeSeen(importWatch.seen);

    for (const [name, watch] of Object.entries(ready)) {
      // Statuses in the machine's order, never back.
      const order = ['waiting', 'uploading', 'importing', 'processing', 'ready'];
      const ranks = watch.seen.map((s) => order.indexOf(s.status));
      expect(ranks, `${name}: ${describeSeen(watch.seen)}`).toEqual([...ranks].sort((a, b) => a - b));
      // Progress rises within each status, and the processing shows steps between 0 and 100.
      for (const status of ['importing', 'processing']) {
        const values = watch.seen.filter((s) => s.status === status && s.progress !== null).map((s) => s.progress!);
        expect(values, `${name} ${status}: ${describeSeen(watch.seen)}`).toEqual([...values].sort((a, b) => a - b));
      }
      const steps = watch.seen.filter((s) => s.status === 'processing' && s.progress !== null && s.progress > 0 && s.progress < 100);
      expect(steps.length, `${name}: progress between 0 and 100 while processing (${describeSeen(watch.seen)})`).toBeGreaterThanOrEqual(2);
      expect(watch.video.progress).toBe(100);
    }
    expect(ready.import.seen.some((s) => s.status === 'importing'), describeSeen(ready.import.seen)).toBe(true);

    // The import was cut once and resumed from where its bytes stopped, not fetched again whole.
    const gets = importServer!.requests.filter((r) => r.method === 'GET');
    figures.importRequests = importServer!.requests.map((r) => `${r.method} ${r.range ?? '-'} ${r.status} ${r.bytesSent}${r.dropped ? ' dropped' : ''}`);
    expect(gets.length, JSON.stringify(importServer!.requests)).toBeGreaterThanOrEqual(2);
    expect(gets[0]!.dropped).toBe(true);
    const resumedFrom = Number(/^bytes=(\d+)-/.exec(gets[1]!.range ?? '')?.[1] ?? NaN);
    expect(resumedFrom, `the second GET asks for the rest: ${gets[1]!.range}`).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(gets[0]!.bytesSent);

    const video = ready.upload.video;
    expect(video).toMatchObject({ status: 'ready', error: null, source: 'upload', size: uploaded.bytes });
    expect(Math.abs(video.duration - SECONDS)).toBeLessThan(DURATION_SLACK);
    expect(video.mediaInfo).toMatchObject({ video: { codec: 'h264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'aac' } });
    expect(video.readyAt).toEqual(expect.any(String));
    expect(video.hlsUrl).toBe(`${stack.edgeUrl}/hls/${video.playbackIds[0].id}/master.m3u8`);
    expect(ready.import.video).toMatchObject({ status: 'ready', source: 'import', size: imported.bytes });
    expect(ready.import.video.mediaInfo).toMatchObject({ video: { width: 854, height: 480 } });

    // The library lists them, newest first, and filters by source.
    const list = await stack.api('GET', '/videos?source=upload&limit=10');
    expect(list.status).toBe(200);
    const listed = (list.body.data as any[]).map((v) => v.videoId);
    expect(listed).toContain(ids.upload);
    expect(listed).not.toContain(ids.import);
  }, READY_WITHIN_MS + 20_000);

  it('both ladders play through the edge: every rendition at its size, 60 s long, none above the source', async () => {
    expect(ready, 'both videos ready').not.toBeNull();
    const ladders: Record<string, PlayedRendition[]> = {
      upload: await playLadder(stack, ready!.upload.video.hlsUrl),
      import: await playLadder(stack, ready!.import.video.hlsUrl),
    };
    figures.ladders = Object.fromEntries(
      Object.entries(ladders).map(([k, l]) => [k, l.map((r) => `${r.probed.width}x${r.probed.height} ${r.probed.duration.toFixed(2)}s ${Math.round(r.bandwidth / 1000)}k`)]),
    );
    const heights = (l: PlayedRendition[]) => l.map((r) => r.probed.height);
    expect(heights(ladders.upload!)).toEqual([720, 480, 360]);
    expect(heights(ladders.import!)).toEqual([480, 360]);
    for (const rendition of [...ladders.upload!, ...ladders.import!]) {
      expect(rendition.resolution, rendition.uri).toEqual({ width: rendition.probed.width, height: rendition.probed.height });
      // 16:9 kept (even widths): 1280, 854 or 852, 640.
      expect(Math.abs(rendition.probed.width - (rendition.probed.height * 16) / 9), rendition.uri).toBeLessThanOrEqual(2);
      expect(rendition.probed.videoCodec).toBe('h264');
      expect(rendition.probed.audioCodec).toBe('aac');
      expect(Math.abs(rendition.probed.duration - SECONDS), `${rendition.uri} lasts ${rendition.probed.duration}`).toBeLessThan(DURATION_SLACK);
    }
  }, 90_000);

  it('the MP4 is fast start and answers a byte range with exactly its bytes (206); the thumbnail is a JPEG', async () => {
    const video = ready!.upload.video;
    const whole = await stack.edgeFetch(video.mp4Url);
    expect(whole.status).toBe(200);
    const mp4 = Buffer.from(await whole.arrayBuffer());
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const boxes = topLevelBoxes(mp4);
    expect(boxes.indexOf('moov'), boxes.join(',')).toBeGreaterThanOrEqual(0);
    expect(boxes.indexOf('moov'), `moov before mdat: ${boxes.join(',')}`).toBeLessThan(boxes.indexOf('mdat'));
    const probe = await ffprobe(video.mp4Url);
    expect(probe.streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ width: 1280, height: 720 });
    expect(Math.abs(Number(probe.format.duration) - SECONDS)).toBeLessThan(DURATION_SLACK);

    const start = Math.floor(mp4.length / 3) + 7;
    const end = start + 65_535;
    const ranged = await rangedGet(stack, video.mp4Url, start, end);
    expect(ranged.status).toBe(206);
    expect(ranged.contentRange).toBe(`bytes ${start}-${end}/${mp4.length}`);
    expect(ranged.bytes.length).toBe(end - start + 1);
    expect(ranged.bytes.equals(mp4.subarray(start, end + 1))).toBe(true);
    // The tail, as a player seeking to the end asks for it.
    const tail = await rangedGet(stack, video.mp4Url, mp4.length - 1000, mp4.length - 1);
    expect(tail.status).toBe(206);
    expect(tail.bytes.equals(mp4.subarray(mp4.length - 1000))).toBe(true);
    figures.mp4 = { bytes: mp4.length, boxes: boxes.join(','), range: `${start}-${end}` };

    const thumbnail = await stack.edgeFetch(video.thumbnailUrl);
    expect(thumbnail.status).toBe(200);
    const jpeg = Buffer.from(await thumbnail.arrayBuffer());
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it('a truncated upload fails with a reason that says so', async () => {
    const failed = await watchVideo(stack, ids.truncated, 'failed', 60_000);
    figures.truncated = { error: failed.video.error, seen: describeSeen(failed.seen) };
    expect(failed.video.error).toEqual(expect.any(String));
    expect(failed.video.error).toMatch(/not a readable video|incomplete|cut short|ends early/);
    expect(failed.video).toMatchObject({ hlsUrl: null, mp4Url: null, readyAt: null });
  });

  it('video.asset.created, .ready and .errored arrive signed, once each, numbered per video', async () => {
    await waitFor('the ready and errored webhooks', async () => {
      const done = webhooksOf(ids.upload).some((r) => r.body.type === 'video.asset.ready') &&
        webhooksOf(ids.import).some((r) => r.body.type === 'video.asset.ready') &&
        webhooksOf(ids.truncated).some((r) => r.body.type === 'video.asset.errored');
      return done ? true : undefined;
    }, 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive by now
    const expected: Record<string, string[]> = {
      [ids.upload]: ['video.asset.created', 'video.asset.ready'],
      [ids.import]: ['video.asset.created', 'video.asset.ready'],
      [ids.truncated]: ['video.asset.created', 'video.asset.errored'],
    };
    for (const [videoId, types] of Object.entries(expected)) {
      const got = webhooksOf(videoId);
      for (const r of got) expect(r.verified, r.verifyError).toBe(true);
      expect(got.map((r) => r.body.type), videoId).toEqual(types);
      expect(got.map((r) => r.body.sequence)).toEqual(types.map((_, i) => i + 1));
      expect(new Set(got.map((r) => r.id)).size).toBe(got.length);
      for (const r of got) {
        expect(r.id).toBe(r.body.id);
        expect(r.body).toMatchObject({ event: 'VIDEO_ASSET', videoId, streamId: videoId });
        expect(r.body.data.videoId).toBe(videoId);
        expect(r.body.status).toBe(r.body.data.status);
      }
    }
    const readyHook = webhooksOf(ids.upload).find((r) => r.body.type === 'video.asset.ready')!;
    // A webhook has no request to take a host from: its URLs are paths on the edge (the API's answers are absolute).
    expect(readyHook.body.data.status).toBe('ready');
    expect(new URL(readyHook.body.data.hlsUrl, stack.edgeUrl).href).toBe(ready!.upload.video.hlsUrl);
    expect(new URL(readyHook.body.data.mp4Url, stack.edgeUrl).href).toBe(ready!.upload.video.mp4Url);
    const errored = webhooksOf(ids.truncated).find((r) => r.body.type === 'video.asset.errored')!;
    expect(errored.body).toMatchObject({ status: 'failed' });
    expect(errored.body.reason).toEqual(expect.any(String));
    expect(errored.body.data.error).toBe(errored.body.reason);
    figures.webhooks = receiver.received.filter((r) => r.body?.event === 'VIDEO_ASSET').length;
  });
});
