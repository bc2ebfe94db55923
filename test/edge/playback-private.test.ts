// /hls through the edge for private playback IDs: tokens checked on every object, carried on in rewritten playlists,
// never part of the cache key; public playback unchanged. The origin is a stub answering the live session's files.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import { api, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';

let ws: Workspace;
let other: Workspace;
let originFetch: MockInstance<typeof fetch>;
const originRequests: string[] = [];

const MASTER = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=854x480,CODECS="avc1.64001f,mp4a.40.2"',
  'source/index.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"',
  '360p/index.m3u8',
  '',
].join('\n');
const MEDIA = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXTINF:2.000,', 'seg_00000.ts', '#EXTINF:2.000,', 'seg_00001.ts', ''].join('\n');
const SEGMENT = new Uint8Array(188).fill(0x47);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]);

beforeAll(async () => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    originRequests.push(url.pathname);
    if (url.pathname.endsWith('/master.m3u8')) return new Response(MASTER, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
    if (url.pathname.endsWith('/index.m3u8')) return new Response(MEDIA, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
    if (url.pathname.endsWith('.ts')) return new Response(SEGMENT, { headers: { 'content-type': 'video/mp2t' } });
    if (url.pathname.endsWith('/thumbnail.jpg')) return new Response(JPEG, { headers: { 'content-type': 'image/jpeg' } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('private-playback');
  other = await createWorkspace('private-playback-other');
});
afterAll(() => {
  originFetch.mockRestore();
});

interface Key {
  signingKeyId: string;
  privateKey: string;
}
async function signingKey(workspace: Workspace): Promise<Key> {
  return (await json(await api(workspace, 'POST', '/signing-keys'))).data;
}

async function playbackToken(key: Key, claims: { sub: string; exp?: number }, kid = key.signingKeyId) {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(claims.sub);
  jwt.setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 600);
  return jwt.sign(await importPKCS8(atob(key.privateKey), 'RS256'));
}

/** A live stream: created, then its encoder authorized (the session opens on the stub origin). */
async function liveStream(workspace: Workspace, accessPolicy: 'public' | 'private') {
  const stream = await createStream(workspace, { accessPolicy });
  const grant = await json(await authorize(stream.streamKey));
  return { stream, playbackId: stream.playbackIds[0].id as string, sessionId: grant.sessionId as string };
}

const hls = (path: string) => call(`/hls/${path}`);
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());
const uris = (playlist: string) => playlist.split('\n').filter((l) => l && !l.startsWith('#'));

describe('private playback', () => {
  let key: Key;
  let live: Awaited<ReturnType<typeof liveStream>>;
  beforeAll(async () => {
    key = await signingKey(ws);
    live = await liveStream(ws, 'private');
  });

  it('refuses without a valid token, with no media, whatever the object', async () => {
    const otherLive = await liveStream(ws, 'private');
    const deletedKey = await signingKey(ws);
    const deletedToken = await playbackToken(deletedKey, { sub: live.playbackId });
    expect((await api(ws, 'DELETE', `/signing-keys/${deletedKey.signingKeyId}`)).status).toBe(204);
    const foreignKey = await signingKey(other);

    const cases: [string, string | null][] = [
      ['missing', null],
      ['expired', await playbackToken(key, { sub: live.playbackId, exp: Math.floor(Date.now() / 1000) - 10 })],
      ['wrong-playback-id', await playbackToken(key, { sub: otherLive.playbackId })],
      ['unknown-key', deletedToken],
      ['unknown-key', await playbackToken(foreignKey, { sub: live.playbackId })],
      ['bad-signature', await playbackToken(foreignKey, { sub: live.playbackId }, key.signingKeyId)],
      ['malformed', 'abc.def.ghi'],
      // exp in year 9999: a token that never dies is as good as a public playback id, so it is refused.
      ['lifetime-too-long', await playbackToken(key, { sub: live.playbackId, exp: Date.UTC(9999, 0, 1) / 1000 })],
    ];
    const before = originRequests.length;
    for (const [reason, token] of cases) {
      for (const path of ['master.m3u8', `${live.sessionId}/source/index.m3u8`, `${live.sessionId}/source/seg_00000.ts`, 'thumbnail.jpg']) {
        const response = await hls(`${live.playbackId}/${path}${token ? `?token=${token}` : ''}`);
        expect(response.status, `${reason} ${path}`).toBe(403);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        const problem = await json(response);
        expect(problem.reason).toBe(reason);
        expect(JSON.stringify(problem)).not.toContain('#EXTM3U');
      }
    }
    expect(originRequests.length).toBe(before);
  });

  it('with a valid token: the master and child playlists carry the token on, segments and thumbnail play', async () => {
    const token = await playbackToken(key, { sub: live.playbackId });
    const master = await hls(`${live.playbackId}/master.m3u8?token=${token}`);
    expect(master.status).toBe(200);
    expect(master.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(master.headers.get('cache-control')).toBe('private, max-age=1');
    expect(master.headers.get('access-control-allow-origin')).toBe('*');
    const variants = uris(await text(master));
    expect(variants).toEqual([
      `${live.sessionId}/source/index.m3u8?token=${token}`,
      `${live.sessionId}/360p/index.m3u8?token=${token}`,
    ]);

    const media = await hls(`${live.playbackId}/${variants[0]}`);
    expect(media.status).toBe(200);
    const segments = uris(await text(media));
    expect(segments).toEqual([`seg_00000.ts?token=${token}`, `seg_00001.ts?token=${token}`]);

    const segment = await hls(`${live.playbackId}/${live.sessionId}/source/${segments[0]}`);
    expect(segment.status).toBe(200);
    expect(new Uint8Array(await segment.arrayBuffer())).toEqual(SEGMENT);
    expect(segment.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');

    const thumbnail = await hls(`${live.playbackId}/thumbnail.jpg?token=${token}`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(new Uint8Array(await thumbnail.arrayBuffer())).toEqual(JPEG);
  });

  it('the cache key leaves the token out: viewers with different tokens share one origin fetch per object', async () => {
    const fresh = await liveStream(ws, 'private');
    const tokens = await Promise.all([1, 2, 3].map((i) => playbackToken(key, { sub: fresh.playbackId, exp: Math.floor(Date.now() / 1000) + 600 + i })));
    const before = originRequests.length;
    for (const token of tokens) {
      const master = await hls(`${fresh.playbackId}/master.m3u8?token=${token}`);
      expect(uris(await text(master))[0]).toContain(`token=${token}`);
      const media = await hls(`${fresh.playbackId}/${fresh.sessionId}/source/index.m3u8?token=${token}`);
      expect(uris(await text(media))[0]).toBe(`seg_00000.ts?token=${token}`);
      expect((await hls(`${fresh.playbackId}/${fresh.sessionId}/source/seg_00000.ts?token=${token}`)).status).toBe(200);
    }
    const fetched = originRequests.slice(before).filter((p) => p.includes(fresh.stream.streamId));
    expect(fetched.sort()).toEqual(
      [`/hls/${fresh.stream.streamId}/${fresh.sessionId}/master.m3u8`, `/hls/${fresh.stream.streamId}/${fresh.sessionId}/source/index.m3u8`, `/hls/${fresh.stream.streamId}/${fresh.sessionId}/source/seg_00000.ts`].sort(),
    );
  });

  it('switching a stream to private closes it to tokenless viewers at once, and back', async () => {
    const fresh = await liveStream(ws, 'public');
    expect((await hls(`${fresh.playbackId}/master.m3u8`)).status).toBe(200);
    await api(ws, 'PATCH', `/live/streams/${fresh.stream.streamId}`, { accessPolicy: 'private' });
    expect((await hls(`${fresh.playbackId}/master.m3u8`)).status).toBe(403);
    const token = await playbackToken(key, { sub: fresh.playbackId });
    expect((await hls(`${fresh.playbackId}/master.m3u8?token=${token}`)).status).toBe(200);
    await api(ws, 'PATCH', `/live/streams/${fresh.stream.streamId}`, { accessPolicy: 'public' });
    expect((await hls(`${fresh.playbackId}/master.m3u8`)).status).toBe(200);
  });
});

describe('public playback', () => {
  it('needs no token, ignores one, and keeps public caching and plain URIs', async () => {
    const live = await liveStream(ws, 'public');
    const master = await hls(`${live.playbackId}/master.m3u8?token=whatever`);
    expect(master.status).toBe(200);
    expect(master.headers.get('cache-control')).toBe('public, max-age=1');
    expect(uris(await text(master))).toEqual([`${live.sessionId}/source/index.m3u8`, `${live.sessionId}/360p/index.m3u8`]);
    const media = await hls(`${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(uris(await text(media))).toEqual(['seg_00000.ts', 'seg_00001.ts']);
    expect(media.headers.get('cache-control')).toBe('public, max-age=1');
    const segment = await hls(`${live.playbackId}/${live.sessionId}/source/seg_00001.ts`);
    expect(segment.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const thumbnail = await hls(`${live.playbackId}/thumbnail.jpg`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('cache-control')).toBe('public, max-age=4');
  });

  it('concurrent viewers of one object cost the origin one fetch', async () => {
    const live = await liveStream(ws, 'public');
    const before = originRequests.length;
    const responses = await Promise.all(Array.from({ length: 20 }, () => hls(`${live.playbackId}/${live.sessionId}/360p/seg_00000.ts`)));
    for (const r of responses) expect(r.status).toBe(200);
    expect(originRequests.slice(before).filter((p) => p.endsWith('/360p/seg_00000.ts'))).toHaveLength(1);
  });

  it('unknown playback IDs are 404, not 403', async () => {
    expect((await hls('nope/master.m3u8')).status).toBe(404);
  });
});
