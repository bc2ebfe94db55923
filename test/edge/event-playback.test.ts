// An event's playback IDs through the Worker (issue 12): the public one refused before LIVE, start-over (DVR) from the
// go-live moment while LIVE, the live part as a VOD cut from the session's durable playlists in R2, allowed domains,
// and the end; the preview one playing the whole session. The public ID fetches only the segments its playlists list
// from the go-live on (a guessed rehearsal segment is refused). No waiting out the cached playback answers: every
// status change purges them. The event is driven through its StreamObject's RPC; the stub origin serves a session of
// 2 s segments dated (PROGRAM-DATE-TIME, as ffmpeg writes it) around the test's now.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { authorize, call, createWorkspace, json, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';
import { MASTER, PLAYLIST_TYPE, datedMediaPlaylist } from './dated-playlists.ts';
import { createEventViaRpc, eventObject } from './event-rpc.ts';
import type { CreateLiveEventRequest } from '../../shared/schemas/live-event.ts';
import type { EventCommandResult } from '../../edge/event/event-flow.ts';

const SEGMENTS = 60;
const SEGMENT = new Uint8Array(376).fill(0x47);
/** When the session's first segment starts: a minute before the test (the rehearsal), its list a minute beyond. */
let base = Date.now();

const media = () => datedMediaPlaylist(base, SEGMENTS);

let originFetch: MockInstance<typeof fetch>;
let ws: Workspace;
beforeAll(async () => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.pathname.endsWith('/master.m3u8')) return new Response(MASTER, { headers: { 'content-type': PLAYLIST_TYPE } });
    if (url.pathname.endsWith('/source/index.m3u8')) return new Response(media(), { headers: { 'content-type': PLAYLIST_TYPE } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('event-playback');
});
afterAll(() => originFetch.mockRestore());

const object = eventObject;

async function createEvent(request: Partial<CreateLiveEventRequest>) {
  expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200); // an origin able to take it: WAIT_FOR_PREVIEW
  const { event, ...created } = await createEventViaRpc(
    ws.id,
    {
      type: 'LIVE_TYPE_LIVE',
      broadcastMode: 'BROADCAST_MODE_DVR',
      resolution: '720p',
      security: { accessPolicy: 'public', allowedDomains: [] },
      ullEnabled: false,
      scheduledStartAt: new Date(Date.now() + 60_000).toISOString(),
      vod: { enabled: true, startAt: null, endAt: null },
      metadata: {},
      ...request,
    },
    { record: true },
  );
  expect(event.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
  return created;
}
type Created = Awaited<ReturnType<typeof createEvent>>;

async function operate(e: Created, op: 'preview' | 'start' | 'end' | 'cancel') {
  const result = (await object(e.streamId).eventOperation(ws.id, e.eventId, op, {})) as EventCommandResult;
  if (!result.ok) throw new Error(`${op} refused: ${JSON.stringify(result)}`);
  return result.event;
}

