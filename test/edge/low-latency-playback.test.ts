// LL-HLS playback through the Worker in workerd (issue 15). The origin is a stub (fetch spied, as in the other
// playback tests) answering a low-mode session: LL media playlists (parts, preload hint, rendition reports), held
// requests for _HLS_msn/_HLS_part released by the test, parts, fMP4 segments and init segments. Checked: blocking
// directives pass to the origin (and only they make the cache key), identical held requests share one origin request,
// a hold past 3 target durations is a 503 with Retry-After, the spec's 400s, parts come from the origin only (never
// R2) and are cached as immutable, .m4s segments and init segments come from R2 first, a private token is carried on
// in every URI attribute, the sliding window and delta updates keep parts and sequence numbers right, and an event's
// public ID lets through the parts and init segments of its go-live legs only.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { SignJWT, importPKCS8 } from 'jose';
import { api, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';
import { publicSegments } from '../../edge/event/event-playback-gate.ts';
import { deltaUpdate } from '../../edge/low-latency/delta-update.ts';

vi.setConfig({ testTimeout: 30_000 });

const LEG = 'abc123';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const pad = (n: number) => String(n).padStart(5, '0');

/**
 * A low-mode rendition playlist as the origin renders it (origin/llhls/ll-playlist.ts): `closed` segments of 2 s from
 * msn 0, parts (0.5 s, 4 a segment) for the last 3 closed ones and `currentParts` of the one in progress, its hint,
 * and a rendition report for the other rendition.
 */
function llPlaylist(closed: number, currentParts: number, options: { target?: number; startMs?: number } = {}): string {
  const target = options.target ?? 2;
  const start = options.startMs ?? Date.UTC(2026, 0, 1);
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=${6 * target}.0`,
    '#EXT-X-PART-INF:PART-TARGET=0.5',
    `#EXT-X-MAP:URI="init-${LEG}.mp4"`,
  ];
  const parts = (msn: number, n: number) => {
    for (let p = 0; p < n; p++) lines.push(`#EXT-X-PART:DURATION=0.50000,URI="${LEG}-${pad(msn)}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
  };
  for (let msn = 0; msn < closed; msn++) {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(start + msn * 2000).toISOString()}`);
    if (msn >= closed - 3) parts(msn, 4);
    lines.push('#EXTINF:2.00000,', `${LEG}-${pad(msn)}.m4s`);
  }
  parts(closed, currentParts);
  lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${LEG}-${pad(closed)}.${currentParts}.m4s"`);
  lines.push(`#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=${closed},LAST-PART=${Math.max(0, currentParts - 1)}`);
  return `${lines.join('\n')}\n`;
}

const MASTER = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS="avc1.64001f"', 'source/index.m3u8', ''].join('\n');
const partBody = (name: string) => new TextEncoder().encode(`origin part ${name}`);

/** What the stub origin was asked, as path + query. */
const asked: string[] = [];
/** The playlist each held request (path + query) is answered with, once the test released it. */
const released = new Map<string, string>();
/** Paths whose held requests the origin never answers (until the edge gives up): a silent origin. */
const silent = new Set<string>();
/** Playlists by rendition path suffix, for unheld requests. */
const playlists = new Map<string, string>();
let originFetch: MockInstance<typeof fetch>;

beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const key = url.pathname + url.search;
    asked.push(key);
    const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    if (name === 'master.m3u8') return new Response(MASTER, { headers: { 'content-type': PLAYLIST_TYPE } });
    if (name === 'index.m3u8') {
      if (url.searchParams.has('_HLS_msn')) {
        if ([...silent].some((s) => url.pathname.endsWith(s))) {
          return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
        }
        if (url.searchParams.get('_HLS_msn') === '999') return new Response('too far', { status: 400 });
        if (url.searchParams.get('_HLS_msn') === '998') return new Response('held too long', { status: 503 });
        // Held until the test releases it. Only plain data crosses from the test to this request (a promise or a
        // Response belongs to the context that made it), so the hold polls for it on its own timers; bounded.
        for (const until = Date.now() + 20_000; Date.now() < until && !init?.signal?.aborted; ) {
          const text = released.get(key);
          if (text !== undefined) return new Response(text, { headers: { 'content-type': PLAYLIST_TYPE } });
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        throw new Error('held request never released');
      }
      const text = [...playlists].find(([suffix]) => url.pathname.endsWith(suffix))?.[1];
      return text ? new Response(text, { headers: { 'content-type': PLAYLIST_TYPE } }) : new Response('no', { status: 404 });
    }
    if (/\.\d+\.m4s$/.test(name)) return new Response(partBody(name), { headers: { 'content-type': 'video/iso.segment' } });
    if (name.endsWith('.m4s') || name.endsWith('.mp4')) return new Response(new TextEncoder().encode(`origin ${name}`)); // no type: the edge names it
    return new Response('not found', { status: 404 });
  });
});
afterAll(() => originFetch.mockRestore());

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('low-latency-playback');
});

async function liveStream(options: { accessPolicy?: 'public' | 'private'; playlistWindow?: 'sliding' | 'dvr' } = {}) {
  const stream = await createStream(ws, { latencyMode: 'low', ...options });
  const grant = await json(await authorize(stream.streamKey));
  return { streamId: stream.streamId as string, playbackId: stream.playbackIds[0].id as string, sessionId: grant.sessionId as string };
}

const hls = (path: string, init: RequestInit = {}) => call(`/hls/${path}`, init);
const text = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());
const askedFor = (fragment: string) => asked.filter((a) => a.includes(fragment));

/** Releases the held origin requests for `key` once one is there. */
async function release(key: string, playlist: string) {
  await vi.waitFor(() => expect(asked).toContain(key), { timeout: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 200)); // the other viewers' requests arrive meanwhile
  released.set(key, playlist);
}

