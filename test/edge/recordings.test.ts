// Sessions, recordings and clips through the public API, with the origin's side played by signed calls.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import {
  api,
  authorize,
  createStream,
  createWorkspace,
  getStream,
  json,
  originEvent,
  sendEvents,
  signedRequest,
  type Workspace,
} from './helpers.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('recordings');
});

const stats = (seconds: number) => ({
  sourceSegments: seconds / 2, transcodedSegments: seconds, sourceSegmentsDuration: seconds, transcodedSegmentsDuration: seconds * 2,
  sourceBytes: 100_000, transcodedBytes: 200_000, ingestRate: 50_000, outgoingRate: 100_000, isHealthy: true, issues: null,
});

async function recordedBroadcast() {
  const stream = await createStream(ws, { record: true, reconnectWindow: 30 });
  const grant = await json(await authorize(stream.streamKey));
  await sendEvents([
    originEvent(stream.streamId, grant.sessionId, 'recording_started'),
    originEvent(stream.streamId, grant.sessionId, 'stats', stats(20)),
  ]);
  return { stream, sessionId: grant.sessionId as string };
}

const artifacts = (streamId: string, sessionId: string) => ({
  duration: 20.05,
  size: 1_234_567,
  mediaInfo: { duration: 20.05, size: 1_234_567, bitrate: 490_000, video: { codec: 'h264', width: 854, height: 480, fps: 30, profile: 'High' }, audio: { codec: 'aac', sampleRate: 48000, channels: 1 } },
  hlsPrefix: `recordings/${streamId}/${sessionId}/hls`,
  mp4Key: `recordings/${streamId}/${sessionId}/recording.mp4`,
  screenshotKey: `recordings/${streamId}/${sessionId}/screenshot.jpg`,
});

describe('sessions', () => {
  it('lists one session per broadcast with seed 002 counters, reconnects kept inside it', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    await sendEvents([originEvent(stream.streamId, sessionId, 'publish_done', { reason: 'eof' })]);
    await authorize(stream.streamKey); // back within the window
    const { data } = await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/sessions`));
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({
      id: sessionId,
      parentId: stream.streamId,
      reconnects: 1,
      sourceSegments: 10,
      sourceSegmentsDuration: 20,
      isHealthy: true,
      record: true,
      recordingStatus: 'waiting',
      recordingUrl: null,
    });
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
    const unrecorded = await createStream(ws);
    await authorize(unrecorded.streamKey);
    const { data: only } = await json(await api(ws, 'GET', `/live/streams/${unrecorded.streamId}/sessions?record=1`));
    expect(only).toEqual([]);
  });
});

describe('recordings', () => {
  it('RECORDING while the recorder writes; processing when the session ends; ready → COMPLETED', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    expect((await getStream(ws, stream.streamId)).status).toBe('RECORDING');
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    const listed = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ stream: stream.streamId, sessionId, recordingStatus: 'processing', queued: true, watchable: false });

    const done = await json(await sendEvents([originEvent(stream.streamId, sessionId, 'recording_ready', artifacts(stream.streamId, sessionId))]));
    expect(done.results[0].outcome).toBe('applied');
    const live = await getStream(ws, stream.streamId);
    expect(live.status).toBe('COMPLETED');
    expect(live.activities.map((a: any) => a.event).slice(-3)).toEqual(['STOPPED', 'RECORDING_READY', 'COMPLETED']);

    const recording = (await json(await api(ws, 'GET', `/recordings/${listed[0].id}`))).data;
    expect(recording).toMatchObject({
      recordingStatus: 'ready', queued: false, watchable: true, exportable: true, duration: 20.05, size: 1_234_567, error: null,
    });
    expect(recording.mediaInfo.video).toMatchObject({ codec: 'h264', width: 854 });
    expect(recording.recordingUrl).toBe(`/hls/${recording.playbackId}/master.m3u8`);
    expect(recording.mp4Url).toBe(`/hls/${recording.playbackId}/recording.mp4`);
    expect(recording.sourceReadyAt).not.toBeNull();
    const session = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/sessions`))).data[0];
    expect(session).toMatchObject({ recordingStatus: 'ready', recordingUrl: recording.recordingUrl, mp4Url: recording.mp4Url });
  });

  it('a failed recording puts the stream in ERROR with the reason; retry needs the origin', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    await sendEvents([originEvent(stream.streamId, sessionId, 'recording_failed', { reason: 'ffmpeg exited 1' })]);
    const errored = await getStream(ws, stream.streamId);
    expect(errored).toMatchObject({ status: 'ERROR', errorReason: 'recording failed: ffmpeg exited 1' });
    const [recording] = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect(recording).toMatchObject({ recordingStatus: 'failed', error: 'ffmpeg exited 1' });
    // The test origin (127.0.0.1:9) is not there, so the retry cannot be handed over: 503, nothing changes.
    const retry = await api(ws, 'POST', `/recordings/${recording.id}/retry`);
    expect(retry.status).toBe(503);
    expect((await json(await api(ws, 'GET', `/recordings/${recording.id}`))).data.recordingStatus).toBe('failed');
  });

  it('lists the workspace recordings newest first across pages, and deletes one with its media', async () => {
    const mine = await createWorkspace('many-recordings');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const stream = await createStream(mine, { record: true });
      const grant = await json(await authorize(stream.streamKey));
      await api(mine, 'POST', `/live/streams/${stream.streamId}/complete`);
      await sendEvents([originEvent(stream.streamId, grant.sessionId, 'recording_ready', artifacts(stream.streamId, grant.sessionId))]);
      ids.push((await json(await api(mine, 'GET', `/live/streams/${stream.streamId}/recordings`))).data[0].id);
      await env.MEDIA.put(`recordings/${stream.streamId}/${grant.sessionId}/recording.mp4`, 'mp4 bytes');
    }
    const first = await json(await api(mine, 'GET', '/recordings?limit=2'));
    expect(first.data.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
    const second = await json(await api(mine, 'GET', `/recordings?limit=2&cursor=${first.pagination.nextCursor}`));
    expect(second.data.map((r: any) => r.id)).toEqual([ids[0]]);
    expect(second.pagination.nextCursor).toBeNull();

    const target = second.data[0];
    expect((await api(ws, 'DELETE', `/recordings/${target.id}`)).status).toBe(404); // another workspace
    expect((await api(mine, 'DELETE', `/recordings/${target.id}`)).status).toBe(204);
    expect((await api(mine, 'GET', `/recordings/${target.id}`)).status).toBe(404);
    expect(await env.MEDIA.get(`recordings/${target.stream}/${target.sessionId}/recording.mp4`)).toBeNull();
    expect((await json(await api(mine, 'GET', '/recordings'))).data).toHaveLength(2);
  });
});

