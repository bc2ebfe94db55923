// Playback over durable media (issue 11): live segments come from R2 first (live/{streamId}/{sessionId}/…, where the
// origin ships every closed segment), the origin holding the session only for one R2 does not have; live playlists
// come from that origin, signed, with R2's durable copy when the origin is down. A recording over its session's
// durable media plays from those playlists closed as VOD, and its MP4 is not-ready until exported.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { ORIGIN_SECRET, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';
import { deriveOriginSecret } from '../../shared/origin-credentials.ts';
import { verifyRequest } from '../../shared/request-signing.ts';

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const ORIGIN_MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nsource/index.m3u8\n';
const ORIGIN_MEDIA = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\nb0b0b0-00007.ts\n';
const DURABLE_MEDIA = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-PLAYLIST-TYPE:EVENT',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-MEDIA-SEQUENCE:0',
  '#EXTINF:2.000,',
  'a1a1a1-00000.ts',
  '#EXT-X-DISCONTINUITY',
  '#EXTINF:2.000,',
  'b0b0b0-00001.ts',
  '',
].join('\n');
const fromOrigin = new Uint8Array(188).fill(0x47);
const fromR2 = new Uint8Array(376).fill(0x47);

let originFetch: MockInstance<typeof fetch>;
let originDown = false;
/** Sessions whose folder the stub origin no longer has. */
const missingAtOrigin = new Set<string>();
/** Each origin request: its path and whether it carried the edge's signature for origin-test (the session's holder). */
const originRequests: { path: string; signed: boolean }[] = [];
let originTestSecret: string;
let ws: Workspace;

beforeAll(async () => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
    const verdict = await verifyRequest(originTestSecret, 'GET', `${url.pathname}${url.search}`, '', headers);
    originRequests.push({ path: url.pathname, signed: verdict.ok });
    if (originDown) throw new Error('Network connection lost.');
    if ([...missingAtOrigin].some((sessionId) => url.pathname.includes(`/${sessionId}/`))) return new Response('gone', { status: 404 });
    if (url.pathname.endsWith('/master.m3u8')) return new Response(ORIGIN_MASTER, { headers: { 'content-type': PLAYLIST_TYPE } });
    if (url.pathname.endsWith('/index.m3u8')) return new Response(ORIGIN_MEDIA, { headers: { 'content-type': PLAYLIST_TYPE } });
    if (url.pathname.endsWith('.ts')) return new Response(fromOrigin, { headers: { 'content-type': 'video/mp2t' } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('playback-durable');
  originTestSecret = await deriveOriginSecret(ORIGIN_SECRET, 'origin-test', 1);
});
afterAll(() => originFetch.mockRestore());

async function liveStream() {
  originDown = false;
  const stream = await createStream(ws);
  const grant = await json(await authorize(stream.streamKey));
  const streamId = stream.streamId as string;
  const sessionId = grant.sessionId as string;
  return { streamId, sessionId, playbackId: stream.playbackIds[0].id as string, prefix: `live/${streamId}/${sessionId}` };
}

const hls = (path: string, init?: RequestInit) => call(`/hls/${path}`, init);
const bytes = async (response: Response) => new Uint8Array(await response.arrayBuffer());
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());
const askedFor = (streamId: string) => originRequests.filter((r) => r.path.includes(streamId));

