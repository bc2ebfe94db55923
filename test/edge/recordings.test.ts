// Sessions, recordings and clips through the public API, with the origin's side played by signed calls.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
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
  ORIGIN,
  ORIGIN_SECRET,
  type Workspace,
} from './helpers.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER } from '../../shared/media-grant.ts';
import { NO_MEDIA_STORED } from '../../edge/stream/recording-flow.ts';

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

/** Durable media of a session in R2, as the origin ships it (shared/durable-media.ts). */
async function storeSessionMedia(streamId: string, sessionId: string) {
  await env.MEDIA.put(`live/${streamId}/${sessionId}/master.m3u8`, '#EXTM3U\n');
  await env.MEDIA.put(`live/${streamId}/${sessionId}/480p/a1b2c3-00000.ts`, 'segment bytes');
}

/** The test origin (127.0.0.1:9) as not heard for a minute: a stopped session's recording does not wait for it. */
const originSilent = () => env.DB.prepare('UPDATE origin_heartbeats SET heard_at = heard_at - 60000').run();

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
  it('RECORDING while the recorder writes; once stopped, watchable from the durable media → COMPLETED', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    expect((await getStream(ws, stream.streamId)).status).toBe('RECORDING');
    const waiting = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect(waiting[0]).toMatchObject({ stream: stream.streamId, sessionId, recordingStatus: 'waiting', queued: true, watchable: false, exportable: false });
    await storeSessionMedia(stream.streamId, sessionId);
    // The test origin (127.0.0.1:9) cannot be asked to finalize, so the recording is what R2 holds, at once.
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    await vi.waitFor(async () => expect((await getStream(ws, stream.streamId)).status).toBe('COMPLETED'));
    const live = await getStream(ws, stream.streamId);
    expect(live.activities.map((a: any) => a.event).slice(-3)).toEqual(['STOPPED', 'RECORDING_READY', 'COMPLETED']);
    const late = await json(await sendEvents([originEvent(stream.streamId, sessionId, 'media_durable', { renditions: 3, segments: 30, duration: 20.05, final: true })]));
    expect(late.results[0].outcome).toBe('applied');

    const recording = (await json(await api(ws, 'GET', `/recordings/${waiting[0].id}`))).data;
    expect(recording).toMatchObject({
      recordingStatus: 'ready', watchable: true, exportable: false, size: null, error: null,
      cleanable: false, cleaned: false, expiresAt: null, mp4Url: null, mediaInfo: null,
    });
    expect(recording.recordingUrl).toBe(`http://edge.test/hls/${recording.playbackId}/master.m3u8`); // absolute, on the host called
    expect(recording.sourceReadyAt).not.toBeNull();
    const session = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/sessions`))).data[0];
    expect(session).toMatchObject({ recordingStatus: 'ready', recordingUrl: recording.recordingUrl, mp4Url: null });
    expect(session.endedAt).not.toBeNull();
  });

  it('a recording with no media in storage fails and puts the stream in ERROR with the reason; retry looks again', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    await originSilent();
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    await vi.waitFor(async () => expect((await getStream(ws, stream.streamId)).status).toBe('ERROR'));
    expect(await getStream(ws, stream.streamId)).toMatchObject({ errorReason: `recording failed: ${NO_MEDIA_STORED}` });
    const [recording] = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect(recording).toMatchObject({ recordingStatus: 'failed', error: NO_MEDIA_STORED, watchable: false, queued: false });
    expect(recording.sessionId).toBe(sessionId);
    // Still nothing there: it fails again.
    expect((await api(ws, 'POST', `/recordings/${recording.id}/retry`)).status).toBe(200);
    await vi.waitFor(async () => expect((await json(await api(ws, 'GET', `/recordings/${recording.id}`))).data.recordingStatus).toBe('failed'));
    expect((await api(ws, 'POST', `/recordings/rec_nope/retry`)).status).toBe(404);
  });

  it('lists the workspace recordings newest first across pages, and deletes one with its media', async () => {
    const mine = await createWorkspace('many-recordings');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const stream = await createStream(mine, { record: true });
      const grant = await json(await authorize(stream.streamKey));
      await storeSessionMedia(stream.streamId, grant.sessionId);
      await originSilent();
      await api(mine, 'POST', `/live/streams/${stream.streamId}/complete`);
      const id = `rec_${String(grant.sessionId).replace(/^ses_/, '')}`;
      await vi.waitFor(async () => expect((await json(await api(mine, 'GET', `/recordings/${id}`))).data.watchable).toBe(true));
      ids.push(id);
      await env.MEDIA.put(`recordings/${id}/recording.mp4`, 'mp4 bytes');
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
    expect(await env.MEDIA.get(`recordings/${target.id}/recording.mp4`)).toBeNull();
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
  /** What an export command carries for its output prefix (edge/stream/recording-flow.ts), minted with the master key. */
  const uploadGrant = async (prefix: string) => ({
    [MEDIA_GRANT_HEADER]: await issueMediaGrant(ORIGIN_SECRET, { originId: ORIGIN.originId, prefixes: [prefix], expiresAt: Date.now() + 60_000 }),
  });

  it('stores a small object with one signed PUT under a grant, and refuses one without, or outside recordings/ and clips/', async () => {
    const key = 'recordings/ls_x/ses_y/screenshot.jpg';
    const grant = await uploadGrant('recordings/ls_x/ses_y/');
    const ungranted = await signedRequest('PUT', `/internal/media/${key}`, new Uint8Array([1, 2, 3]), 'image/jpeg');
    expect(ungranted.status).toBe(403);
    expect(await env.MEDIA.head(key)).toBeNull();
    const put = await signedRequest('PUT', `/internal/media/${key}`, new Uint8Array([1, 2, 3]), 'image/jpeg', grant);
    expect(put.status).toBe(201);
    const object = await env.MEDIA.get(key);
    expect(object?.httpMetadata?.contentType).toBe('image/jpeg');
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    for (const bad of ['secrets/x', 'recordings/../x', 'recordings/a//b']) {
      const response = await signedRequest('PUT', `/internal/media/${bad}`, 'x', undefined, grant);
      expect(response.status, bad).toBeGreaterThanOrEqual(400);
    }
    const unsigned = await (await import('./helpers.ts')).call(`/internal/media/${key}`, { method: 'PUT', body: 'x', headers: grant });
    expect(unsigned.status).toBe(401);
  });

  it('stores a large object in parts, every part under the grant', async () => {
    const key = 'recordings/ls_big/ses_big/recording.mp4';
    const grant = await uploadGrant('recordings/ls_big/');
    expect((await signedRequest('POST', `/internal/media/${key}?action=create-multipart`, '', 'video/mp4')).status).toBe(403);
    const created = await json(await signedRequest('POST', `/internal/media/${key}?action=create-multipart`, '', 'video/mp4', grant));
    const first = new Uint8Array(5 * 1024 * 1024).fill(7);
    const second = new Uint8Array(1000).fill(9);
    const parts = [];
    for (const [index, bytes] of [first, second].entries()) {
      const path = `/internal/media/${key}?uploadId=${encodeURIComponent(created.uploadId)}&partNumber=${index + 1}`;
      if (index === 1) expect((await signedRequest('PUT', path, bytes)).status).toBe(403);
      const response = await signedRequest('PUT', path, bytes, undefined, grant);
      expect(response.status).toBe(200);
      parts.push(await json(response));
    }
    const done = await signedRequest('POST', `/internal/media/${key}?action=complete-multipart`, JSON.stringify({ uploadId: created.uploadId, parts }), 'application/json', grant);
    expect(done.status).toBe(201);
    expect((await env.MEDIA.head(key))?.size).toBe(first.length + second.length);
  });
});

describe('deleting a stream', () => {
  it('with ?deleteMedia=true deletes its recordings and their media too (the session media after its grace)', async () => {
    const { stream, sessionId } = await recordedBroadcast();
    await storeSessionMedia(stream.streamId, sessionId);
    await originSilent();
    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    const id = `rec_${sessionId.replace(/^ses_/, '')}`;
    await vi.waitFor(async () => expect((await json(await api(ws, 'GET', `/recordings/${id}`))).data.watchable).toBe(true));
    const key = `recordings/${id}/recording.mp4`;
    await env.MEDIA.put(key, 'mp4 bytes');
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}?deleteMedia=true`)).status).toBe(204);
    expect((await api(ws, 'GET', `/recordings/${id}`)).status).toBe(404);
    for (let i = 0; i < 20 && (await env.MEDIA.head(key)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await env.MEDIA.head(key)).toBeNull();
    expect((await env.MEDIA.list({ prefix: `live/${stream.streamId}/` })).objects).toHaveLength(2); // kept for the grace
    // The grace over (the object's alarm, run early, counts as run at its time): the session's media goes too.
    for (let i = 0; i < 10 && (await env.MEDIA.list({ prefix: `live/${stream.streamId}/` })).objects.length > 0; i++) {
      await runDurableObjectAlarm(env.STREAMS.get(env.STREAMS.idFromName(stream.streamId)));
    }
    expect((await env.MEDIA.list({ prefix: `live/${stream.streamId}/` })).objects).toEqual([]);
  });
});