describe('clips', () => {
  it('refuses bad ranges with a 400 naming the field, before asking any origin', async () => {
    const { stream } = await recordedBroadcast();
    const cases: [unknown, string][] = [
      [{ startTime: 5, endTime: 5 }, 'endTime'],
      [{ startTime: 8, endTime: 2 }, 'endTime'],
      [{ startTime: 25, endTime: 28 }, 'startTime'],
      [{ startTime: 10, endTime: 40 }, 'endTime'],
      [{ startTime: -1, endTime: 4 }, 'startTime'],
      [{ startTime: 1, endTime: 4, color: 'red' }, 'color'],
    ];
    for (const [body, field] of cases) {
      const response = await api(ws, 'POST', `/live/streams/${stream.streamId}/clips`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await json(response)).errors[0].field).toBe(field);
    }
    const noSession = await createStream(ws);
    const none = await api(ws, 'POST', `/live/streams/${noSession.streamId}/clips`, { startTime: 0, endTime: 5 });
    expect(none.status).toBe(400);
  });

  it('answers 503 when the origin holding the session cannot take the job', async () => {
    const { stream } = await recordedBroadcast();
    const response = await api(ws, 'POST', `/live/streams/${stream.streamId}/clips`, { startTime: 2, endTime: 8 });
    expect(response.status).toBe(503);
    const { data } = await json(await api(ws, 'GET', `/on-demand/${stream.streamId}/live-clips`));
    expect(data).toEqual([]);
  });
});

describe('media uploads', () => {
  it('stores a small object with one signed PUT and refuses keys outside recordings/ and clips/', async () => {
    const put = await signedRequest('PUT', '/internal/media/recordings/ls_x/ses_y/screenshot.jpg', new Uint8Array([1, 2, 3]), 'image/jpeg');
    expect(put.status).toBe(201);
    const object = await env.MEDIA.get('recordings/ls_x/ses_y/screenshot.jpg');
    expect(object?.httpMetadata?.contentType).toBe('image/jpeg');
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    for (const key of ['secrets/x', 'recordings/../x', 'recordings/a//b']) {
      const response = await signedRequest('PUT', `/internal/media/${key}`, 'x');
      expect(response.status, key).toBeGreaterThanOrEqual(400);
    }
    const unsigned = await (await import('./helpers.ts')).call('/internal/media/recordings/a/b', { method: 'PUT', body: 'x' });
    expect(unsigned.status).toBe(401);
  });

  it('stores a large object in parts', async () => {
    const key = 'recordings/ls_big/ses_big/recording.mp4';
    const created = await json(await signedRequest('POST', `/internal/media/${key}?action=create-multipart`, '', 'video/mp4'));
    const first = new Uint8Array(5 * 1024 * 1024).fill(7);
    const second = new Uint8Array(1000).fill(9);
    const parts = [];
    for (const [index, bytes] of [first, second].entries()) {
      const response = await signedRequest('PUT', `/internal/media/${key}?uploadId=${encodeURIComponent(created.uploadId)}&partNumber=${index + 1}`, bytes);
      expect(response.status).toBe(200);
      parts.push(await json(response));
    }
    const done = await signedRequest('POST', `/internal/media/${key}?action=complete-multipart`, JSON.stringify({ uploadId: created.uploadId, parts }), 'application/json');
    expect(done.status).toBe(201);
    expect((await env.MEDIA.head(key))?.size).toBe(first.length + second.length);
  });
});

describe('deleting a stream', () => {
  it('deletes its recordings and their media too', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    await sendEvents([originEvent(stream.streamId, sessionId, 'recording_ready', artifacts(stream.streamId, sessionId))]);
    const key = `recordings/${stream.streamId}/${sessionId}/recording.mp4`;
    await env.MEDIA.put(key, 'mp4 bytes');
    const [recording] = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `/recordings/${recording.id}`)).status).toBe(404);
    for (let i = 0; i < 20 && (await env.MEDIA.head(key)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await env.MEDIA.head(key)).toBeNull();
  });
});