describe('blocking playlist reload through the edge', () => {
  it('N identical held requests share one origin request carrying only the directives; the answer is cached by them', async () => {
    const s = await liveStream({ playlistWindow: 'dvr' });
    const path = `${s.playbackId}/${s.sessionId}/source/index.m3u8`;
    const originKey = `/hls/${s.streamId}/${s.sessionId}/source/index.m3u8?_HLS_msn=5&_HLS_part=2`;
    // Twenty viewers, their other parameters all different (and in another order): one request to the origin.
    const viewers = Array.from({ length: 20 }, (_, i) => hls(`${path}?_HLS_part=2&utm=${i}&_HLS_msn=5`));
    await release(originKey, llPlaylist(5, 3));
    const answers = await Promise.all(viewers);
    const bodies = await Promise.all(answers.map((a) => (expect(a.status).toBe(200), text(a))));
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain(`#EXT-X-PART:DURATION=0.50000,URI="${LEG}-00005.2.m4s"`);
    expect(askedFor(`/${s.sessionId}/source/index.m3u8?`)).toEqual([originKey]);
    expect(answers[0]!.headers.get('cache-control')).toMatch(/max-age=[1-9]/);

    // The same directives later, any other parameters: the cached answer, no origin request.
    const again = await hls(`${path}?_HLS_msn=5&_HLS_part=2&foo=bar`);
    expect(await text(again)).toBe(bodies[0]);
    expect(askedFor(`/${s.sessionId}/source/index.m3u8?`)).toHaveLength(1);
    // Other directives are another request.
    const next = hls(`${path}?_HLS_msn=5&_HLS_part=3`);
    await release(`/hls/${s.streamId}/${s.sessionId}/source/index.m3u8?_HLS_msn=5&_HLS_part=3`, llPlaylist(5, 4));
    expect((await next).status).toBe(200);
    expect(askedFor(`/${s.sessionId}/source/index.m3u8?`)).toHaveLength(2);
  });

  it('a hold past 3 target durations is a 503 with Retry-After; the origin’s own 503 too; its 400 stays a 400', async () => {
    const s = await liveStream();
    const path = `${s.playbackId}/${s.sessionId}/source/index.m3u8`;
    // A first answer tells the edge this rendition's target duration: 1 s, so its deadline is about 3 s.
    const first = hls(`${path}?_HLS_msn=1`);
    await release(`/hls/${s.streamId}/${s.sessionId}/source/index.m3u8?_HLS_msn=1`, llPlaylist(2, 0, { target: 1 }));
    expect((await first).status).toBe(200);

    silent.add(`/${s.sessionId}/source/index.m3u8`);
    const started = Date.now();
    const late = await hls(`${path}?_HLS_msn=3&_HLS_part=0`);
    const waited = Date.now() - started;
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('1');
    expect((await json(late)).type).toBe('https://riverhead.dev/problems/playlist-not-ready');
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(6000);
    silent.delete(`/${s.sessionId}/source/index.m3u8`);

    const originGaveUp = await hls(`${path}?_HLS_msn=998`);
    expect(originGaveUp.status).toBe(503);
    expect(originGaveUp.headers.get('retry-after')).toBe('1');
    await originGaveUp.arrayBuffer();

    const tooFar = await hls(`${path}?_HLS_msn=999`);
    expect(tooFar.status).toBe(400);
    expect((await json(tooFar)).errors.map((e: any) => e.field)).toEqual(['_HLS_msn']);
  });

  it('malformed directives are 400s naming the parameter, without asking the origin', async () => {
    const s = await liveStream();
    const before = asked.length;
    for (const [query, field] of [
      ['_HLS_part=1', '_HLS_part'],
      ['_HLS_msn=-1', '_HLS_msn'],
      ['_HLS_msn=1&_HLS_msn=2', '_HLS_msn'],
      ['_HLS_msn=1&_HLS_skip=NO', '_HLS_skip'],
    ]) {
      const response = await hls(`${s.playbackId}/${s.sessionId}/source/index.m3u8?${query}`);
      expect(response.status, query).toBe(400);
      expect((await json(response)).errors.map((e: any) => e.field)).toEqual([field]);
    }
    expect(asked.length).toBe(before);
  });
});

describe('parts, segments and init segments', () => {
  it('parts come from the origin only (never R2), cached as immutable; .m4s and init from R2 first, the origin for one not there', async () => {
    const s = await liveStream();
    const prefix = `live/${s.streamId}/${s.sessionId}/source`;
    await env.MEDIA.put(`${prefix}/${LEG}-00007.1.m4s`, 'stale R2 copy of a part');
    await env.MEDIA.put(`${prefix}/${LEG}-00004.m4s`, 'segment from R2');
    await env.MEDIA.put(`${prefix}/init-${LEG}.mp4`, 'init from R2');

    const part = await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00007.1.m4s`);
    expect(part.status).toBe(200);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(partBody(`${LEG}-00007.1.m4s`));
    expect(part.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(part.headers.get('content-type')).toBe('video/iso.segment');
    const again = await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00007.1.m4s`);
    await again.arrayBuffer();
    expect(askedFor(`${LEG}-00007.1.m4s`)).toHaveLength(1);

    const segment = await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00004.m4s`);
    expect(await text(segment)).toBe('segment from R2');
    expect(segment.headers.get('content-type')).toBe('video/iso.segment');
    expect(segment.headers.get('cache-control')).toContain('immutable');
    const init = await hls(`${s.playbackId}/${s.sessionId}/source/init-${LEG}.mp4`);
    expect(await text(init)).toBe('init from R2');
    expect(init.headers.get('content-type')).toBe('video/mp4');
    expect(askedFor(`${LEG}-00004.m4s`)).toHaveLength(0);
    expect(askedFor(`init-${LEG}.mp4`)).toHaveLength(0);

    const notShipped = await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00005.m4s`);
    expect(await text(notShipped)).toBe(`origin ${LEG}-00005.m4s`);
    expect(notShipped.headers.get('content-type')).toBe('video/iso.segment');
  });
});

