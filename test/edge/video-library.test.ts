// Issue 13 at the edge: recordings and clips in the video library (no media copied: their own playback IDs and URLs),
// kept by a stream's deletion unless ?deleteMedia=true (a kept recording still plays and still obeys retention), and
// /hls playback of library videos (kind 'video', media under videos/{videoId}/). The origins' control ports are a
// stand-in at the network boundary (globalThis.fetch): clip jobs are taken, anything else finds no origin there.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { standInClipsOnlyOrigins } from './control-ports.ts';
import { env } from 'cloudflare:workers';
import { SignJWT, importPKCS8 } from 'jose';
import { api, authorize, call, createStream, createWorkspace, json, originEvent, sendEvents, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';
import { setRecordingRetention, sweepExpiredRecordings } from '../../edge/retention.ts';
import { libraryVideoId } from '../../edge/video/library-rows.ts';

standInClipsOnlyOrigins();

let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('video-library');
  other = await createWorkspace('video-library-other');
});

const STATS = {
  sourceSegments: 10, transcodedSegments: 20, sourceSegmentsDuration: 20, transcodedSegmentsDuration: 40,
  sourceBytes: 100_000, transcodedBytes: 200_000, ingestRate: 50_000, outgoingRate: 100_000, isHealthy: true, issues: null,
};

