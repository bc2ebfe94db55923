// Live media playlists through the Worker under the stream's playlistWindow (sliding 60 s by default, dvr: the whole
// session), windowed after the cached fetch so the origin is asked once whatever the window, and private tokens
// carried on. The stub origin answers a long session (80 segments of 2 s with PROGRAM-DATE-TIME, as ffmpeg writes).
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import { env } from 'cloudflare:workers';
import { api, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';
import { LIVE_TTL_MS } from '../../edge/playback-cache.ts';
import { MASTER, PLAYLIST_TYPE, datedMediaPlaylist } from './dated-playlists.ts';

const T0 = Date.parse('2026-11-28T12:00:00.000Z');
const SEGMENTS = 80;
const MEDIA = datedMediaPlaylist(T0, SEGMENTS);

let originFetch: MockInstance<typeof fetch>;
const asked: string[] = [];
let ws: Workspace;
beforeAll(async () => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    asked.push(url.pathname);
    if (url.pathname.endsWith('/master.m3u8')) return new Response(MASTER, { headers: { 'content-type': PLAYLIST_TYPE } });
    if (url.pathname.endsWith('/index.m3u8')) return new Response(MEDIA, { headers: { 'content-type': PLAYLIST_TYPE } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('playback-windows');
});
afterAll(() => originFetch.mockRestore());

async function liveStream(body: Record<string, unknown> = {}) {
  const stream = await createStream(ws, body);
  const grant = await json(await authorize(stream.streamKey));
  return { stream, playbackId: stream.playbackIds[0].id as string, sessionId: grant.sessionId as string };
}
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());
const uris = (playlist: string) => playlist.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe("a stream's playlistWindow", () => {
  it('defaults to sliding: the last 60 s, MEDIA-SEQUENCE advanced, no longer typed EVENT; the master is unchanged', async () => {
    const live = await liveStream();
    expect(live.stream.playlistWindow).toBe('sliding');
    const master = await call(`/hls/${live.playbackId}/master.m3u8`);
    expect(await text(master)).toBe(MASTER.replace('source/', `${live.sessionId}/source/`));
    const media = await call(`/hls/${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(media.status).toBe(200);
    expect(media.headers.get('content-type')).toBe(PLAYLIST_TYPE);
    expect(media.headers.get('cache-control')).toBe('public, max-age=1');
    const body = await text(media);
    expect(uris(body)).toEqual(Array.from({ length: 30 }, (_, k) => `a1b2c3-${String(50 + k).padStart(5, '0')}.ts`));
    expect(body).toContain('#EXT-X-MEDIA-SEQUENCE:50\n');
    expect(body).not.toContain('PLAYLIST-TYPE');
  });

  it('dvr (on create or PATCH): the whole session, as the origin wrote it, from the same cached copy', async () => {
    const live = await liveStream();
    const path = `/hls/${live.playbackId}/${live.sessionId}/source/index.m3u8`;
    expect(uris(await text(await call(path)))).toHaveLength(30);
    const patched = await api(ws, 'PATCH', `/live/streams/${live.stream.streamId}`, { playlistWindow: 'dvr' });
    expect(patched.status).toBe(200);
    expect((await json(patched)).data.playlistWindow).toBe('dvr');
    expect(await text(await call(path))).toBe(MEDIA); // the PATCH purged the cached live answer: seen at once
    // Windowing happens after the cache: one origin fetch of the playlist served both windows (within its max-age).
    expect(asked.filter((p) => p.includes(live.sessionId) && p.endsWith('/index.m3u8')).length).toBeLessThanOrEqual(2);

    const dvr = await liveStream({ playlistWindow: 'dvr' });
    expect(dvr.stream.playlistWindow).toBe('dvr');
    expect(await text(await call(`/hls/${dvr.playbackId}/${dvr.sessionId}/source/index.m3u8`))).toBe(MEDIA);
    expect((await json(await api(ws, 'GET', `/live/streams/${dvr.stream.streamId}`))).data.playlistWindow).toBe('dvr');
  });

  it('refuses a window it does not know, naming the field', async () => {
    const response = await api(ws, 'POST', '/live/streams', { playlistWindow: 'forever' });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await json(response))).toContain('playlistWindow');
  });

  it('a private playback ID gets its window with the token on every URI', async () => {
    const live = await liveStream({ accessPolicy: 'private' });
    const key = (await json(await api(ws, 'POST', '/signing-keys'))).data as { signingKeyId: string; privateKey: string };
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
      .setSubject(live.playbackId)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(await importPKCS8(atob(key.privateKey), 'RS256'));
    const refused = await call(`/hls/${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();
    const media = await call(`/hls/${live.playbackId}/${live.sessionId}/source/index.m3u8?token=${token}`);
    expect(media.status).toBe(200);
    expect(media.headers.get('cache-control')).toBe('private, max-age=1');
    const listed = uris(await text(media));
    expect(listed).toHaveLength(30);
    expect(listed[0]).toBe(`a1b2c3-00050.ts?token=${encodeURIComponent(token)}`);
  });

  it('an answer cached before a PATCH in another data center follows within the live TTL', async () => {
    const live = await liveStream();
    const path = `/hls/${live.playbackId}/${live.sessionId}/source/index.m3u8`;
    expect(uris(await text(await call(path)))).toHaveLength(30);
    // Straight to the object: no route purge, as in a data center other than the PATCH's.
    const stub = env.STREAMS.get(env.STREAMS.idFromName(live.stream.streamId));
    expect((await stub.update(ws.id, { playlistWindow: 'dvr' })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, LIVE_TTL_MS + 100));
    expect(uris(await text(await call(path)))).toHaveLength(SEGMENTS);
  });
});