describe('private playback of LL-HLS', () => {
  it('the token is required on parts and carried on in EXT-X-PART, PRELOAD-HINT, RENDITION-REPORT and MAP URIs', async () => {
    const key = (await json(await api(ws, 'POST', '/signing-keys'))).data;
    const s = await liveStream({ accessPolicy: 'private', playlistWindow: 'dvr' });
    const jwt = new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId }).setSubject(s.playbackId);
    const token = await jwt.setExpirationTime(Math.floor(Date.now() / 1000) + 600).sign(await importPKCS8(atob(key.privateKey), 'RS256'));
    const path = `${s.playbackId}/${s.sessionId}/source/index.m3u8`;
    playlists.set(`/${s.sessionId}/source/index.m3u8`, llPlaylist(6, 2));

    const check = (playlist: string) => {
      const attributes = [...playlist.matchAll(/^#EXT-X-(PART|PRELOAD-HINT|RENDITION-REPORT|MAP):.*?URI="([^"]+)"/gm)];
      expect(new Set(attributes.map((m) => m[1]))).toEqual(new Set(['PART', 'PRELOAD-HINT', 'RENDITION-REPORT', 'MAP']));
      for (const m of attributes) expect(m[2], m[0]).toMatch(new RegExp(`\\?token=${token.replaceAll('.', '\\.')}$`));
      for (const uri of playlist.split('\n').filter((l) => l && !l.startsWith('#'))) expect(uri).toContain(`?token=${token}`);
    };
    const plain = await hls(`${path}?token=${token}`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toMatch(/^private/);
    check(await text(plain));

    const held = hls(`${path}?_HLS_msn=6&_HLS_part=2&token=${token}`);
    await release(`/hls/${s.streamId}/${s.sessionId}/source/index.m3u8?_HLS_msn=6&_HLS_part=2`, llPlaylist(6, 3));
    const heldAnswer = await held;
    expect(heldAnswer.status).toBe(200);
    check(await text(heldAnswer));

    expect((await hls(`${path}?_HLS_msn=6&_HLS_part=2`)).status).toBe(403); // held answers cached, the token still checked
    expect((await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00006.0.m4s`)).status).toBe(403);
    const part = await hls(`${s.playbackId}/${s.sessionId}/source/${LEG}-00006.0.m4s?token=${token}`);
    expect(part.status).toBe(200);
    expect(part.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    await part.arrayBuffer();
  });
});

describe('windows on LL-HLS playlists', () => {
  it('the sliding window keeps the last minute with its parts, hint, reports, SERVER-CONTROL and PART-INF; the MAP carried on', async () => {
    const s = await liveStream(); // sliding by default
    playlists.set(`/${s.sessionId}/source/index.m3u8`, llPlaylist(40, 2));
    const windowed = await text(await hls(`${s.playbackId}/${s.sessionId}/source/index.m3u8`));
    expect(windowed).toContain('#EXT-X-MEDIA-SEQUENCE:10\n');
    expect(windowed).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=12.0');
    expect(windowed).toContain('#EXT-X-PART-INF:PART-TARGET=0.5');
    const uris = windowed.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(uris).toEqual(Array.from({ length: 30 }, (_, k) => `${LEG}-${pad(10 + k)}.m4s`));
    expect(windowed.indexOf(`#EXT-X-MAP:URI="init-${LEG}.mp4"`)).toBeLessThan(windowed.indexOf(`${LEG}-00010.m4s`));
    // Parts of the last three closed segments, each before its own segment; the one in progress after the last.
    for (const msn of [37, 38, 39]) {
      expect(windowed.indexOf(`URI="${LEG}-${pad(msn)}.3.m4s"`)).toBeLessThan(windowed.indexOf(`\n${LEG}-${pad(msn)}.m4s`));
      expect(windowed.indexOf(`URI="${LEG}-${pad(msn)}.0.m4s"`)).toBeGreaterThan(windowed.indexOf(`\n${LEG}-${pad(msn - 1)}.m4s`));
    }
    expect(windowed).toMatch(new RegExp(`${LEG}-00039\\.m4s\\n#EXT-X-PART:DURATION=0\\.50000,URI="${LEG}-00040\\.0\\.m4s",INDEPENDENT=YES\\n#EXT-X-PART:DURATION=0\\.50000,URI="${LEG}-00040\\.1\\.m4s"\\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${LEG}-00040\\.2\\.m4s"\\n#EXT-X-RENDITION-REPORT:`));
  });

  it('_HLS_skip: a delta update of the viewer’s window, EXT-X-SKIP counting from its MEDIA-SEQUENCE', async () => {
    const s = await liveStream();
    const path = `${s.playbackId}/${s.sessionId}/source/index.m3u8`;
    const held = hls(`${path}?_HLS_msn=40&_HLS_part=2&_HLS_skip=YES`);
    // The origin is asked for the full playlist (the delta is cut here, from the window).
    await release(`/hls/${s.streamId}/${s.sessionId}/source/index.m3u8?_HLS_msn=40&_HLS_part=2`, llPlaylist(40, 3));
    const delta = await text(await held);
    expect(delta).toContain('#EXT-X-MEDIA-SEQUENCE:10\n');
    // 30 segments of 2 s, CAN-SKIP-UNTIL 12 s: the first 24 lie wholly before the boundary.
    expect(delta).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=24\n');
    expect(delta).toContain('#EXT-X-VERSION:9');
    const uris = delta.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(uris).toEqual(Array.from({ length: 6 }, (_, k) => `${LEG}-${pad(34 + k)}.m4s`));
    expect(delta.indexOf(`#EXT-X-MAP:URI="init-${LEG}.mp4"`)).toBeGreaterThan(delta.indexOf('#EXT-X-SKIP'));
    expect(delta).toContain(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${LEG}-00040.3.m4s"`);
    // v2 needs version 10 and names the removed date ranges (none).
    expect(deltaUpdate(llPlaylist(40, 3), 'v2')).toMatch(/#EXT-X-VERSION:10\n[\s\S]*#EXT-X-SKIP:SKIPPED-SEGMENTS=34,RECENTLY-REMOVED-DATERANGES=""\n/);
  });

  it("an event's public ID: parts, hints and init of the legs on the air after the go-live, not a rehearsal's", () => {
    const start = Date.UTC(2026, 0, 1);
    const rehearsal = llPlaylist(3, 0, { startMs: start }).replaceAll(LEG, 'def456').split('#EXT-X-PRELOAD-HINT')[0]!;
    const live = llPlaylist(8, 2, { startMs: start + 6000 }).split('\n').slice(6).join('\n'); // no header: a second leg
    const playlist = `${rehearsal}#EXT-X-DISCONTINUITY\n${live.replace('#EXT-X-MEDIA-SEQUENCE:0', '')}`;
    const rules = publicSegments(playlist, { fromMs: start + 6000, toMs: null });
    for (const name of [`${LEG}-00007.0.m4s`, `${LEG}-00008.1.m4s`, `${LEG}-00008.2.m4s`, `${LEG}-00008.5.m4s`, `${LEG}-00009.0.m4s`, `init-${LEG}.mp4`, `${LEG}-00003.m4s`]) {
      expect(rules.allows(name), name).toBe(true);
    }
    for (const name of ['def456-00001.m4s', 'def456-00002.3.m4s', 'init-def456.mp4', 'def456-00009.0.m4s']) {
      expect(rules.allows(name), name).toBe(false);
    }
  });
});