/** A recorded broadcast live on the test origin (heard, so a clip goes to it), with durable media in R2. */
async function liveRecorded(workspace: Workspace = ws) {
  const stream = await createStream(workspace, { record: true, reconnectWindow: 30 });
  const grant = await json(await authorize(stream.streamKey));
  const sessionId = grant.sessionId as string;
  await sendHeartbeat(ORIGIN.originId, [{ streamId: stream.streamId, sessionId }]);
  await sendEvents([originEvent(stream.streamId, sessionId, 'recording_started'), originEvent(stream.streamId, sessionId, 'stats', STATS)]);
  await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/master.m3u8`, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n480p/index.m3u8\n');
  await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/480p/index.m3u8`, '#EXTM3U\n#EXTINF:2.0,\na1b2c3-00000.ts\n');
  await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/480p/a1b2c3-00000.ts`, 'segment bytes');
  const recordingId = `rec_${sessionId.replace(/^ses_/, '')}`;
  return { streamId: stream.streamId as string, streamKey: stream.streamKey as string, sessionId, recordingId, videoId: libraryVideoId(recordingId) };
}

/** Completed and watchable (the finalize reaches no origin, so what R2 holds is the recording at once). */
async function watchableRecording(workspace: Workspace = ws) {
  const b = await liveRecorded(workspace);
  await api(workspace, 'POST', `/live/streams/${b.streamId}/complete`);
  await vi.waitFor(async () => expect((await json(await api(workspace, 'GET', `/recordings/${b.recordingId}`))).data.watchable).toBe(true));
  const recording = (await json(await api(workspace, 'GET', `/recordings/${b.recordingId}`))).data;
  return { ...b, recording };
}

const getVideo = (videoId: string, workspace: Workspace = ws) => api(workspace, 'GET', `/videos/${videoId}`);
const videoRow = (videoId: string) => env.DB.prepare('SELECT * FROM videos WHERE id = ?').bind(videoId).first<Record<string, unknown>>();
/** A playback request; the cache is keyed by URL, so a `?n=` keeps one test's answers from another's. */
const play = (path: string, init: RequestInit = {}) => call(`/hls/${path}`, init);
/** A media body as text (these test bodies are ASCII), read as bytes: workerd warns on .text() of a video type. */
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());

/** A clip cut by the test origin and reported ready, its media in R2 as a clip job leaves it. */
async function readyClip(b: { streamId: string; sessionId: string }) {
  const created = await api(ws, 'POST', `/live/streams/${b.streamId}/clips`, { startTime: 2, endTime: 8 });
  expect(created.status).toBe(202);
  const clip = (await json(created)).data;
  const videoId = libraryVideoId(clip.id);
  expect(await videoRow(videoId)).toBeNull(); // processing: not in the library yet
  await env.MEDIA.put(`clips/${clip.id}/hls/master.m3u8`, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n480p/index.m3u8\n');
  await env.MEDIA.put(`clips/${clip.id}/clip.mp4`, 'clip mp4 bytes', { httpMetadata: { contentType: 'video/mp4' } });
  const ready = { clipId: clip.id, duration: 6, actualStart: 2, actualEnd: 8, size: 14, hlsPrefix: `clips/${clip.id}/hls`, mp4Key: `clips/${clip.id}/clip.mp4` };
  expect((await json(await sendEvents([originEvent(b.streamId, b.sessionId, 'clip_ready', ready)]))).results[0].outcome).toBe('applied');
  return { clip, videoId };
}

describe('recordings in the library', () => {
  it('a recording is a video once watchable: source recording, its own playback ID and URLs, answered from its stream', async () => {
    const b = await liveRecorded();
    expect(await videoRow(b.videoId)).toBeNull(); // recording, not yet watchable
    expect((await getVideo(b.videoId)).status).toBe(404);
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
    const recording = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(await videoRow(b.videoId)).toMatchObject({ workspace_id: ws.id, source: 'recording', status: 'ready', stream_id: b.streamId, recording_id: b.recordingId, clip_id: null });
    const video = (await json(await getVideo(b.videoId))).data;
    expect(video).toMatchObject({
      videoId: b.videoId, source: 'recording', status: 'ready', error: null, progress: 100, title: null, metadata: {},
      streamId: b.streamId, recordingId: b.recordingId, clipId: null, createdAt: recording.time, readyAt: recording.sourceReadyAt,
      playbackIds: [{ id: recording.playbackId, accessPolicy: 'public' }],
      hlsUrl: `http://edge.test/hls/${recording.playbackId}/master.m3u8`,
      mp4Url: null, // its MP4 export has not landed yet
    });
    // No media copied: the video's URL is the recording's, and it plays.
    const master = await call(new URL(video.hlsUrl).pathname);
    expect(master.status).toBe(200);
    expect(await text(master)).toContain('480p/index.m3u8');
    expect((await getVideo(b.videoId, other)).status).toBe(404);
    const listed = (await json(await api(ws, 'GET', '/videos?source=recording&limit=100'))).data;
    expect(listed.map((v: any) => v.videoId)).toContain(b.videoId);
    expect((await json(await api(ws, 'GET', '/videos?source=clip&limit=100'))).data.map((v: any) => v.videoId)).not.toContain(b.videoId);
  });

  it('PATCH sets title and metadata on its row; the recording\'s later changes (its MP4 export) keep them', async () => {
    const b = await watchableRecording();
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
    const patched = await api(ws, 'PATCH', `/videos/${b.videoId}`, { title: 'Keynote', metadata: { room: 'A' } });
    expect(patched.status).toBe(200);
    expect((await json(patched)).data).toMatchObject({ title: 'Keynote', metadata: { room: 'A' }, source: 'recording', status: 'ready' });
    expect(await videoRow(b.videoId)).toMatchObject({ title: 'Keynote', metadata: JSON.stringify({ room: 'A' }) });
    expect((await api(other, 'PATCH', `/videos/${b.videoId}`, { title: 'x' })).status).toBe(404);
    // The export lands (the session's origin took it while queued): the recording is indexed again, the title stays.
    const artifacts = {
      duration: 20.1, size: 1_234_567,
      mediaInfo: { duration: 20.1, size: 1_234_567, bitrate: 490_000, video: { codec: 'h264', width: 1280, height: 720, fps: 30, profile: 'High' }, audio: null },
      hlsPrefix: `recordings/${b.recordingId}/hls`, mp4Key: `recordings/${b.recordingId}/recording.mp4`, screenshotKey: `recordings/${b.recordingId}/screenshot.jpg`,
    };
    await env.MEDIA.put(`recordings/${b.recordingId}/recording.mp4`, 'mp4 bytes', { httpMetadata: { contentType: 'video/mp4' } });
    const done = await json(await sendEvents([originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts)]));
    expect(done.results[0].outcome).toBe('applied');
    const video = (await json(await getVideo(b.videoId))).data;
    expect(video).toMatchObject({
      title: 'Keynote', metadata: { room: 'A' }, duration: 20.1, size: 1_234_567, mediaInfo: artifacts.mediaInfo,
      mp4Url: `http://edge.test/hls/${b.recording.playbackId}/recording.mp4`,
      thumbnailUrl: `http://edge.test/hls/${b.recording.playbackId}/thumbnail.jpg`,
    });
    const ranged = await call(new URL(video.mp4Url).pathname, { headers: { range: 'bytes=0-2' } });
    expect(ranged.status).toBe(206);
    expect(await text(ranged)).toBe('mp4');
    expect((await api(ws, 'PATCH', `/videos/${b.videoId}`, { title: null })).status).toBe(200);
    expect((await json(await getVideo(b.videoId))).data).toMatchObject({ title: null, metadata: { room: 'A' } });
  });

  it('DELETE of the video deletes the recording (its own delete path): gone from both APIs and from playback', async () => {
    const b = await watchableRecording();
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
    await env.MEDIA.put(`recordings/${b.recordingId}/recording.mp4`, 'mp4 bytes');
    expect((await api(other, 'DELETE', `/videos/${b.videoId}`)).status).toBe(404);
    expect((await api(ws, 'DELETE', `/videos/${b.videoId}`)).status).toBe(204);
    expect((await getVideo(b.videoId)).status).toBe(404);
    expect((await api(ws, 'GET', `/recordings/${b.recordingId}`)).status).toBe(404);
    expect(await videoRow(b.videoId)).toBeNull();
    expect(await env.MEDIA.head(`recordings/${b.recordingId}/recording.mp4`)).toBeNull();
    expect((await play(`${b.recording.playbackId}/master.m3u8?n=deleted`)).status).toBe(404);
    expect((await api(ws, 'DELETE', `/videos/${b.videoId}`)).status).toBe(404);
  });
});

