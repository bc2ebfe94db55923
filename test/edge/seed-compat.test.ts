// Seed 001 compatibility at the edge: its nested create body beside the flat one (a field set both ways to different
// values is a 400 naming it), its five operationIds in the served document, and absolute media URLs (recordings,
// sessions, clips) on the host the API was called on. The origins' control ports are a stand-in at the network
// boundary (globalThis.fetch): clip jobs are taken, anything else finds no origin there.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { standInClipsOnlyOrigins } from './control-ports.ts';
import { env, exports } from 'cloudflare:workers';
import { api, authorize, call, createWorkspace, json, originEvent, sendEvents, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';

standInClipsOnlyOrigins();

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('seed-compat');
});

const create = (body: unknown) => api(ws, 'POST', '/live/streams', body);

describe("seed 001's create body", () => {
  it("takes the seed SDK example's body unchanged", async () => {
    const response = await create({ playbackSettings: {}, inputMediaSettings: { metadata: { livestream_name: 'fastpix_livestream' } } });
    expect(response.status).toBe(201);
    const { data } = await json(response);
    expect(data).toMatchObject({
      metadata: { livestream_name: 'fastpix_livestream' },
      reconnectWindow: 60,
      playlistWindow: 'sliding',
      playbackIds: [{ accessPolicy: 'public' }],
    });
    expect(data.streamKey).toEqual(expect.any(String));
  });

  it('maps every nested field onto its flat one', async () => {
    const response = await create({
      playbackSettings: { accessPolicy: 'private' },
      inputMediaSettings: { metadata: { a: 'b' }, reconnectWindow: 30, maxResolution: '720p', mediaPolicy: 'private', enableDvrMode: true },
    });
    expect(response.status).toBe(201);
    const { data } = await json(response);
    expect(data).toMatchObject({ metadata: { a: 'b' }, reconnectWindow: 30, maxResolution: '720p', playlistWindow: 'dvr', playbackIds: [{ accessPolicy: 'private' }] });
    const stored = await json(await api(ws, 'GET', `/live/streams/${data.streamId}`));
    expect(stored.data).toMatchObject({ reconnectWindow: 30, playlistWindow: 'dvr', playbackIds: [{ accessPolicy: 'private' }] });
  });

  it('mixes with the flat body when both say the same', async () => {
    const response = await create({
      record: true,
      reconnectWindow: 30,
      metadata: { x: '1', y: '2' },
      inputMediaSettings: { reconnectWindow: 30, metadata: { y: '2', x: '1' }, enableDvrMode: false },
      playlistWindow: 'sliding',
    });
    expect(response.status).toBe(201);
    expect((await json(response)).data).toMatchObject({ record: true, reconnectWindow: 30, metadata: { x: '1', y: '2' }, playlistWindow: 'sliding' });
  });

  it('refuses a field set both ways to different values, naming it', async () => {
    const cases: [unknown, string][] = [
      [{ accessPolicy: 'public', playbackSettings: { accessPolicy: 'private' } }, 'playbackSettings.accessPolicy'],
      [{ reconnectWindow: 10, inputMediaSettings: { reconnectWindow: 20 } }, 'inputMediaSettings.reconnectWindow'],
      [{ metadata: { a: '1' }, inputMediaSettings: { metadata: { a: '2' } } }, 'inputMediaSettings.metadata'],
      [{ playlistWindow: 'sliding', inputMediaSettings: { enableDvrMode: true } }, 'inputMediaSettings.enableDvrMode'],
      [{ playbackSettings: { accessPolicy: 'public' }, inputMediaSettings: { mediaPolicy: 'private' } }, 'inputMediaSettings.mediaPolicy'],
    ];
    for (const [body, field] of cases) {
      const response = await create(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      const problem = await json(response);
      expect(problem.type).toBe('https://riverhead.dev/problems/conflicting-fields');
      expect(problem.errors.map((e: { field: string }) => e.field)).toEqual([field]);
      expect(problem.detail).toContain(field);
    }
  });

  it('refuses bad nested values and unknown nested fields by their nested name; flat errors keep theirs', async () => {
    const cases: [unknown, string][] = [
      [{ inputMediaSettings: { reconnectWindow: 5000 } }, 'inputMediaSettings.reconnectWindow'],
      [{ inputMediaSettings: { maxResolution: '8K' } }, 'inputMediaSettings.maxResolution'],
      [{ inputMediaSettings: { colour: 'red' } }, 'inputMediaSettings.colour'],
      [{ playbackSettings: { accessPolicy: 'secret' } }, 'playbackSettings.accessPolicy'],
      [{ playbackSettings: 'public' }, 'playbackSettings'],
      [{ inputMediaSettings: {}, reconnectWindow: 5000 }, 'reconnectWindow'],
      [{ reconnectWindow: 5000 }, 'reconnectWindow'],
    ];
    for (const [body, field] of cases) {
      const response = await create(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await json(response)).errors.map((e: { field: string }) => e.field), JSON.stringify(body)).toEqual([field]);
    }
    const malformed = await call('/v1/live/streams', { method: 'POST', headers: { authorization: ws.auth, 'content-type': 'application/json' }, body: '{"playbackSettings":' });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).type).toBe('https://riverhead.dev/problems/malformed-json');
  });
});

