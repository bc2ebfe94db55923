// The embed player page and the browser assets, inside workerd: /embed/{playbackId} is served without an API key with
// headers that let any site frame it, opens with the playback route's own verdict (playable, not live, private,
// unknown) written in the HTML, and links assets that /assets/ serves immutable with their content type.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import { api, authorize, call, createStream, createWorkspace, json, type Workspace } from './helpers.ts';
import { browserAssets } from '../../edge/browser/generated/manifest.ts';

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