describe('recordings made before the library', () => {
  it('join it by the migration that adds it: watchable ones as ready videos, others not', async () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name === '0014_video_library_metadata.sql')!;
    const backfill = migration.queries.find((q) => /INSERT OR IGNORE INTO videos/.test(q))!;
    const suffix = crypto.randomUUID().replaceAll('-', '').slice(0, 12);
    const row = (id: string, watchable: number, cleaned: number) =>
      env.DB.prepare(
        `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at, watchable, exportable, cleaned)
         VALUES (?, ?, 'ls_old', 'ses_old', 'ready', '2026-01-02T03:04:05.000Z', '2026-01-02T03:04:05.000Z', ?, 0, ?)`,
      ).bind(id, other.id, watchable, cleaned);
    await env.DB.batch([row(`rec_w${suffix}`, 1, 0), row(`rec_p${suffix}`, 0, 0), row(`rec_c${suffix}`, 0, 1)]);
    await env.DB.prepare(backfill).run();
    await env.DB.prepare(backfill).run(); // twice changes nothing
    expect(await videoRow(`vid_w${suffix}`)).toMatchObject({
      workspace_id: other.id, source: 'recording', status: 'ready', created_at: '2026-01-02T03:04:05.000Z', stream_id: 'ls_old', recording_id: `rec_w${suffix}`, clip_id: null,
    });
    expect(await videoRow(`vid_p${suffix}`)).toBeNull();
    expect(await videoRow(`vid_c${suffix}`)).toBeNull();
  });
});

