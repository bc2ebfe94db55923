// Video uploads (issue 13) inside workerd: POST /v1/videos/uploads and the one-time upload URL — one-shot and multi-part
// uploads into R2 (the stored object's SHA-256 checked against the bytes sent), a part re-sent (replaced), the resume
// listing, wrong part sizes, parts after completion, expired and unknown tokens, and the token kept out of logs; the
// upload URL's deadline held by the video's object (failed at expiry unless completed).
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { api, call, createWorkspace, json, type Workspace } from './helpers.ts';
import { until } from './until.ts';
import { sha256Hex } from '../../shared/identifiers.ts';
import { DEFAULT_MAX_UPLOAD_BYTES, judgeCompletion, judgePart, planUpload } from '../../edge/video/upload-plan.ts';
import { NO_SUCH_UPLOAD, declaredLength } from '../../edge/video/uploads.ts';
import { UPLOAD_EXPIRED_REASON } from '../../edge/video/video-machine.ts';
import type { VideoResult } from '../../edge/video-object.ts';

const MiB = 1024 * 1024;
const PART = 16 * MiB;

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('video-uploads');
});

/** Deterministic bytes that differ per seed (xorshift32), so a replaced part is told apart from the original. */
function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = i & 0xff;
  return out;
}

async function sha256Bytes(...chunks: Uint8Array[]): Promise<string> {
  const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  const digest = await crypto.subtle.digest('SHA-256', whole);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function storedSha256(videoId: string): Promise<{ size: number; sha256: string } | null> {
  const object = await env.MEDIA.get(`videos/${videoId}/source`);
  if (!object) return null;
  const bytes = new Uint8Array(await object.arrayBuffer());
  return { size: bytes.length, sha256: await sha256Bytes(bytes) };
}

interface Upload {
  videoId: string;
  uploadUrl: string;
  expiresAt: string;
  partSize: number;
  maxParts: number;
  path: string;
  token: string;
}

async function createUpload(body: unknown = {}): Promise<Upload> {
  const response = await api(ws, 'POST', '/videos/uploads', body);
  expect(response.status, await response.clone().text()).toBe(201);
  const { data } = await json(response);
  const url = new URL(data.uploadUrl);
  return { ...data, path: url.pathname, token: url.pathname.split('/')[2] };
}

const putPart = (upload: Upload, n: number | string, body: Uint8Array) => call(`${upload.path}/parts/${n}`, { method: 'PUT', body });
const complete = (upload: Upload) => call(`${upload.path}/complete`, { method: 'POST' });
const status = (upload: Upload) => call(upload.path);

async function videoOf(videoId: string) {
  const result = (await env.VIDEOS.get(env.VIDEOS.idFromName(videoId)).get(ws.id)) as VideoResult;
  if (!result.ok) throw new Error(`video ${videoId}: ${result.code}`);
  return result.video;
}

async function problemOf(response: Response, status: number, type: string) {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const body = JSON.parse(text) as { type: string; detail?: string; instance?: string };
  expect(body.type).toBe(`https://riverhead.dev/problems/${type}`);
  return body;
}

describe('POST /v1/videos/uploads', () => {
  it('creates a waiting video and a one-time URL (hash stored, 24 h, 16 MiB parts)', async () => {
    const before = Date.now();
    const upload = await createUpload({ title: 'Keynote', metadata: { team: 'a' } });
    expect(upload.videoId).toMatch(/^vid_[0-9A-Za-z]{16}$/);
    expect(upload.uploadUrl).toMatch(/^http:\/\/edge\.test\/uploads\/[A-Za-z0-9_-]{43}$/);
    expect(upload.partSize).toBe(PART);
    expect(upload.maxParts).toBe(1000);
    expect(upload.maxParts * upload.partSize).toBeLessThanOrEqual(DEFAULT_MAX_UPLOAD_BYTES);
    const ttl = Date.parse(upload.expiresAt) - before;
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
    const video = await videoOf(upload.videoId);
    expect(video).toMatchObject({ status: 'waiting', source: 'upload', title: 'Keynote' });
    // Only the token's SHA-256 is stored; no column holds the token itself.
    const row = await env.DB.prepare('SELECT * FROM video_uploads WHERE video_id = ?').bind(upload.videoId).first<Record<string, unknown>>();
    expect(row!.token_hash).toBe(await sha256Hex(upload.token));
    expect(Object.values(row!).some((value) => String(value).includes(upload.token))).toBe(false);
  });

  it('picks larger parts for a large size hint and refuses what no upload can hold', async () => {
    const large = await createUpload({ size: 20 * 1024 * MiB });
    expect(large.partSize).toBe(32 * MiB);
    expect(large.maxParts).toBe(640);
    expect((await createUpload({ size: 17 * 1024 * MiB })).partSize).toBe(17 * MiB + MiB); // 18 MiB × 1000 ≥ 17 GiB
    expect((await createUpload({ size: 1000 })).partSize).toBe(PART);
    const body = await problemOf(await api(ws, 'POST', '/videos/uploads', { size: 20 * 1024 * MiB + 1 }), 400, 'upload-too-large');
    expect(JSON.stringify(body)).toContain('"field":"size"');
    await problemOf(await api(ws, 'POST', '/videos/uploads', { size: 0 }), 400, 'invalid-request');
    await problemOf(await api(ws, 'POST', '/videos/uploads', { partSize: 5 }), 400, 'invalid-request');
  });

  it('needs an access token; the upload URL does not', async () => {
    await problemOf(await call('/v1/videos/uploads', { method: 'POST' }), 401, 'unauthorized');
    const upload = await createUpload();
    expect((await status(upload)).status).toBe(200);
  });
});

describe('upload URL', () => {
  it('multi-part: parts, a part re-sent (replaced), resume listing, complete → exact bytes in R2, processing', async () => {
    const upload = await createUpload({ title: 'parts' });
    const part1 = bytesOf(PART, 1);
    const part2 = bytesOf(PART, 2);
    const wrongPart2 = bytesOf(PART, 99);
    const part3 = bytesOf(MiB + 123, 3);

    const first = await putPart(upload, 1, part1);
    expect(first.status, await first.clone().text()).toBe(200);
    expect((await json(first)).data).toMatchObject({ n: 1, size: PART });
    expect((await videoOf(upload.videoId)).status).toBe('uploading');

    // Part 2 arrives garbled, then again (as after a dropped connection): the second copy replaces the first.
    const garbled = (await json(await putPart(upload, 2, wrongPart2))).data;
    const resent = (await json(await putPart(upload, 2, part2))).data;
    expect(resent.etag).not.toBe(garbled.etag);

    // Resume: the listing says what arrived and where to carry on.
    const listing = (await json(await status(upload))).data;
    expect(listing).toMatchObject({ videoId: upload.videoId, state: 'open', partSize: PART, receivedParts: 2, receivedBytes: 2 * PART, nextPart: 3 });
    expect((await status(upload)).headers.get('cache-control')).toBe('no-store');
    expect(listing.parts).toEqual([
      { n: 1, size: PART, etag: expect.any(String) },
      { n: 2, size: PART, etag: resent.etag },
    ]);

    expect((await putPart(upload, 3, part3)).status).toBe(200);
    const done = await complete(upload);
    expect(done.status, await done.clone().text()).toBe(200);
    expect((await json(done)).data).toEqual({ videoId: upload.videoId, status: 'processing', size: 2 * PART + part3.length, parts: 3 });

    const stored = await storedSha256(upload.videoId);
    expect(stored).toEqual({ size: 2 * PART + part3.length, sha256: await sha256Bytes(part1, part2, part3) });
    const video = await videoOf(upload.videoId);
    expect(video).toMatchObject({ status: 'processing', size: 2 * PART + part3.length });

    // The token is spent: every use is refused, saying why.
    await problemOf(await putPart(upload, 4, part3), 410, 'upload-completed');
    await problemOf(await putPart(upload, 1, part1), 410, 'upload-completed');
    await problemOf(await status(upload), 410, 'upload-completed');
    await problemOf(await complete(upload), 410, 'upload-completed');
    await problemOf(await call(upload.path, { method: 'PUT', body: part3 }), 410, 'upload-completed');
    expect(await storedSha256(upload.videoId)).toEqual(stored);
   }, 60_000);

  it('one-shot PUT of a small file: stored whole, exact bytes, processing; then spent', async () => {
    const upload = await createUpload();
    const file = bytesOf(3 * MiB + 7, 42);
    const response = await call(upload.path, { method: 'PUT', body: file });
    expect(response.status, await response.clone().text()).toBe(200);
    expect((await json(response)).data).toEqual({ videoId: upload.videoId, status: 'processing', size: file.length, parts: 1 });
    expect(await storedSha256(upload.videoId)).toEqual({ size: file.length, sha256: await sha256Bytes(file) });
    await problemOf(await call(upload.path, { method: 'PUT', body: file }), 410, 'upload-completed');
  });

  it('refuses wrong part sizes, naming the part; complete needs parts 1…k', async () => {
    const upload = await createUpload();
    const full = bytesOf(PART, 5);
    const tooLong = await problemOf(await putPart(upload, 1, bytesOf(PART + 1, 5)), 400, 'wrong-part-size');
    expect(tooLong.detail).toContain('part 1');
    await problemOf(await putPart(upload, 1, new Uint8Array(0)), 400, 'empty-part');
    await problemOf(await putPart(upload, 0, full), 400, 'invalid-part-number');
    await problemOf(await putPart(upload, 1001, full), 400, 'invalid-part-number');
    await problemOf(await putPart(upload, 'x', full), 400, 'invalid-part-number');

    // A short part is the last: nothing may follow it, and it may not sit before a received part.
    expect((await putPart(upload, 1, bytesOf(MiB, 6))).status).toBe(200);
    const after = await problemOf(await putPart(upload, 2, full), 400, 'wrong-part-size');
    expect(after.detail).toContain('part 1');
    expect((await putPart(upload, 1, full)).status).toBe(200); // part 1 re-sent whole
    expect((await putPart(upload, 3, full)).status).toBe(200);
    const before = await problemOf(await putPart(upload, 2, bytesOf(MiB, 7)), 400, 'wrong-part-size');
    expect(before.detail).toContain('part 3');

    const missing = await problemOf(await complete(upload), 400, 'missing-part');
    expect(missing.detail).toContain('part 2');
    // A refused completion leaves the upload open: the missing part is sent, and it completes.
    expect((await putPart(upload, 2, full)).status).toBe(200);
    const done = await complete(upload);
    expect(done.status, await done.clone().text()).toBe(200);
    expect(await storedSha256(upload.videoId)).toEqual({ size: 3 * PART, sha256: await sha256Bytes(full, full, full) });
   }, 60_000);

  it('refuses empty uploads: a zero-byte one-shot, a complete without parts', async () => {
    const upload = await createUpload();
    await problemOf(await call(upload.path, { method: 'PUT', body: new Uint8Array(0) }), 400, 'empty-upload');
    await problemOf(await complete(upload), 400, 'empty-upload');
    expect((await videoOf(upload.videoId)).status).toBe('waiting');
    expect(await env.MEDIA.head(`videos/${upload.videoId}/source`)).toBeNull();
  });

  it('one-shot after parts is refused; a body without Content-Length is refused', async () => {
    const upload = await createUpload();
    expect((await putPart(upload, 1, bytesOf(MiB, 8))).status).toBe(200);
    await problemOf(await call(upload.path, { method: 'PUT', body: bytesOf(MiB, 8) }), 409, 'upload-in-parts');
    // A stream of unknown length (sent chunked); the edge refuses it without reading, so the writes may fail.
    const { readable: chunked, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    void writer.write(bytesOf(1024, 9)).catch(() => undefined);
    void writer.close().catch(() => undefined);
    await problemOf(await call(`${upload.path}/parts/2`, { method: 'PUT', body: chunked }), 411, 'length-required');
  });

  it('expired and unknown tokens are refused with a clear problem, the token masked in it', async () => {
    const upload = await createUpload();
    expect((await putPart(upload, 1, bytesOf(MiB, 1))).status).toBe(200);
    const { r2_upload_id: multipartId } = (await env.DB.prepare('SELECT r2_upload_id FROM video_uploads WHERE video_id = ?').bind(upload.videoId).first<{ r2_upload_id: string }>())!;
    await env.DB.prepare('UPDATE video_uploads SET expires_at = ? WHERE video_id = ?').bind(Date.now() - 1, upload.videoId).run();
    for (const response of [await status(upload), await putPart(upload, 1, bytesOf(MiB, 1)), await complete(upload), await call(upload.path, { method: 'PUT', body: bytesOf(10, 1) })]) {
      const body = await problemOf(response, 410, 'upload-expired');
      expect(JSON.stringify(body)).not.toContain(upload.token);
    }
    // The parts it held are let go: the multipart upload is aborted, the part records gone.
    await expect(env.MEDIA.resumeMultipartUpload(`videos/${upload.videoId}/source`, multipartId).uploadPart(2, bytesOf(10, 1))).rejects.toThrow();
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM video_upload_parts WHERE video_id = ?').bind(upload.videoId).first('n')).toBe(0);
    const unknown = { ...upload, path: `/uploads/${'A'.repeat(43)}` };
    await problemOf(await status(unknown), 404, 'upload-not-found');
    await problemOf(await putPart(unknown, 1, bytesOf(10, 1)), 404, 'upload-not-found');
    await problemOf(await complete({ ...upload, path: '/uploads/short' }), 404, 'upload-not-found');
  });

  it('each token writes only its own video; the token never reaches a log line', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    try {
      const a = await createUpload();
      const b = await createUpload();
      const fileA = bytesOf(2 * MiB, 11);
      const fileB = bytesOf(MiB + 5, 12);
      expect((await putPart(a, 1, fileA)).status).toBe(200);
      expect((await putPart(b, 1, fileB)).status).toBe(200);
      expect((await complete(b)).status).toBe(200);
      expect((await complete(a)).status).toBe(200);
      expect(await storedSha256(a.videoId)).toEqual({ size: fileA.length, sha256: await sha256Bytes(fileA) });
      expect(await storedSha256(b.videoId)).toEqual({ size: fileB.length, sha256: await sha256Bytes(fileB) });
      const listed = await env.MEDIA.list({ prefix: `videos/${a.videoId}/` });
      expect(listed.objects.map((o) => o.key)).toEqual([`videos/${a.videoId}/source`]);
      await problemOf(await putPart(a, 2, fileB), 410, 'upload-completed');
      expect(lines.some((line) => line.includes('video_upload_completed'))).toBe(true);
      for (const token of [a.token, b.token]) expect(lines.filter((line) => line.includes(token))).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('leaves the rest alone: /v1 keeps its 64 KiB limit and its tokens, webhooks work as before', async () => {
    await problemOf(await call('/v1/webhooks'), 401, 'unauthorized');
    expect((await api(ws, 'GET', '/webhooks')).status).toBe(200);
    const big = { url: 'https://example.com/hook', description: 'x'.repeat(70 * 1024) };
    await problemOf(await api(ws, 'POST', '/webhooks', big), 413, 'body-too-large');
    const created = await api(ws, 'POST', '/webhooks', { url: 'https://example.com/hook' });
    expect(created.status, await created.clone().text()).toBe(201);
  });
});

describe('upload rules (pure)', () => {
  const plan = { partSize: PART, maxParts: 1000 };

  it('plans parts within the configured maximum', () => {
    expect(planUpload(undefined, 100 * MiB)).toEqual({ ok: true, plan: { partSize: PART, maxParts: 6 } });
    const planned = planUpload(100 * MiB, 100 * MiB);
    expect(planned.ok && planned.plan.partSize * planned.plan.maxParts).toBeGreaterThanOrEqual(100 * MiB);
    expect(planned.ok && planned.plan.partSize * planned.plan.maxParts).toBeLessThanOrEqual(100 * MiB);
    for (const size of [1, 15 * 1024 * MiB, 16 * 1024 * MiB + 1, 19 * 1024 * MiB + 12345, 20 * 1024 * MiB]) {
      const p = planUpload(size, DEFAULT_MAX_UPLOAD_BYTES);
      expect(p.ok, String(size)).toBe(true);
      if (!p.ok) continue;
      expect(p.plan.partSize * p.plan.maxParts).toBeGreaterThanOrEqual(size);
      expect(p.plan.partSize * p.plan.maxParts).toBeLessThanOrEqual(DEFAULT_MAX_UPLOAD_BYTES);
      expect(p.plan.partSize).toBeLessThanOrEqual(64 * MiB);
      expect(p.plan.maxParts).toBeLessThanOrEqual(1000);
    }
  });

  it('bounds the total and judges completions', () => {
    const received = [{ n: 1, size: PART, etag: 'a' }];
    expect(judgePart(2, PART, plan, received, PART + 10)?.type).toBe('upload-too-large');
    expect(judgePart(2, 10, plan, received, PART + 10)).toBeNull();
    expect(judgePart(1, PART, plan, received, PART)).toBeNull(); // its own earlier copy does not count
    expect(judgeCompletion([{ n: 2, size: 5, etag: 'b' }, ...received], plan)).toEqual({ ok: true, parts: [...received, { n: 2, size: 5, etag: 'b' }], size: PART + 5 });
    const short = judgeCompletion([{ n: 1, size: 5, etag: 'a' }, { n: 2, size: PART, etag: 'b' }], plan);
    expect(!short.ok && short.refusal.detail).toContain('part 1');
  });

  it('requires a Content-Length within the limit', () => {
    expect(() => declaredLength(undefined, 10, 'part 1')).toThrow(/Content-Length/);
    expect(() => declaredLength('11', 10, 'part 1')).toThrow(/at most 10/);
    expect(() => declaredLength('1e3', 10_000, 'part 1')).toThrow(/whole number/);
    expect(declaredLength('10', 10, 'part 1')).toBe(10);
  });
});

describe('upload URL under concurrency and drops', () => {
  it('parts sent at once share one multipart upload; a dropped part is sent again', async () => {
    const upload = await createUpload();
    const parts = [bytesOf(PART, 21), bytesOf(PART, 22), bytesOf(2 * MiB, 23)];
    const answers = await Promise.all(parts.map((bytes, i) => putPart(upload, i + 1, bytes)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);

    // Part 2 again, cut off half-way: refused as not stored, the earlier copy still listed, then sent whole.
    const { readable, writable } = new FixedLengthStream(PART);
    const writer = writable.getWriter();
    void writer.write(bytesOf(PART / 2, 24)).then(() => writer.abort(new Error('connection dropped'))).catch(() => undefined);
    const dropped = await call(`${upload.path}/parts/2`, { method: 'PUT', body: readable });
    await problemOf(dropped, 502, 'part-not-stored');
    const listing = (await json(await status(upload))).data;
    expect(listing.parts.map((p: { n: number }) => p.n)).toEqual([1, 2, 3]);
    expect((await putPart(upload, 2, parts[1]!)).status).toBe(200);

    const done = await complete(upload);
    expect(done.status, await done.clone().text()).toBe(200);
    expect(await storedSha256(upload.videoId)).toEqual({ size: 2 * PART + 2 * MiB, sha256: await sha256Bytes(...parts) });
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM video_upload_parts WHERE video_id = ?').bind(upload.videoId).first('n')).toBe(0);
  }, 60_000);
});

describe('upload URL deadline (the video object alarm)', () => {
  const videoStub = (videoId: string) => env.VIDEOS.get(env.VIDEOS.idFromName(videoId));
  const deadlineOf = (videoId: string) =>
    runInDurableObject(videoStub(videoId), (_o, state) => state.storage.sql.exec('SELECT expires_at FROM upload_deadline').toArray().length);

  it('an upload not completed by its expiry fails the video (errored webhook), aborts its multipart and drops its parts; the token stays 410', async () => {
    const upload = await createUpload();
    expect((await putPart(upload, 1, bytesOf(PART, 31))).status).toBe(200);
    expect((await videoOf(upload.videoId)).status).toBe('uploading');
    const { r2_upload_id: multipartId } = (await env.DB.prepare('SELECT r2_upload_id FROM video_uploads WHERE video_id = ?').bind(upload.videoId).first<{ r2_upload_id: string }>())!;
    // Armed at creation for the URL's expiry (nothing else is owed).
    expect(await runInDurableObject(videoStub(upload.videoId), (_o, state) => state.storage.getAlarm())).toBe(Date.parse(upload.expiresAt));

    // The alarm is the expiry reached (it runs for its scheduled time).
    expect(await runDurableObjectAlarm(videoStub(upload.videoId))).toBe(true);
    const video = await videoOf(upload.videoId);
    expect(video).toMatchObject({ status: 'failed', error: UPLOAD_EXPIRED_REASON });
    expect(await deadlineOf(upload.videoId)).toBe(0);
    const errored = await until(
      () => env.DB.prepare('SELECT type, body FROM webhook_events WHERE stream_id = ? ORDER BY sequence').bind(upload.videoId).all<{ type: string; body: string }>(),
      (r) => r.results.length >= 2,
      'the errored webhook',
    );
    expect(errored.results.map((r) => r.type)).toEqual(['video.asset.created', 'video.asset.errored']);
    expect(JSON.parse(errored.results[1]!.body)).toMatchObject({ videoId: upload.videoId, status: 'failed', reason: UPLOAD_EXPIRED_REASON, data: { error: UPLOAD_EXPIRED_REASON } });
    expect((await env.DB.prepare('SELECT status FROM videos WHERE id = ?').bind(upload.videoId).first('status'))).toBe('failed');

    // The owed effect lets go of the upload: the part records gone, the multipart upload aborted.
    await until(
      () => env.DB.prepare('SELECT r2_upload_id, (SELECT COUNT(*) FROM video_upload_parts WHERE video_id = ?) AS parts FROM video_uploads WHERE video_id = ?').bind(upload.videoId, upload.videoId).first<{ r2_upload_id: string | null; parts: number }>(),
      (row) => row?.r2_upload_id === null && row.parts === 0,
      'the upload let go of',
    );
    await expect(env.MEDIA.resumeMultipartUpload(`videos/${upload.videoId}/source`, multipartId).uploadPart(2, bytesOf(10, 1))).rejects.toThrow();
    expect(await env.MEDIA.head(`videos/${upload.videoId}/source`)).toBeNull();
    // Aborting it again (a retried effect that had aborted before it died) is taken as done, not retried for ever.
    const again = await env.MEDIA.resumeMultipartUpload(`videos/${upload.videoId}/source`, multipartId).abort().then(() => 'aborted', (error: unknown) => String(error));
    expect(again === 'aborted' || NO_SUCH_UPLOAD.test(again), again).toBe(true);
    await until(() => runInDurableObject(videoStub(upload.videoId), (_o, state) => state.storage.getAlarm()), (alarm) => alarm === null, 'no alarm left');

    // The token is refused as any expired one; a late completion cannot revive the video.
    for (const response of [await status(upload), await putPart(upload, 2, bytesOf(MiB, 2)), await complete(upload)]) {
      await problemOf(response, 410, 'upload-expired');
    }
    expect((await videoOf(upload.videoId)).status).toBe('failed');
  }, 60_000);

  it('a waiting upload (no part sent) fails at its expiry too; a completed one is past its deadline', async () => {
    const idle = await createUpload();
    expect(await runDurableObjectAlarm(videoStub(idle.videoId))).toBe(true);
    expect(await videoOf(idle.videoId)).toMatchObject({ status: 'failed', error: UPLOAD_EXPIRED_REASON });
    await problemOf(await status(idle), 410, 'upload-expired');

    const done = await createUpload();
    expect(await deadlineOf(done.videoId)).toBe(1);
    expect((await call(done.path, { method: 'PUT', body: bytesOf(MiB, 41) })).status).toBe(200);
    expect(await deadlineOf(done.videoId)).toBe(0);
    // Whatever alarm is left (its job's dispatch) leaves the video processing.
    await runDurableObjectAlarm(videoStub(done.videoId));
    expect((await videoOf(done.videoId)).status).toBe('processing');
  }, 60_000);
});
