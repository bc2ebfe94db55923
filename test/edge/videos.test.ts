// Issue 13 at the edge, the library core: a VideoObject's status machine (waiting → uploading/importing → processing →
// ready | failed), its webhooks numbered per video, its D1 index read back at once, and /v1/videos (list with keyset
// pagination and filters, get, PATCH, DELETE with its media) with every refusal. Videos are created and driven through
// the object's own RPC (what the upload and import routes and the job events call), inside workerd.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { api, call, createWorkspace, json, type Workspace } from './helpers.ts';
import { until } from './until.ts';
import { newVideo, videoJobEvent, videoStub } from './video-fixtures.ts';
import { newId, newPlaybackId } from '../../shared/identifiers.ts';
import type { CreateVideoInput, VideoObject } from '../../edge/video-object.ts';

// Webhook receivers are a stand-in at the network boundary (globalThis.fetch): every delivery is taken.
let receiver: MockInstance<typeof fetch>;
beforeAll(() => {
  receiver = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(null, { status: 204 }));
});
afterAll(() => receiver.mockRestore());

let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('videos');
  other = await createWorkspace('videos-other');
});

const stub = videoStub;
const jobEvent = videoJobEvent;
const MEDIA_INFO = {
  duration: 60,
  size: 5_000_000,
  bitrate: 650_000,
  video: { codec: 'h264', width: 1280, height: 720, fps: 30, profile: 'High' },
  audio: { codec: 'aac', sampleRate: 48000, channels: 2 },
};
const readyEvent = (videoId: string) =>
  jobEvent(videoId, 'video_ready', { duration: 60, size: 5_000_000, mediaInfo: MEDIA_INFO, renditions: ['720p', '480p', '360p'] });

const getVideo = async (videoId: string, workspace: Workspace = ws) => (await json(await api(workspace, 'GET', `/videos/${videoId}`))).data;