const hls = (path: string, headers: Record<string, string> = {}) => call(`/hls/${path}`, { headers });
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());
const uris = (playlist: string) => playlist.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const name = (i: number) => `a1b2c3-${String(i).padStart(5, '0')}.ts`;
const dates = (playlist: string) => [...playlist.matchAll(/^#EXT-X-PROGRAM-DATE-TIME:(.*)$/gm)].map((m) => Date.parse(m[1]!.replace(/(\d{2})(\d{2})$/, '$1:$2')));

async function refusal(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const problem = await json(response);
  expect(problem.type).toBe(`https://riverhead.dev/problems/${type}`);
  return problem as { detail: string };
}

describe("an event's playback", () => {
  it('public refused before LIVE, DVR from the go-live, the live part as VOD, allowed domains, then gone; preview plays it all', async () => {
    base = Date.now() - 60_000;
    const e = await createEvent({});
    const notLive = await refusal(await hls(`${e.publicPlaybackId}/master.m3u8`), 403, 'event-not-live');
    expect(notLive.detail).toContain('LIVE_STATUS_WAIT_FOR_PREVIEW');
    await refusal(await hls(`${e.previewPlaybackId}/master.m3u8`), 404, 'not-live'); // no rehearsal session yet

    // Rehearsal: the preview ID plays the whole session, the public one still nothing.
    await operate(e, 'preview');
    const grant = await json(await authorize(e.streamKey));
    const sessionId = grant.sessionId as string;
    await refusal(await hls(`${e.publicPlaybackId}/master.m3u8`), 403, 'event-not-live');
    expect(await text(await hls(`${e.previewPlaybackId}/${sessionId}/source/index.m3u8`))).toBe(media());
    const prefix = `live/${e.streamId}/${sessionId}`;
    for (let i = 0; i < SEGMENTS; i++) await env.MEDIA.put(`${prefix}/source/${name(i)}`, SEGMENT); // shipped to R2
    const rehearsal = await hls(`${e.previewPlaybackId}/${sessionId}/source/${name(0)}`);
    expect(rehearsal.status).toBe(200);
    await rehearsal.arrayBuffer();

    // LIVE, DVR mode: from the segment boundary nearest to the go-live moment, never the rehearsal before it.
    const live = await operate(e, 'start');
    const liveStartedAt = Date.parse(live.liveStartedAt!);
    const master = await hls(`${e.publicPlaybackId}/master.m3u8`);
    expect(await text(master)).toBe(MASTER.replace('source/', `${sessionId}/source/`));
    const dvr = await text(await hls(`${e.publicPlaybackId}/${sessionId}/source/index.m3u8`));
    const first = Math.round((liveStartedAt - base) / 2000);
    expect(dvr).toContain(`#EXT-X-MEDIA-SEQUENCE:${first}\n`);
    expect(dvr).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(uris(dvr)).toEqual(Array.from({ length: SEGMENTS - first }, (_, k) => `a1b2c3-${String(first + k).padStart(5, '0')}.ts`));
    expect(Math.abs(dates(dvr)[0]! - liveStartedAt)).toBeLessThanOrEqual(1000);
    expect(await text(await hls(`${e.previewPlaybackId}/${sessionId}/source/index.m3u8`))).toBe(media());

    // Segments: the public ID fetches what its playlist lists, never a rehearsal one whose name was guessed (or seen on
    // the preview), nor another leg's or rendition's; one newer than the list (the next of its leg) is not refused as such.
    const firstLive = await hls(`${e.publicPlaybackId}/${sessionId}/source/${name(first)}`);
    expect(firstLive.status).toBe(200);
    expect(new Uint8Array(await firstLive.arrayBuffer())).toEqual(SEGMENT);
    for (const guessed of [name(0), name(first - 1), 'ffffff-00070.ts', 'thumbnail.jpg']) {
      const detail = (await refusal(await hls(`${e.publicPlaybackId}/${sessionId}/source/${guessed}`), 404, 'segment-not-public')).detail;
      expect(detail).toContain('go-live');
    }
    await refusal(await hls(`${e.publicPlaybackId}/${sessionId}/240p/${name(first)}`), 404, 'segment-not-public'); // no such rendition
    await refusal(await hls(`${e.publicPlaybackId}/${sessionId}/source/${name(SEGMENTS)}`), 404, 'not-found'); // not shipped yet
    // What the check costs: the rendition playlist comes from the cache the playlist requests fill (max-age 1 s), so a
    // burst of segment requests asks the origin for it at most once per second, not once per segment.
    const playlistFetches = () => originFetch.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).endsWith('/source/index.m3u8')).length;
    const before = playlistFetches();
    const burstStart = Date.now();
    for (let k = 0; k < 40; k++) {
      const response = await hls(`${e.publicPlaybackId}/${sessionId}/source/${name(first + (k % (SEGMENTS - first)))}`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const burstSeconds = (Date.now() - burstStart) / 1000;
    expect(playlistFetches() - before).toBeLessThanOrEqual(Math.ceil(burstSeconds) + 1);
    console.log(JSON.stringify({ figure: 'event-segment-check', segmentRequests: 40, seconds: burstSeconds, playlistOriginFetches: playlistFetches() - before }));
    const previewOld = await hls(`${e.previewPlaybackId}/${sessionId}/source/${name(first - 1)}`);
    expect(previewOld.status).toBe(200); // the producer's preview keeps playing everything
    await previewOld.arrayBuffer();

    // The session's durable playlists in R2, then the end: the VOD is the live part only.
    await env.MEDIA.put(`${prefix}/master.m3u8`, MASTER);
    await env.MEDIA.put(`${prefix}/source/index.m3u8`, media());
    await new Promise((r) => setTimeout(r, 3000)); // a live part of about five seconds
    const ended = await operate(e, 'end');
    const liveEndedAt = Date.parse(ended.liveEndedAt!);
    for (let i = 0; i < 50; i++) {
      const event = await object(e.streamId).getEvent(ws.id, e.eventId);
      if (event?.status === 'LIVE_STATUS_VOD') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await object(e.streamId).getEvent(ws.id, e.eventId))?.status).toBe('LIVE_STATUS_VOD');
    const vodMaster = await text(await hls(`${e.publicPlaybackId}/master.m3u8`));
    expect(vodMaster).toBe(MASTER.replace('source/', `${sessionId}/source/`));
    const vod = await text(await hls(`${e.publicPlaybackId}/${sessionId}/source/index.m3u8`));
    const last = Math.round((liveEndedAt - base) / 2000); // the boundary nearest to the end
    expect(uris(vod)).toEqual(Array.from({ length: last - first }, (_, k) => `a1b2c3-${String(first + k).padStart(5, '0')}.ts`));
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD\n');
    expect(vod.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(Math.abs(dates(vod)[0]! - liveStartedAt)).toBeLessThanOrEqual(1000);
    expect(Math.abs(dates(vod).at(-1)! + 2000 - liveEndedAt)).toBeLessThanOrEqual(1000);
    for (const listed of [uris(vod)[0], uris(vod).at(-1)]) {
      const segment = await hls(`${e.publicPlaybackId}/${sessionId}/source/${listed}`);
      expect(segment.status).toBe(200);
      expect(new Uint8Array(await segment.arrayBuffer())).toEqual(SEGMENT);
    }
    // Neither the rehearsal nor what followed the end belongs to the VOD, though both are in R2.
    for (const outside of [name(first - 1), name(last), name(SEGMENTS - 1)]) {
      await refusal(await hls(`${e.publicPlaybackId}/${sessionId}/source/${outside}`), 404, 'segment-not-public');
    }

    // Allowed domains: the page's host from Origin, else Referer; none named is refused too.
    const patched = (await object(e.streamId).updateEvent(ws.id, e.eventId, { security: { accessPolicy: 'public', allowedDomains: ['*.example.com'] } })) as EventCommandResult;
    expect(patched.ok).toBe(true);
    await refusal(await hls(`${e.publicPlaybackId}/master.m3u8`), 403, 'domain-not-allowed');
    await refusal(await hls(`${e.publicPlaybackId}/master.m3u8`, { origin: 'https://example.org' }), 403, 'domain-not-allowed');
    const allowed = await hls(`${e.publicPlaybackId}/master.m3u8`, { origin: 'https://player.example.com' });
    expect(allowed.status).toBe(200);
    await allowed.arrayBuffer();
    const byReferer = await hls(`${e.publicPlaybackId}/master.m3u8`, { referer: 'https://www.example.com/watch' });
    expect(byReferer.status).toBe(200);
    await byReferer.arrayBuffer();

    // Closed: both IDs are gone for good.
    await operate(e, 'cancel');
    const headers = { origin: 'https://player.example.com' };
    expect((await refusal(await hls(`${e.publicPlaybackId}/master.m3u8`, headers), 410, 'event-ended')).detail).toContain('LIVE_STATUS_CLOSED');
    await refusal(await hls(`${e.previewPlaybackId}/master.m3u8`, headers), 410, 'event-ended');
  }, 30_000);

  it('TRADITIONAL_LIVE: the public ID gets the last 60 s since the go-live, not typed EVENT', async () => {
    base = Date.now() - 100_000; // segments from 100 s before now to 20 s after
    const e = await createEvent({ broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE', vod: { enabled: false, startAt: null, endAt: null } });
    await operate(e, 'preview');
    const sessionId = (await json(await authorize(e.streamKey))).sessionId as string;
    const live = await operate(e, 'start');
    const first = Math.round((Date.parse(live.liveStartedAt!) - base) / 2000);
    const playlist = await text(await hls(`${e.publicPlaybackId}/${sessionId}/source/index.m3u8`));
    await refusal(await hls(`${e.publicPlaybackId}/${sessionId}/source/${name(first - 1)}`), 404, 'segment-not-public');
    // From the go-live to the end of the list is ~20 s, under the window: all of it, and nothing of the rehearsal.
    expect(uris(playlist)[0]).toBe(`a1b2c3-${String(first).padStart(5, '0')}.ts`);
    expect(uris(playlist)).toHaveLength(SEGMENTS - first);
    expect(playlist).not.toContain('PLAYLIST-TYPE');
  });
});