describe('the served OpenAPI document', () => {
  it("keeps seed 001's operationIds and documents the nested body beside the canonical flat one", async () => {
    const doc = await json(await call('/v1/openapi.json'));
    const ids: Record<string, string> = {};
    for (const [route, item] of Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
      for (const [method, op] of Object.entries(item)) if (op.operationId) ids[op.operationId] = `${method} ${route}`;
    }
    expect(ids).toMatchObject({
      'create-new-stream': 'post /v1/live/streams',
      'get-all-streams': 'get /v1/live/streams',
      'delete-live-stream': 'delete /v1/live/streams/{streamId}',
      'enable-live-stream': 'put /v1/live/streams/{streamId}/live-enable',
      'list-live-clips': 'get /v1/on-demand/{livestreamId}/live-clips',
    });
    const body = doc.paths['/v1/live/streams'].post.requestBody;
    expect(body.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateLiveStreamRequest' });
    expect(body.description).toContain('SeedCreateLiveStreamRequest');
    expect(Object.keys(doc.components.schemas.SeedCreateLiveStreamRequest.properties)).toEqual(['playbackSettings', 'inputMediaSettings']);
  });
});

describe('media URLs in answers', () => {
  /** An API call on another host name than the helpers' edge.test. */
  const onHost = (host: string, path: string, init: RequestInit = {}) =>
    (exports as unknown as { default: Fetcher }).default.fetch(
      new Request(`https://${host}/v1${path}`, { ...init, headers: { authorization: ws.auth, ...(init.headers ?? {}) } }),
    );

  it("recordings, sessions and clips are absolute, on the host the API was called on", async () => {
    const stream = (await json(await create({ record: true, reconnectWindow: 30 }))).data;
    const grant = await json(await authorize(stream.streamKey));
    const sessionId = grant.sessionId as string;
    await sendHeartbeat(ORIGIN.originId, [{ streamId: stream.streamId, sessionId }]);
    const stats = { sourceSegments: 10, transcodedSegments: 20, sourceSegmentsDuration: 20, transcodedSegmentsDuration: 40, sourceBytes: 1, transcodedBytes: 1, ingestRate: 1, outgoingRate: 1, isHealthy: true, issues: null };
    await sendEvents([originEvent(stream.streamId, sessionId, 'recording_started'), originEvent(stream.streamId, sessionId, 'stats', stats)]); // 20 s to cut from
    await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/master.m3u8`, '#EXTM3U\n');
    await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/480p/a1b2c3-00000.ts`, 'segment bytes');

    const clipped = await onHost('api.example.com', `/live/streams/${stream.streamId}/clips`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ startTime: 2, endTime: 8 }),
    });
    expect(clipped.status).toBe(202);
    const clip = (await json(clipped)).data;
    expect(clip.playbackUrl).toBe(`https://api.example.com/hls/${clip.playbackId}/master.m3u8`);
    expect(clip.mp4Url).toBe(`https://api.example.com/hls/${clip.playbackId}/clip.mp4`);
    const clips = (await json(await api(ws, 'GET', `/on-demand/${stream.streamId}/live-clips`))).data;
    expect(clips[0]).toMatchObject({ playbackUrl: `http://edge.test/hls/${clip.playbackId}/master.m3u8`, mp4Url: `http://edge.test/hls/${clip.playbackId}/clip.mp4` });

    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    const recordingId = `rec_${sessionId.replace(/^ses_/, '')}`;
    await vi.waitFor(async () => expect((await json(await api(ws, 'GET', `/recordings/${recordingId}`))).data.watchable).toBe(true));
    const recording = (await json(await onHost('api.example.com', `/recordings/${recordingId}`))).data;
    expect(recording.recordingUrl).toBe(`https://api.example.com/hls/${recording.playbackId}/master.m3u8`);
    const [listed] = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/recordings`))).data;
    expect(listed.recordingUrl).toBe(`http://edge.test/hls/${recording.playbackId}/master.m3u8`);
    const [session] = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}/sessions`))).data;
    expect(session.recordingUrl).toBe(listed.recordingUrl);
    // Every URL that is set is absolute: none of them relative to be joined by the caller.
    for (const url of [recording.mp4Url, recording.screenshot, session.mp4Url]) if (url !== null) expect(url).toMatch(/^https?:\/\//);
  });
});