describe('deleting a stream', () => {
  it('keeps its recordings by default: still listed, still a video, still playing; the stream and its key are gone', async () => {
    const b = await watchableRecording();
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
    expect((await api(ws, 'DELETE', `/live/streams/${b.streamId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `/live/streams/${b.streamId}`)).status).toBe(404);
    expect((await authorize(b.streamKey)).status).toBe(403);
    // The stream's own live playback ID stops; the recording's plays on.
    expect(await env.DB.prepare("SELECT 1 FROM playback_ids WHERE stream_id = ? AND kind = 'live'").bind(b.streamId).first()).toBeNull();
    const recording = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(recording).toMatchObject({ watchable: true, cleaned: false, stream: b.streamId });
    expect((await json(await api(ws, 'GET', '/recordings?limit=100'))).data.map((r: any) => r.id)).toContain(b.recordingId);
    expect((await json(await getVideo(b.videoId))).data).toMatchObject({ status: 'ready', streamId: b.streamId, recordingId: b.recordingId });
    const master = await play(`${recording.playbackId}/master.m3u8?n=kept`);
    expect(master.status).toBe(200);
    expect((await play(`${recording.playbackId}/480p/a1b2c3-00000.ts`)).status).toBe(200);
    // PATCH still works on a kept recording's video.
    expect((await json(await api(ws, 'PATCH', `/videos/${b.videoId}`, { title: 'kept' }))).data.title).toBe('kept');
  });

  it('a kept recording still obeys retention: the sweep cleans it, it stops playing and leaves the library', async () => {
    const mine = await createWorkspace('video-library-retention');
    const b = await watchableRecording(mine);
    await vi.waitFor(async () => expect((await getVideo(b.videoId, mine)).status).toBe(200));
    expect((await api(mine, 'DELETE', `/live/streams/${b.streamId}`)).status).toBe(204);
    expect(await setRecordingRetention(env.DB, mine.id, 0)).toBe(true); // expires at the session's end: now past
    const swept = await sweepExpiredRecordings(env, Date.now() + 1000);
    expect(swept.cleaned).toBeGreaterThanOrEqual(1);
    expect(swept.failedStreams).toBe(0);
    const recording = (await json(await api(mine, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(recording).toMatchObject({ cleaned: true, watchable: false, recordingUrl: null });
    await vi.waitFor(async () => expect(await videoRow(b.videoId)).toBeNull());
    expect((await getVideo(b.videoId, mine)).status).toBe(404);
    expect(await env.DB.prepare('SELECT media_prefix FROM playback_ids WHERE id = ?').bind(b.recording.playbackId).first('media_prefix')).toBeNull();
    expect((await play(`${b.recording.playbackId}/master.m3u8?n=cleaned`)).status).toBe(404);
  });

  it('deleted while live: the kept recording settles from what R2 holds (no lifecycle left to wait on)', async () => {
    const b = await liveRecorded();
    expect((await api(ws, 'DELETE', `/live/streams/${b.streamId}`)).status).toBe(204);
    await vi.waitFor(async () => expect((await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data).toMatchObject({ watchable: true, recordingStatus: 'ready' }));
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
  });

  it('with ?deleteMedia=true takes its recordings, clips and their videos, media and playback with it', async () => {
    const b = await liveRecorded();
    const { clip, videoId: clipVideoId } = await readyClip(b);
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await getVideo(b.videoId)).status).toBe(200));
    await vi.waitFor(async () => expect((await getVideo(clipVideoId)).status).toBe(200));
    expect((await api(ws, 'DELETE', `/live/streams/${b.streamId}?deleteMedia=true`)).status).toBe(204);
    expect((await api(ws, 'GET', `/recordings/${b.recordingId}`)).status).toBe(404);
    for (const videoId of [b.videoId, clipVideoId]) {
      expect((await getVideo(videoId)).status).toBe(404);
      expect(await videoRow(videoId)).toBeNull();
    }
    expect(await env.DB.prepare('SELECT 1 FROM playback_ids WHERE stream_id = ?').bind(b.streamId).first()).toBeNull();
    expect(await env.DB.prepare('SELECT 1 FROM recordings WHERE stream_id = ?').bind(b.streamId).first()).toBeNull();
    await vi.waitFor(async () => expect((await env.MEDIA.list({ prefix: `clips/${clip.id}/` })).objects).toEqual([]));
  });

  it('refuses a deleteMedia that is not true or false, naming the field', async () => {
    const stream = await createStream(ws);
    const response = await api(ws, 'DELETE', `/live/streams/${stream.streamId}?deleteMedia=yes`);
    expect(response.status).toBe(400);
    expect((await json(response)).errors[0].field).toBe('deleteMedia');
    expect((await api(ws, 'GET', `/live/streams/${stream.streamId}`)).status).toBe(200);
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}?deleteMedia=false`)).status).toBe(204);
  });
});