describe('live playback over durable media', () => {
  it('serves a segment from R2 when it is there, without asking the origin', async () => {
    const live = await liveStream();
    await env.MEDIA.put(`${live.prefix}/source/a1a1a1-00000.ts`, fromR2, { httpMetadata: { contentType: 'video/mp2t' } });
    const segment = await hls(`${live.playbackId}/${live.sessionId}/source/a1a1a1-00000.ts`);
    expect(segment.status).toBe(200);
    expect(segment.headers.get('content-type')).toBe('video/mp2t');
    expect(segment.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await bytes(segment)).toEqual(fromR2);
    expect(askedFor(live.streamId)).toEqual([]);
  });

  it('falls back to the origin (signed for it) for a segment R2 does not have', async () => {
    const live = await liveStream();
    const segment = await hls(`${live.playbackId}/${live.sessionId}/source/b0b0b0-00007.ts`);
    expect(segment.status).toBe(200);
    expect(await bytes(segment)).toEqual(fromOrigin);
    expect(askedFor(live.streamId)).toEqual([
      { path: `/hls/${live.streamId}/${live.sessionId}/source/b0b0b0-00007.ts`, signed: true },
    ]);
  });

  it('takes live playlists from the origin, signed; R2 has copies but they may lag', async () => {
    const live = await liveStream();
    await env.MEDIA.put(`${live.prefix}/source/index.m3u8`, DURABLE_MEDIA);
    const media = await hls(`${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(await text(media)).toBe(ORIGIN_MEDIA);
    expect(askedFor(live.streamId)).toEqual([{ path: `/hls/${live.streamId}/${live.sessionId}/source/index.m3u8`, signed: true }]);
  });

  it('when the origin dies, every segment its playlists listed still plays (R2), and playlists come from R2', async () => {
    const live = await liveStream();
    await env.MEDIA.put(`${live.prefix}/master.m3u8`, ORIGIN_MASTER);
    await env.MEDIA.put(`${live.prefix}/source/index.m3u8`, DURABLE_MEDIA);
    for (const name of ['a1a1a1-00000.ts', 'b0b0b0-00001.ts']) await env.MEDIA.put(`${live.prefix}/source/${name}`, fromR2);
    originDown = true;
    const master = await hls(`${live.playbackId}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(await text(master)).toContain(`${live.sessionId}/source/index.m3u8`);
    const media = await hls(`${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(media.status).toBe(200);
    const listed = (await text(media)).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(listed).toEqual(['a1a1a1-00000.ts', 'b0b0b0-00001.ts']);
    for (const name of listed) {
      const segment = await hls(`${live.playbackId}/${live.sessionId}/source/${name}`);
      expect(segment.status, name).toBe(200);
      expect(await bytes(segment)).toEqual(fromR2);
    }
    // What neither has is still the origin's 502 (the player retries), not a 404.
    const missing = await hls(`${live.playbackId}/${live.sessionId}/source/b0b0b0-00002.ts`);
    expect(missing.status).toBe(502);
    expect((await json(missing)).type).toBe('https://riverhead.dev/problems/origin-unavailable');
  });

  it('an ended session its origin no longer holds plays its durable playlists from R2', async () => {
    const live = await liveStream();
    const closed = `${DURABLE_MEDIA}#EXT-X-ENDLIST\n`;
    await env.MEDIA.put(`${live.prefix}/source/index.m3u8`, closed);
    // The origin answers 404 for this session's files (its folder is gone) except segments, which R2 has anyway.
    const media = await hls(`${live.playbackId}/${live.sessionId}/source/index.m3u8`);
    expect(media.status).toBe(200);
    expect(await text(media)).toBe(ORIGIN_MEDIA); // the stub origin still has it: the origin's answer wins
    missingAtOrigin.add(live.sessionId);
    const later = await hls(`${live.playbackId}/${live.sessionId}/360p/index.m3u8`);
    expect(later.status).toBe(404); // neither has it
    await later.arrayBuffer();
    await env.MEDIA.put(`${live.prefix}/360p/index.m3u8`, closed);
    const fromDurable = await hls(`${live.playbackId}/${live.sessionId}/360p/index.m3u8`);
    expect(fromDurable.status).toBe(200);
    // The stream's default sliding window lists all of this short session, no longer typed EVENT (it slides).
    expect(await text(fromDurable)).toBe(closed.replace('#EXT-X-PLAYLIST-TYPE:EVENT\n', ''));
  });
});

/** A recording's playback ID over a session's durable media, as the StreamObject indexes it once watchable. */
async function durableRecording(accessPolicy: 'public' | 'private' = 'public') {
  const live = await liveStream();
  const recordingId = `rec_${live.sessionId.slice(4)}`;
  const playbackId = `pbdur${live.sessionId.slice(4)}`;
  await env.DB.prepare(
    `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
     VALUES (?, ?, ?, ?, 'recording', ?, ?)`,
  )
    .bind(playbackId, live.streamId, ws.id, accessPolicy, recordingId, live.prefix)
    .run();
  await env.MEDIA.put(`${live.prefix}/master.m3u8`, ORIGIN_MASTER);
  await env.MEDIA.put(`${live.prefix}/source/index.m3u8`, DURABLE_MEDIA);
  for (const name of ['a1a1a1-00000.ts', 'b0b0b0-00001.ts']) {
    await env.MEDIA.put(`${live.prefix}/source/${name}`, fromR2, { httpMetadata: { contentType: 'video/mp2t' } });
  }
  return { ...live, recordingId, playbackId };
}

describe('a recording over its session’s durable media', () => {
  it('plays the durable master as is and its media playlists closed as VOD', async () => {
    const recording = await durableRecording();
    const master = await hls(`${recording.playbackId}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(master.headers.get('content-type')).toBe(PLAYLIST_TYPE);
    expect(await text(master)).toBe(ORIGIN_MASTER);
    const media = await hls(`${recording.playbackId}/source/index.m3u8`);
    expect(media.status).toBe(200);
    const playlist = await text(media);
    expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(playlist).not.toContain('EVENT');
    expect(playlist.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(playlist.match(/#EXT-X-ENDLIST/g)).toHaveLength(1);
    expect(playlist).toContain('#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nb0b0b0-00001.ts');
    const segment = await hls(`${recording.playbackId}/source/b0b0b0-00001.ts`, { headers: { range: 'bytes=0-187' } });
    expect(segment.status).toBe(206);
    expect(segment.headers.get('content-range')).toBe('bytes 0-187/376');
    expect(segment.headers.get('access-control-allow-origin')).toBe('*');
    await segment.arrayBuffer();
    // The origin is never asked: all of it is in R2.
    expect(askedFor(recording.streamId)).toEqual([]);
  });

  it('does not add a second ENDLIST to a playlist the origin closed', async () => {
    const recording = await durableRecording();
    await env.MEDIA.put(`${recording.prefix}/source/index.m3u8`, `${DURABLE_MEDIA}#EXT-X-ENDLIST\n`);
    const playlist = await text(await hls(`${recording.playbackId}/source/index.m3u8`));
    expect(playlist.match(/#EXT-X-ENDLIST/g)).toHaveLength(1);
  });

  it('answers recording.mp4 not-ready until the export is in R2, then serves it with ranges', async () => {
    const recording = await durableRecording();
    const early = await hls(`${recording.playbackId}/recording.mp4`);
    expect(early.status).toBe(404);
    const problem = await json(early);
    expect(problem.type).toBe('https://riverhead.dev/problems/not-ready');
    expect(problem.detail).toMatch(/still being exported/);
    const mp4 = new TextEncoder().encode('x'.repeat(1000));
    await env.MEDIA.put(`recordings/${recording.recordingId}/recording.mp4`, mp4, { httpMetadata: { contentType: 'video/mp4' } });
    const whole = await hls(`${recording.playbackId}/recording.mp4`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect((await bytes(whole)).length).toBe(1000);
    const tail = await hls(`${recording.playbackId}/recording.mp4`, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe('bytes 990-999/1000');
    await tail.arrayBuffer();
    const beyond = await hls(`${recording.playbackId}/recording.mp4`, { headers: { range: 'bytes=1000-' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */1000');
  });

  it('serves the export’s screenshot as the thumbnail, not-ready before', async () => {
    const recording = await durableRecording();
    const early = await hls(`${recording.playbackId}/thumbnail.jpg`);
    expect(early.status).toBe(404);
    expect((await json(early)).type).toBe('https://riverhead.dev/problems/not-ready');
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
    await env.MEDIA.put(`recordings/${recording.recordingId}/screenshot.jpg`, jpeg, { httpMetadata: { contentType: 'image/jpeg' } });
    const thumbnail = await hls(`${recording.playbackId}/thumbnail.jpg`);
    expect(thumbnail.status).toBe(200);
    expect(await bytes(thumbnail)).toEqual(jpeg);
  });
});
