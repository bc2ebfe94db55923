// The embed player page and the browser assets, inside workerd: /embed/{playbackId} is served without an API key with
// headers that let any site frame it, opens with the playback route's own verdict (playable, not live, private,
// unknown, an event's allowed domains and schedule) written in the HTML, and links assets that /assets/ serves immutable
// with their content type.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import { api, authorize, call, createStream, createWorkspace, json, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';
import { env } from 'cloudflare:workers';
import { browserAssets } from '../../edge/browser/generated/manifest.ts';
import { playerStatus } from '../../edge/browser/player-status.ts';
import { createEventViaRpc, eventObject } from './event-rpc.ts';
import type { EventCommandResult } from '../../edge/event/event-flow.ts';

const MASTER = ['#EXTM3U', '#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360', 'source/index.m3u8', ''].join('\n');

let ws: Workspace;
let originFetch: MockInstance<typeof fetch>;

beforeAll(async () => {
  // The live session's origin: only its master playlist is asked for (by the page's check).
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.pathname.endsWith('/master.m3u8')) return new Response(MASTER, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
    return new Response('not found', { status: 404 });
  });
  ws = await createWorkspace('embed-player');
});
afterAll(() => originFetch.mockRestore());

const embed = (path: string, init?: RequestInit) => call(`/embed/${path}`, init);
/** The status the page was served with, and its message. */
function pageState(html: string) {
  const config = JSON.parse(/<script id="player-config" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
  return { state: config.status.state as string, src: config.src as string, message: /<div id="message"[^>]*><h1>(.*?)<\/h1>/s.exec(html)?.[1] };
}

async function liveStream(accessPolicy: 'public' | 'private') {
  const stream = await createStream(ws, { accessPolicy });
  await authorize(stream.streamKey);
  return stream.playbackIds[0].id as string;
}

describe('embed player page', () => {
  it('serves a live stream without an API key: the player, its scripts, and headers that allow framing anywhere', async () => {
    const playbackId = await liveStream('public');
    const response = await embed(playbackId, { headers: { referer: 'https://blog.example.org/post' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('x-frame-options')).toBeNull();
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain('frame-ancestors *');
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain('media-src');
    const html = await response.text();
    const nonce = /style-src 'nonce-([0-9a-f]+)'/.exec(csp)![1];
    expect(html).toContain(`<style nonce="${nonce}">`);
    expect(pageState(html)).toMatchObject({ state: 'playable', src: `/hls/${playbackId}/master.m3u8` });
    expect(html).toContain(`poster="/hls/${playbackId}/thumbnail.jpg"`);
    expect(html).toContain(`<script src="${browserAssets['hls.js'].path}"></script>`);
    expect(html).toContain(`<script src="${browserAssets['player.js'].path}"></script>`);
    expect(html).toContain('>LIVE<');
  });

  it('a stream that is not live: a page saying so, which keeps asking', async () => {
    const stream = await createStream(ws, {});
    const response = await embed(stream.playbackIds[0].id);
    expect(response.status).toBe(200);
    const state = pageState(await response.text());
    expect(state).toMatchObject({ state: 'offline', message: 'This stream is not live' });
  });

  it('an unknown or malformed playback id: a clear 404 page, never a blank one', async () => {
    for (const id of ['nosuchplaybackid0000', 'bad%3Cid%3E']) {
      const response = await embed(id);
      expect(response.status, id).toBe(404);
      const html = await response.text();
      expect(pageState(html)).toMatchObject({ state: 'unknown', message: 'Video not found' });
      expect(html).not.toContain('<id>');
    }
  });

  it('a private playback id: refused without a token, playable with one that is carried on to /hls only', async () => {
    const playbackId = await liveStream('private');
    const refused = await embed(playbackId);
    expect(refused.status).toBe(403);
    const refusedState = pageState(await refused.text());
    expect(refusedState.state).toBe('refused');
    expect(refusedState.message).toBe('This video is private');

    const key = (await json(await api(ws, 'POST', '/signing-keys'))).data as { signingKeyId: string; privateKey: string };
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
      .setSubject(playbackId)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(await importPKCS8(atob(key.privateKey), 'RS256'));
    const allowed = await embed(`${playbackId}?token=${token}`);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('cache-control')).toBe('no-store');
    const html = await allowed.text();
    expect(pageState(html)).toMatchObject({ state: 'playable', src: `/hls/${playbackId}/master.m3u8?token=${token}` });
    expect(html).toContain(`poster="/hls/${playbackId}/thumbnail.jpg?token=${token}"`);
  });
});

describe("embed player page for an event's playback ID", () => {
  it("applies the allowed domains to the page framing the player; the player's own /hls requests then play", async () => {
    expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200);
    const { previewPlaybackId, publicPlaybackId, streamId, streamKey, eventId } = await createEventViaRpc(
      ws.id,
      {
        type: 'LIVE_TYPE_LIVE',
        broadcastMode: 'BROADCAST_MODE_DVR',
        resolution: '720p',
        security: { accessPolicy: 'public', allowedDomains: ['*.example.com'] },
        ullEnabled: false,
        scheduledStartAt: new Date(Date.now() + 60_000).toISOString(),
        vod: { enabled: true, startAt: null, endAt: null },
        metadata: {},
      } as any,
      { record: true },
    );
    const preview = (await eventObject(streamId).eventOperation(ws.id, eventId, 'preview', {})) as EventCommandResult;
    expect(preview.ok).toBe(true);
    await authorize(streamKey);

    const framedBy = (page: string | null) => embed(previewPlaybackId, { headers: page ? { referer: page } : {} });
    for (const page of [null, 'https://evil.example.org/']) {
      const refused = await framedBy(page);
      expect(refused.status, String(page)).toBe(403);
      expect(pageState(await refused.text()).state).toBe('refused');
    }
    const allowed = await framedBy('https://news.example.com/');
    expect(allowed.status).toBe(200);
    expect(pageState(await allowed.text()).state).toBe('playable');

    // The player's requests carry the embed page as their Referer: not checked again. Any other page's still are.
    const embedPage = `http://edge.test/embed/${previewPlaybackId}`;
    const fromPlayer = await call(`/hls/${previewPlaybackId}/master.m3u8`, { headers: { referer: embedPage } });
    expect(fromPlayer.status).toBe(200);
    await fromPlayer.arrayBuffer();
    for (const referer of [`http://elsewhere.test/embed/${previewPlaybackId}`, `http://edge.test/embed/${publicPlaybackId}`, 'https://evil.example.org/']) {
      const other = await call(`/hls/${previewPlaybackId}/master.m3u8`, { headers: { referer } });
      expect(other.status, referer).toBe(403);
      await other.arrayBuffer();
    }

    // The public ID before the go-live: the page says the event has not started (and keeps asking).
    const early = await embed(publicPlaybackId, { headers: { referer: 'https://news.example.com/' } });
    expect(early.status).toBe(200);
    expect(pageState(await early.text())).toMatchObject({ state: 'pending', message: 'This event has not started' });
  });
});

describe('embed player page for stored media', () => {
  /** A recording's playback ID straight into D1, its HLS (if any) in R2 under the self-contained layout. */
  async function recording(id: string, mediaPrefix: string | null) {
    await env.DB.prepare(
      "INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix) VALUES (?, 'ls_embedvod', ?, 'public', 'recording', ?, ?)",
    )
      .bind(id, ws.id, `rec_${id}`, mediaPrefix)
      .run();
    if (mediaPrefix) await env.MEDIA.put(`${mediaPrefix}/master.m3u8`, MASTER, { httpMetadata: { contentType: 'application/vnd.apple.mpegurl' } });
  }

  it('a ready recording plays as VOD with its screenshot as the poster; one still being made says so', async () => {
    await recording('embedvodready0000000', 'recordings/rec_embedvod/hls');
    const ready = await embed('embedvodready0000000');
    expect(ready.status).toBe(200);
    const html = await ready.text();
    expect(pageState(html).state).toBe('playable');
    expect(html).toContain('poster="/hls/embedvodready0000000/thumbnail.jpg"');

    await recording('embedvodpending00000', null);
    const pending = await embed('embedvodpending00000');
    expect(pending.status).toBe(200);
    expect(pageState(await pending.text())).toMatchObject({ state: 'pending', message: 'Not ready yet' });
  });
});

describe('player status (what the page says for each playback answer)', () => {
  it('maps the playback route\'s problems to states and messages', () => {
    expect(playerStatus(200).state).toBe('playable');
    expect(playerStatus(404, { type: 'https://riverhead.dev/problems/not-live' }).state).toBe('offline');
    expect(playerStatus(404, { type: 'https://riverhead.dev/problems/not-found', detail: 'no such playback id' }).state).toBe('unknown');
    expect(playerStatus(404, { type: 'https://riverhead.dev/problems/not-found', detail: 'the live session has no such file (yet)' }).state).toBe('pending');
    const forbidden = playerStatus(403, { type: 'https://riverhead.dev/problems/playback-forbidden', detail: 'this playback id is private: add ?token=<JWT>' });
    expect(forbidden).toEqual({ state: 'refused', title: 'This video is private', detail: 'This playback id is private: add ?token=<JWT>.' });
    // An event's refusal keeps its own words.
    expect(playerStatus(403, { type: 'https://riverhead.dev/problems/domain-not-allowed', title: 'Forbidden', detail: 'this page may not embed the event' })).toEqual({
      state: 'refused',
      title: 'Forbidden',
      detail: 'This page may not embed the event.',
    });
    expect(playerStatus(502, { type: 'https://riverhead.dev/problems/origin-unavailable' }).state).toBe('unavailable');
    expect(playerStatus(503).state).toBe('unavailable');
  });
});

describe('browser assets', () => {
  it('are served at their hashed path, immutable, with their content type; other hashes are 404', async () => {
    for (const name of ['hls.js', 'player.js'] as const) {
      const asset = browserAssets[name];
      expect(asset.path).toMatch(/^\/assets\/[a-z]+-[0-9a-f]{10}\.js$/);
      const response = await call(asset.path);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const body = await response.text();
      expect(body).toBe(asset.body);
      expect(body.length).toBeGreaterThan(1000);
    }
    expect((await call('/assets/player-0000000000.js')).status).toBe(404);
    expect((await call('/assets/../v1/live/streams')).status).not.toBe(200);
  });

  it('are not part of the OpenAPI document', async () => {
    const document = await json(await call('/v1/openapi.json'));
    const paths = Object.keys(document.paths);
    expect(paths.some((path) => path.startsWith('/assets') || path.startsWith('/embed'))).toBe(false);
  });
});