describe('clips in the library', () => {
  it('a ready clip is a video of source clip with its own playback; DELETE of the video deletes the clip and its media', async () => {
    const b = await liveRecorded();
    const { clip, videoId } = await readyClip(b);
    await vi.waitFor(async () => expect((await getVideo(videoId)).status).toBe(200));
    expect(await videoRow(videoId)).toMatchObject({ source: 'clip', status: 'ready', stream_id: b.streamId, clip_id: clip.id, recording_id: null });
    const video = (await json(await getVideo(videoId))).data;
    expect(video).toMatchObject({
      source: 'clip', status: 'ready', progress: 100, duration: 6, size: 14, clipId: clip.id, streamId: b.streamId, recordingId: null,
      playbackIds: [{ id: clip.playbackId, accessPolicy: 'public' }],
      hlsUrl: `http://edge.test/hls/${clip.playbackId}/master.m3u8`,
      mp4Url: `http://edge.test/hls/${clip.playbackId}/clip.mp4`,
      thumbnailUrl: null,
    });
    expect((await call(new URL(video.hlsUrl).pathname)).status).toBe(200);
    const ranged = await call(new URL(video.mp4Url).pathname, { headers: { range: 'bytes=0-3' } });
    expect(ranged.status).toBe(206);
    expect(await text(ranged)).toBe('clip');
    expect((await json(await api(ws, 'GET', '/videos?source=clip&limit=100'))).data.map((v: any) => v.videoId)).toContain(videoId);

    expect((await api(ws, 'DELETE', `/videos/${videoId}`)).status).toBe(204);
    expect((await getVideo(videoId)).status).toBe(404);
    expect((await json(await api(ws, 'GET', `/on-demand/${b.streamId}/live-clips`))).data.map((c: any) => c.id)).not.toContain(clip.id);
    expect((await play(`${clip.playbackId}/master.m3u8?n=gone`)).status).toBe(404);
    await vi.waitFor(async () => expect((await env.MEDIA.list({ prefix: `clips/${clip.id}/` })).objects).toEqual([]));
  });

  it('a deleted stream keeps its clips: the clip video still answers and plays', async () => {
    const b = await liveRecorded();
    const { clip, videoId } = await readyClip(b);
    await vi.waitFor(async () => expect((await getVideo(videoId)).status).toBe(200));
    expect((await api(ws, 'DELETE', `/live/streams/${b.streamId}`)).status).toBe(204);
    expect((await json(await getVideo(videoId))).data).toMatchObject({ status: 'ready', clipId: clip.id });
    expect((await play(`${clip.playbackId}/master.m3u8?n=kept`)).status).toBe(200);
    expect((await play(`${clip.playbackId}/clip.mp4`)).status).toBe(200);
  });
});

