// The playback hot path's lookups are cached (edge/playback-cache.ts): a viewer request whose lookups and object are
// in the cache makes no D1 query and no Durable Object call (read from the isolate's tally, GET /admin/playback-stats),
// misses at the same moment share one lookup, and deleting, disabling or switching a stream to private (or deleting
// a signing key) is seen by the very next request. The origin is a stub answering the live session's files.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { SignJWT, importPKCS8 } from 'jose';
import { ADMIN_TOKEN, api, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';
import { LIVE_TTL_MS } from '../../edge/playback-cache.ts';

const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nsource/index.m3u8\n';
const MEDIA = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\na1b2c3-00000.ts\n';
const SEGMENT = new Uint8Array(188).fill(0x47);

let originFetch: MockInstance<typeof fetch>;
let ws: Workspace;
beforeAll(async () => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.pathname.endsWith('/master.m3u8')) return new Response(MASTER, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
    if (url.pathname.endsWith('/index.m3u8')) return new Response(MEDIA, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
    if (url.pathname.endsWith('.ts')) return new Response(SEGMENT, { headers: { 'content-type': 'video/mp2t' } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('playback-cache');
});
afterAll(() => originFetch.mockRestore());

interface Stats {
  viewerRequests: number;
  d1Calls: number;
  objectCalls: number;
}
async function stats(): Promise<Stats> {
  const response = await call('/admin/playback-stats', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return (await json(response)).data;
}
/** What `run` cost in viewer requests, D1 queries and Durable Object calls. */
async function cost(run: () => Promise<unknown>): Promise<Stats> {
  const before = await stats();
  await run();
  const after = await stats();
  return {
    viewerRequests: after.viewerRequests - before.viewerRequests,
    d1Calls: after.d1Calls - before.d1Calls,
    objectCalls: after.objectCalls - before.objectCalls,
  };
}

async function liveStream(accessPolicy: 'public' | 'private' = 'public') {
  const stream = await createStream(ws, { accessPolicy });
  const grant = await json(await authorize(stream.streamKey));
  return { streamId: stream.streamId as string, playbackId: stream.playbackIds[0].id as string, sessionId: grant.sessionId as string };
}

async function play(path: string, expected = 200): Promise<void> {
  const response = await call(`/hls/${path}`);
  expect(response.status, path).toBe(expected);
  await response.arrayBuffer();
}

/** The cache writes of a request land after its response (waitUntil): give them a moment. */
const settle = () => new Promise((r) => setTimeout(r, 150));

async function signingToken(playbackId: string) {
  const key = (await json(await api(ws, 'POST', '/signing-keys'))).data as { signingKeyId: string; privateKey: string };
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
    .setSubject(playbackId)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(await importPKCS8(atob(key.privateKey), 'RS256'));
  return { keyId: key.signingKeyId, token };
}

describe('the playback hot path', () => {
  it('a request whose lookups and object are cached makes no D1 query and no Durable Object call', async () => {
    const live = await liveStream();
    const paths = [`${live.playbackId}/master.m3u8`, `${live.playbackId}/${live.sessionId}/source/index.m3u8`, `${live.playbackId}/${live.sessionId}/source/a1b2c3-00000.ts`];
    const cold = await cost(async () => {
      for (const path of paths) await play(path);
    });
    // The first request looked the playback ID up (D1) and the live session (its StreamObject).
    expect(cold.objectCalls).toBe(1);
    expect(cold.d1Calls).toBeGreaterThanOrEqual(1);
    await settle();
    const warm = await cost(async () => {
      for (let round = 0; round < 5; round++) for (const path of paths) await play(path);
    });
    expect(warm).toEqual({ viewerRequests: 15, d1Calls: 0, objectCalls: 0 });
  });

  it('a private playback with a token is as cheap: the signing key is cached with the playback ID', async () => {
    const live = await liveStream('private');
    const { token } = await signingToken(live.playbackId);
    await play(`${live.playbackId}/master.m3u8?token=${token}`);
    await settle();
    const warm = await cost(async () => {
      for (let i = 0; i < 5; i++) await play(`${live.playbackId}/${live.sessionId}/source/index.m3u8?token=${token}`);
    });
    expect(warm).toEqual({ viewerRequests: 5, d1Calls: 0, objectCalls: 0 });
  });

  it('the StreamObject is asked again once its answer’s TTL has passed, D1 is not', async () => {
    const live = await liveStream();
    await play(`${live.playbackId}/master.m3u8`);
    await new Promise((r) => setTimeout(r, LIVE_TTL_MS + 100));
    const later = await cost(() => play(`${live.playbackId}/master.m3u8`));
    expect(later).toEqual({ viewerRequests: 1, d1Calls: 0, objectCalls: 1 });
  });

  it('viewers missing at the same moment share one lookup', async () => {
    const live = await liveStream();
    const burst = await cost(() => Promise.all(Array.from({ length: 20 }, () => play(`${live.playbackId}/${live.sessionId}/source/index.m3u8`))));
    expect(burst.viewerRequests).toBe(20);
    expect(burst.objectCalls).toBe(1);
    // The playback ID, and at most the origin's secret for the signed fetch (cached per isolate by the registry).
    expect(burst.d1Calls).toBeLessThanOrEqual(2);
  });
});

describe('purged when the stream changes', () => {
  it('a deleted stream stops playing at the next request', async () => {
    const live = await liveStream();
    await play(`${live.playbackId}/master.m3u8`);
    await settle();
    expect((await api(ws, 'DELETE', `/live/streams/${live.streamId}`)).status).toBe(204);
    await play(`${live.playbackId}/master.m3u8`, 404);
  });

  it('a stream deleted where no purge reaches (another data center) stops playing within the live TTL', async () => {
    const live = await liveStream();
    await play(`${live.playbackId}/master.m3u8`);
    await settle();
    // Straight to its StreamObject: the API route's purge does not run, as in a data center other than the API call's.
    const stub = env.STREAMS.get(env.STREAMS.idFromName(live.streamId));
    expect((await stub.remove(ws.id)).ok).toBe(true);
    await play(`${live.playbackId}/master.m3u8`); // still cached here
    await new Promise((r) => setTimeout(r, LIVE_TTL_MS + 100));
    await play(`${live.playbackId}/master.m3u8`, 404);
  });

  it('disabling a stream makes the next request ask its StreamObject again (the end of the broadcast still plays)', async () => {
    const live = await liveStream();
    await play(`${live.playbackId}/master.m3u8`);
    await settle();
    expect((await api(ws, 'PUT', `/live/streams/${live.streamId}/live-disable`)).status).toBe(200);
    const next = await cost(() => play(`${live.playbackId}/${live.sessionId}/source/index.m3u8`));
    // Both lookups were purged: the playback ID is read again (D1) and the live pointer (the StreamObject).
    expect(next).toEqual({ viewerRequests: 1, d1Calls: 1, objectCalls: 1 });
  });

  it('a stream switched to private refuses tokenless viewers at the next request, its recordings too', async () => {
    const live = await liveStream();
    // A recording's playback ID of the same stream, ready (stored media), cached like any other.
    const recordingPlaybackId = `pbrec${live.streamId.slice(3)}`;
    await env.DB.prepare(
      `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
       VALUES (?, ?, ?, 'public', 'recording', ?, ?)`,
    )
      .bind(recordingPlaybackId, live.streamId, ws.id, `rec_${live.sessionId.slice(4)}`, `recordings/${live.streamId}/${live.sessionId}/hls`)
      .run();
    await env.MEDIA.put(`recordings/${live.streamId}/${live.sessionId}/hls/master.m3u8`, MASTER);
    await play(`${live.playbackId}/master.m3u8`);
    await play(`${recordingPlaybackId}/master.m3u8`);
    await settle();
    await api(ws, 'PATCH', `/live/streams/${live.streamId}`, { accessPolicy: 'private' });
    await play(`${live.playbackId}/master.m3u8`, 403);
    await play(`${recordingPlaybackId}/master.m3u8`, 403);
  });

  it('a deleted signing key stops opening playback at the next request', async () => {
    const live = await liveStream('private');
    const { keyId, token } = await signingToken(live.playbackId);
    await play(`${live.playbackId}/master.m3u8?token=${token}`);
    await settle();
    expect((await api(ws, 'DELETE', `/signing-keys/${keyId}`)).status).toBe(204);
    const response = await call(`/hls/${live.playbackId}/master.m3u8?token=${token}`);
    expect(response.status).toBe(403);
    expect((await json(response)).reason).toBe('unknown-key');
  });

  it('a recording not ready yet is not cached: it plays as soon as its media is', async () => {
    const live = await liveStream();
    const playbackId = `pbwait${live.streamId.slice(3)}`;
    const prefix = `live/${live.streamId}/${live.sessionId}`;
    await env.DB.prepare(
      `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id) VALUES (?, ?, ?, 'public', 'recording', ?)`,
    )
      .bind(playbackId, live.streamId, ws.id, `rec_${live.sessionId.slice(4)}`)
      .run();
    const early = await call(`/hls/${playbackId}/master.m3u8`);
    expect(early.status).toBe(404);
    expect((await json(early)).type).toBe('https://riverhead.dev/problems/not-ready');
    await settle();
    await env.MEDIA.put(`${prefix}/master.m3u8`, MASTER);
    await env.DB.prepare('UPDATE playback_ids SET media_prefix = ? WHERE id = ?').bind(prefix, playbackId).run();
    await play(`${playbackId}/master.m3u8`);
  });
});

describe('GET /admin/playback-stats', () => {
  it('is for the admin token only', async () => {
    expect((await call('/admin/playback-stats')).status).toBe(401);
    expect((await call('/admin/playback-stats', { headers: { authorization: ws.auth } })).status).toBe(401);
  });
});