/** The webhook events the Queue consumer recorded for a video, once `count` of them are there (the Queue is async). */
async function webhooksOf(videoId: string, count: number) {
  let rows: { body: string }[] = [];
  for (let i = 0; i < 50 && rows.length < count; i++) {
    rows = (await env.DB.prepare('SELECT body FROM webhook_events WHERE stream_id = ? ORDER BY sequence').bind(videoId).all<{ body: string }>()).results;
    if (rows.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return rows.map((r) => JSON.parse(r.body));
}

describe('the status machine in the VideoObject', () => {
  it('an upload: waiting → uploading → processing (progress) → ready, with media info and absolute URLs', async () => {
    const { videoId, playbackId } = await newVideo(ws, { title: 'Keynote', metadata: { team: 'launch' } });
    const waiting = await getVideo(videoId);
    expect(waiting).toMatchObject({
      videoId,
      title: 'Keynote',
      status: 'waiting',
      source: 'upload',
      progress: null,
      error: null,
      hlsUrl: null,
      mp4Url: null,
      thumbnailUrl: null,
      readyAt: null,
      metadata: { team: 'launch' },
      playbackIds: [{ id: playbackId, accessPolicy: 'public' }],
      streamId: null,
      recordingId: null,
      clipId: null,
    });

    expect(await stub(videoId).uploadStarted()).toMatchObject({ ok: true, video: { status: 'uploading' } });
    expect((await stub(videoId).uploadStarted()).ok).toBe(true); // every part says it: no change, no refusal
    expect(await stub(videoId).uploadCompleted({ size: 5_000_000 })).toMatchObject({ ok: true, video: { status: 'processing', progress: 0, size: 5_000_000 } });

    // Job events as the jobs module hands them on once it checked their origin (edge/video/video-jobs.ts, tested there).
    const progress = await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_progress', { phase: 'processing', progress: 42.25 })]);
    expect(progress).toEqual([expect.objectContaining({ outcome: 'applied' })]);
    expect(await getVideo(videoId)).toMatchObject({ status: 'processing', progress: 42.3 });

    const ready = readyEvent(videoId);
    expect((await stub(videoId).applyVideoEvents([ready]))[0]!.outcome).toBe('applied');
    // The same report again (an origin's outbox resending) changes nothing.
    expect((await stub(videoId).applyVideoEvents([ready]))[0]!.outcome).toBe('duplicate');
    const video = await getVideo(videoId);
    expect(video).toMatchObject({
      status: 'ready',
      progress: 100,
      duration: 60,
      size: 5_000_000,
      mediaInfo: MEDIA_INFO,
      hlsUrl: `http://edge.test/hls/${playbackId}/master.m3u8`,
      mp4Url: `http://edge.test/hls/${playbackId}/video.mp4`,
      thumbnailUrl: `http://edge.test/hls/${playbackId}/thumbnail.jpg`,
    });
    expect(Date.parse(video.readyAt)).toBeGreaterThanOrEqual(Date.parse(video.createdAt));
    // Absolute on the host called: another host name gives URLs on it.
    const elsewhere = await call(`/v1/videos/${videoId}`, { headers: { authorization: ws.auth, host: 'media.example.com' } });
    expect(new URL((await json(elsewhere)).data.hlsUrl).pathname).toBe(`/hls/${playbackId}/master.m3u8`);

    // The playback ID plays from the video's HLS prefix once ready (the /hls route reads it from D1).
    const row = await env.DB.prepare('SELECT * FROM playback_ids WHERE id = ?').bind(playbackId).first();
    expect(row).toMatchObject({ kind: 'video', target_id: videoId, stream_id: videoId, workspace_id: ws.id, media_prefix: `videos/${videoId}/hls` });
  });

  it('an import: importing (progress) → processing → failed with the reason; late reports refused', async () => {
    const { videoId } = await newVideo(ws, { source: 'import', sourceUrl: 'https://example.com/a.mp4?X-Amz-Signature=secret' });
    expect(await stub(videoId).importStarted()).toMatchObject({ ok: true, video: { status: 'importing', progress: 0 } });
    expect(JSON.stringify(await getVideo(videoId))).not.toContain('X-Amz-Signature'); // a presigned URL is a credential
    await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_progress', { phase: 'importing', progress: 55 })]);
    expect(await getVideo(videoId)).toMatchObject({ status: 'importing', progress: 55 });
    // The import job goes on to process what it fetched.
    await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_progress', { phase: 'processing', progress: 3 })]);
    expect(await getVideo(videoId)).toMatchObject({ status: 'processing', progress: 3 });

    const [failed] = await stub(videoId).applyVideoEvents([
      jobEvent(videoId, 'video_failed', { reason: 'ffprobe: moov atom not found (not a video file)', permanent: true }),
    ]);
    expect(failed!.outcome).toBe('applied');
    expect(await getVideo(videoId)).toMatchObject({ status: 'failed', error: 'ffprobe: moov atom not found (not a video file)', hlsUrl: null });

    // Nothing moves a failed video: neither a late progress report, nor a late ready.
    const late = await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_progress', { phase: 'processing', progress: 80 }), readyEvent(videoId)]);
    expect(late.map((o) => o.outcome)).toEqual(['refused', 'refused']);
    expect(late[1]!.reason).toMatch(/failed/);
    expect(await getVideo(videoId)).toMatchObject({ status: 'failed', progress: 3 });
  });

  it('refuses inputs that do not fit the status or the source (409 video-state-conflict)', async () => {
    const upload = await newVideo(ws);
    expect(await stub(upload.videoId).importStarted()).toMatchObject({ ok: false, code: 'refused', httpStatus: 409, type: 'video-state-conflict' });
    // A progress report before any job ran, and a ready one, are refused while waiting.
    const early = await stub(upload.videoId).applyVideoEvents([jobEvent(upload.videoId, 'video_progress', { phase: 'processing', progress: 1 }), readyEvent(upload.videoId)]);
    expect(early.map((o) => o.outcome)).toEqual(['refused', 'refused']);
    await stub(upload.videoId).uploadCompleted({ size: 10 });
    await stub(upload.videoId).applyVideoEvents([readyEvent(upload.videoId)]);
    const again = await stub(upload.videoId).uploadStarted();
    expect(again).toMatchObject({ ok: false, code: 'refused', httpStatus: 409 });
    expect(again.ok ? '' : 'detail' in again ? again.detail : '').toMatch(/ready/);
    expect(await stub(upload.videoId).uploadCompleted({ size: 10 })).toMatchObject({ ok: false, httpStatus: 409 });

    const imported = await newVideo(ws, { source: 'import', sourceUrl: 'https://example.com/b.mp4' });
    expect(await stub(imported.videoId).uploadStarted()).toMatchObject({ ok: false, code: 'refused', httpStatus: 409 });
    await stub(imported.videoId).importStarted();
    expect((await stub(imported.videoId).importStarted()).ok).toBe(true); // a repeated start changes nothing
    // A report about the other video, sent to this one, is refused.
    expect((await stub(imported.videoId).applyVideoEvents([jobEvent(upload.videoId, 'video_progress', { phase: 'importing', progress: 9 })]))[0]!.outcome).toBe('refused');
    // Created twice: the second is refused, the first untouched.
    expect(await stub(imported.videoId).create({ ...imported, title: 'again' })).toMatchObject({ ok: false, code: 'refused', type: 'video-exists' });
    expect(await getVideo(imported.videoId)).toMatchObject({ status: 'importing', title: null });
  });

  it('a video of another workspace is not found through the object either', async () => {
    const { videoId } = await newVideo(ws);
    expect(await stub(videoId).get(other.id)).toEqual({ ok: false, code: 'not_found' });
    expect(await stub(videoId).update(other.id, { title: 'x' })).toEqual({ ok: false, code: 'not_found' });
    expect(await stub(videoId).delete(other.id)).toEqual({ ok: false, code: 'not_found' });
    expect((await stub(newId('vid', 16)).get(ws.id)).ok).toBe(false);
  });
});

describe('webhooks', () => {
  it('created, ready, deleted: in order, numbered 1, 2, 3 for the video, each a complete envelope', async () => {
    const { videoId } = await newVideo(ws, { title: 'hooks' });
    await stub(videoId).uploadCompleted({ size: 1000 });
    await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_progress', { phase: 'processing', progress: 50 }), readyEvent(videoId)]);
    expect((await api(ws, 'DELETE', `/videos/${videoId}`)).status).toBe(204);
    const received = await webhooksOf(videoId, 3);
    expect(received.map((e) => e.type)).toEqual(['video.asset.created', 'video.asset.ready', 'video.asset.deleted']);
    expect(received.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(new Set(received.map((e) => e.id)).size).toBe(3);
    for (const event of received) {
      expect(event).toMatchObject({ event: 'VIDEO_ASSET', workspaceId: ws.id, streamId: videoId, videoId, sessionId: null, subject: null });
      expect(event.data.videoId).toBe(videoId);
    }
    expect(received.map((e) => e.status)).toEqual(['waiting', 'ready', 'ready']);
    expect(received[1].data).toMatchObject({ status: 'ready', duration: 60, hlsUrl: expect.stringMatching(/^\/hls\/.+\/master\.m3u8$/) });
  });

  it('errored carries the reason; an endpoint filtering on video.asset.* is accepted', async () => {
    const endpoint = await api(ws, 'POST', '/webhooks', { url: 'https://example.com/hooks', eventTypes: ['video.asset.ready', 'video.asset.errored'] });
    expect(endpoint.status).toBe(201);
    const { videoId } = await newVideo(ws, { source: 'import', sourceUrl: 'https://example.com/c.mp4' });
    await stub(videoId).importStarted();
    await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_failed', { reason: 'source answered 404', permanent: true })]);
    const received = await webhooksOf(videoId, 2);
    expect(received.map((e) => [e.type, e.sequence, e.status, e.reason])).toEqual([
      ['video.asset.created', 1, 'waiting', null],
      ['video.asset.errored', 2, 'failed', 'source answered 404'],
    ]);
    expect(received[1].data.error).toBe('source answered 404');
    // The endpoint asked for errored: it got a delivery of it, and none of created.
    const deliveries = await until(
      () => env.DB.prepare('SELECT event_type FROM webhook_deliveries WHERE event_id IN (SELECT id FROM webhook_events WHERE stream_id = ?)').bind(videoId).all<{ event_type: string }>(),
      (r) => r.results.length >= 1,
      'the errored delivery',
    );
    expect(deliveries.results.map((d) => d.event_type)).toEqual(['video.asset.errored']);
  });

  it('a webhook the Queue refused stays owed and is sent by the alarm (crash-safe outbox)', async () => {
    const videoId = newId('vid', 16);
    const input: CreateVideoInput = { videoId, workspaceId: ws.id, source: 'upload', title: null, metadata: {}, playbackId: newPlaybackId(), accessPolicy: 'public' };
    // The Queue is down for this object while it creates the video.
    await runInDurableObject(stub(videoId), async (instance) => {
      const object = instance as unknown as VideoObject;
      const real = (object as unknown as { env: typeof env }).env;
      (object as unknown as { env: typeof env }).env = { ...real, WEBHOOKS: { sendBatch: async () => { throw new Error('queue unavailable'); } } as unknown as typeof env.WEBHOOKS };
      try {
        expect((await object.create(input)).ok).toBe(true);
      } finally {
        (object as unknown as { env: typeof env }).env = real;
      }
    });
    const owed = await runInDurableObject(stub(videoId), (_o, state) => ({
      outbox: state.storage.sql.exec('SELECT sequence FROM webhook_outbox').toArray().length,
      pending: state.storage.sql.exec('SELECT key FROM pending_effects').toArray().map((r) => r.key),
    }));
    expect(owed).toEqual({ outbox: 1, pending: ['webhook_flush'] });
    expect(await runInDurableObject(stub(videoId), (_o, state) => state.storage.getAlarm())).not.toBeNull();
    expect(await runDurableObjectAlarm(stub(videoId))).toBe(true);
    const received = await webhooksOf(videoId, 1);
    expect(received.map((e) => [e.type, e.sequence])).toEqual([['video.asset.created', 1]]);
    expect(await runInDurableObject(stub(videoId), (_o, state) => state.storage.sql.exec('SELECT 1 FROM webhook_outbox').toArray().length)).toBe(0);
  });
});

describe('/v1/videos', () => {
  it('lists newest first with keyset pagination; the index follows every status change at once', async () => {
    const mine = await createWorkspace('videos-list');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await newVideo(mine, { title: `v${i}` })).videoId);
      await new Promise((r) => setTimeout(r, 3)); // distinct createdAt
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await json(await api(mine, 'GET', `/videos?limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((v: any) => v.videoId));
      cursor = page.pagination.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...created].reverse());
    expect(pages).toBe(3);

    // Read your writes: a status change is in the index when its call returns, filters included.
    await stub(created[1]!).uploadCompleted({ size: 1 });
    const processing = await json(await api(mine, 'GET', '/videos?status=processing'));
    expect(processing.data.map((v: any) => v.videoId)).toEqual([created[1]]);
    expect(processing.data[0].status).toBe('processing');
    await stub(created[1]!).applyVideoEvents([readyEvent(created[1]!)]);
    expect((await json(await api(mine, 'GET', '/videos?status=processing'))).data).toEqual([]);
    expect((await json(await api(mine, 'GET', '/videos?status=ready'))).data.map((v: any) => v.videoId)).toEqual([created[1]]);
    // An absolute URL in a listed video too.
    expect((await json(await api(mine, 'GET', '/videos?status=ready'))).data[0].hlsUrl).toMatch(/^http:\/\/edge\.test\/hls\//);
  });

  it('filters by source; another workspace lists none of them', async () => {
    const mine = await createWorkspace('videos-source');
    const upload = await newVideo(mine);
    const imported = await newVideo(mine, { source: 'import', sourceUrl: 'https://example.com/d.mp4' });
    expect((await json(await api(mine, 'GET', '/videos?source=import'))).data.map((v: any) => v.videoId)).toEqual([imported.videoId]);
    expect((await json(await api(mine, 'GET', '/videos?source=upload'))).data.map((v: any) => v.videoId)).toEqual([upload.videoId]);
    expect((await json(await api(mine, 'GET', '/videos?source=import&status=waiting'))).data).toHaveLength(1);
    expect((await json(await api(mine, 'GET', '/videos?source=recording'))).data).toEqual([]);
    const theirs = (await json(await api(other, 'GET', '/videos?limit=100'))).data.map((v: any) => v.videoId);
    expect(theirs).not.toContain(upload.videoId);
    expect(theirs).not.toContain(imported.videoId);
  });

  it('refuses bad list queries naming the field', async () => {
    for (const [query, field] of [
      ['status=done', 'status'],
      ['source=camera', 'source'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['colour=red', 'colour'],
    ] as const) {
      const response = await api(ws, 'GET', `/videos?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const problem = await json(response);
      expect(JSON.stringify(problem.errors ?? []), query).toContain(field);
    }
  });

  it('PATCH changes title and metadata (null clears the title) and refuses bad bodies', async () => {
    const { videoId } = await newVideo(ws, { title: 'before', metadata: { a: '1' } });
    const patched = await api(ws, 'PATCH', `/videos/${videoId}`, { title: 'after', metadata: { b: '2' } });
    expect(patched.status).toBe(200);
    expect((await json(patched)).data).toMatchObject({ videoId, title: 'after', metadata: { b: '2' } });
    expect(await getVideo(videoId)).toMatchObject({ title: 'after', metadata: { b: '2' } });
    expect(await env.DB.prepare('SELECT title FROM videos WHERE id = ?').bind(videoId).first('title')).toBe('after');
    expect((await json(await api(ws, 'PATCH', `/videos/${videoId}`, { title: null }))).data.title).toBeNull();

    for (const [body, field] of [
      [{}, ''],
      [{ title: '' }, 'title'],
      [{ title: 'x'.repeat(201) }, 'title'],
      [{ metadata: 'nope' }, 'metadata'],
      [{ status: 'ready' }, 'status'],
    ] as const) {
      const response = await api(ws, 'PATCH', `/videos/${videoId}`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      if (field) expect(JSON.stringify((await json(response)).errors), JSON.stringify(body)).toContain(field);
    }
    const notJson = await call(`/v1/videos/${videoId}`, { method: 'PATCH', headers: { authorization: ws.auth, 'content-type': 'application/json' }, body: '{"title":' });
    expect(notJson.status).toBe(400);
  });

  it("another workspace's video is a 404 like a missing one, for every route", async () => {
    const { videoId } = await newVideo(ws);
    const missing = newId('vid', 16);
    for (const id of [videoId, missing]) {
      for (const [method, body] of [['GET', undefined], ['PATCH', { title: 'x' }], ['DELETE', undefined]] as const) {
        const response = await api(id === videoId ? other : ws, method, `/videos/${id}`, body);
        expect(response.status, `${method} ${id}`).toBe(404);
        expect((await json(response)).type).toBe('https://riverhead.dev/problems/not-found');
      }
    }
    expect((await getVideo(videoId)).title).toBeNull(); // untouched by the other workspace's PATCH
  });

  it('is in the OpenAPI document with stable operationIds', async () => {
    const doc = await json(await call('/v1/openapi.json'));
    expect(doc.paths['/v1/videos'].get.operationId).toBe('list-videos');
    expect(doc.paths['/v1/videos/{videoId}'].get.operationId).toBe('get-video');
    expect(doc.paths['/v1/videos/{videoId}'].patch.operationId).toBe('update-video');
    expect(doc.paths['/v1/videos/{videoId}'].delete.operationId).toBe('delete-video');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Video', 'VideoStatus', 'UpdateVideoRequest']));
  });

  it('needs an access token', async () => {
    const { videoId } = await newVideo(ws);
    for (const [method, path] of [['GET', '/v1/videos'], ['GET', `/v1/videos/${videoId}`], ['PATCH', `/v1/videos/${videoId}`], ['DELETE', `/v1/videos/${videoId}`]]) {
      expect((await call(path!, { method })).status, `${method} ${path}`).toBe(401);
    }
  });

  it('DELETE (204): gone from the API, the index and playback at once, its R2 prefix deleted, nothing of another video touched', async () => {
    const { videoId, playbackId } = await newVideo(ws);
    const kept = await newVideo(ws);
    await stub(videoId).uploadCompleted({ size: 3 });
    await stub(videoId).applyVideoEvents([readyEvent(videoId)]);
    const keys = ['source', 'hls/master.m3u8', 'hls/720p/index.m3u8', 'hls/720p/seg-00000.ts', 'video.mp4', 'thumbnail.jpg'].map((k) => `videos/${videoId}/${k}`);
    for (const key of keys) await env.MEDIA.put(key, 'bytes');
    await env.MEDIA.put(`videos/${kept.videoId}/source`, 'kept');
    // A neighbour whose id starts with this one's must survive (the prefix ends with a slash).
    await env.MEDIA.put(`videos/${videoId}x/source`, 'neighbour');

    const response = await api(ws, 'DELETE', `/videos/${videoId}`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect((await api(ws, 'GET', `/videos/${videoId}`)).status).toBe(404);
    expect((await json(await api(ws, 'GET', '/videos?limit=100'))).data.map((v: any) => v.videoId)).not.toContain(videoId);
    expect(await env.DB.prepare('SELECT 1 FROM videos WHERE id = ?').bind(videoId).first()).toBeNull();
    expect(await env.DB.prepare('SELECT 1 FROM playback_ids WHERE id = ?').bind(playbackId).first()).toBeNull();
    expect((await call(`/hls/${playbackId}/master.m3u8`)).status).toBe(404);

    const left = await until(() => env.MEDIA.list({ prefix: `videos/${videoId}/` }), (l) => l.objects.length === 0, 'the R2 prefix deleted');
    expect(left.objects).toEqual([]);
    expect(await env.MEDIA.get(`videos/${kept.videoId}/source`)).not.toBeNull();
    expect(await env.MEDIA.get(`videos/${videoId}x/source`)).not.toBeNull();
    expect((await api(ws, 'GET', `/videos/${kept.videoId}`)).status).toBe(200);

    // Deleted is deleted: again → 404, and the job's late word is refused.
    expect((await api(ws, 'DELETE', `/videos/${videoId}`)).status).toBe(404);
    expect((await stub(videoId).applyVideoEvents([jobEvent(videoId, 'video_failed', { reason: 'late', permanent: true })]))[0]!.outcome).toBe('refused');
  });

  it('deleting a video while it processes stops owing its job and leaves no alarm behind once its effects are done', async () => {
    const { videoId } = await newVideo(ws);
    await stub(videoId).uploadCompleted({ size: 3 });
    expect((await api(ws, 'DELETE', `/videos/${videoId}`)).status).toBe(204);
    const pending = await until(
      () => runInDurableObject(stub(videoId), (_o, state) => state.storage.sql.exec<{ key: string }>('SELECT key FROM pending_effects').toArray().map((r) => r.key)),
      (keys) => keys.length === 0,
      'no owed effects',
    );
    expect(pending).toEqual([]);
    expect(await runInDurableObject(stub(videoId), (_o, state) => state.storage.getAlarm())).toBeNull();
  });
});