describe('playback of library videos (kind video)', () => {
  const MP4 = Array.from({ length: 500 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');

  /** An uploaded or imported video's playback row and media as the VOD job leaves them (media_prefix once ready). */
  async function storedVideo(accessPolicy: 'public' | 'private', ready = true) {
    const videoId = `vid_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const playbackId = `pbv${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
    await env.DB.prepare(
      `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix) VALUES (?, ?, ?, ?, 'video', ?, ?)`,
    )
      .bind(playbackId, videoId, ws.id, accessPolicy, videoId, ready ? `videos/${videoId}/hls` : null)
      .run();
    const root = `videos/${videoId}`;
    await env.MEDIA.put(`${root}/hls/master.m3u8`, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\n720p/index.m3u8\n', {
      httpMetadata: { contentType: 'application/vnd.apple.mpegurl' },
    });
    await env.MEDIA.put(`${root}/hls/720p/index.m3u8`, '#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.0,\nseg-00000.ts\n#EXT-X-ENDLIST\n', {
      httpMetadata: { contentType: 'application/vnd.apple.mpegurl' },
    });
    await env.MEDIA.put(`${root}/hls/720p/seg-00000.ts`, 'ts bytes', { httpMetadata: { contentType: 'video/mp2t' } });
    await env.MEDIA.put(`${root}/video.mp4`, MP4, { httpMetadata: { contentType: 'video/mp4' } });
    await env.MEDIA.put(`${root}/thumbnail.jpg`, 'jpeg bytes', { httpMetadata: { contentType: 'image/jpeg' } });
    return { videoId, playbackId };
  }

  it('serves its HLS ladder, video.mp4 with byte ranges and thumbnail.jpg from videos/{videoId}/', async () => {
    const { playbackId } = await storedVideo('public');
    const master = await play(`${playbackId}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(master.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(await text(master)).toContain('720p/index.m3u8');
    const rendition = await play(`${playbackId}/720p/index.m3u8`);
    expect(await text(rendition)).toContain('seg-00000.ts');
    const segment = await play(`${playbackId}/720p/seg-00000.ts`);
    expect(segment.status).toBe(200);
    expect(await text(segment)).toBe('ts bytes');

    const whole = await play(`${playbackId}/video.mp4`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(await text(whole)).toBe(MP4);
    const head = await play(`${playbackId}/video.mp4`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const part = await play(`${playbackId}/video.mp4`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/500');
    expect(await text(part)).toBe(MP4.slice(100, 200));
    const beyond = await play(`${playbackId}/video.mp4`, { headers: { range: 'bytes=500-' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */500');

    const thumbnail = await play(`${playbackId}/thumbnail.jpg`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(await text(thumbnail)).toBe('jpeg bytes');
    // Only its own kind's MP4 name, and nothing outside its prefix.
    expect((await play(`${playbackId}/recording.mp4`)).status).toBe(404);
    expect((await play(`${playbackId}/720p/nope.ts`)).status).toBe(404);
  });

  it('a video not ready yet (no media_prefix) answers 404 not-ready', async () => {
    const { playbackId } = await storedVideo('public', false);
    const response = await play(`${playbackId}/master.m3u8`);
    expect(response.status).toBe(404);
    expect((await json(response)).type).toBe('https://riverhead.dev/problems/not-ready');
  });

  it('a private video needs a token signed by the workspace, carried on into its playlists', async () => {
    const { playbackId } = await storedVideo('private');
    const refused = await play(`${playbackId}/master.m3u8`);
    expect(refused.status).toBe(403);
    expect((await json(refused)).reason).toBe('missing');
    expect((await play(`${playbackId}/video.mp4`)).status).toBe(403);
    const key = (await json(await api(ws, 'POST', '/signing-keys'))).data as { signingKeyId: string; privateKey: string };
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
      .setSubject(playbackId)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(await importPKCS8(atob(key.privateKey), 'RS256'));
    const master = await play(`${playbackId}/master.m3u8?token=${token}`);
    expect(master.status).toBe(200);
    expect(master.headers.get('cache-control')).toContain('private');
    expect(await text(master)).toContain(`720p/index.m3u8?token=${encodeURIComponent(token)}`);
    const part = await play(`${playbackId}/video.mp4?token=${token}`, { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(await text(part)).toBe(MP4.slice(0, 10));
    const otherToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
      .setSubject('someone-else')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(await importPKCS8(atob(key.privateKey), 'RS256'));
    expect((await play(`${playbackId}/thumbnail.jpg?token=${otherToken}`)).status).toBe(403);
  });
});
