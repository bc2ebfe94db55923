// /hls/{playbackId}/…: public playback of live HLS, fetched from the origin that holds the session, through the
// Workers cache. The master playlist is scoped to the session ({sessionId}/… URIs), so a later broadcast on the same
// stream never collides in the cache with an earlier one, and segments can be cached as immutable.
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../env.ts';
import { streamObject } from '../streams.ts';
import { ApiError } from '../problem.ts';
import { rewritePlaylistUris, isRelativeUri } from '../playlist-rewrite.ts';

export const playbackRoutes = new Hono<AppEnv>();

/** Half of a 2 s segment: viewers see a new segment within a second, the origin sees one fetch per second. */
const PLAYLIST_MAX_AGE = 1;
const SEGMENT_CACHE = 'public, max-age=31536000, immutable';
const PATH_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

playbackRoutes.use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['content-length', 'content-range'], maxAge: 86400 }));

/**
 * Requests for the same object that arrive while one is in flight share its origin fetch (per isolate). Only plain
 * data is shared: Workers forbid using one request's Response or stream from another request.
 */
interface FetchedObject {
  status: number;
  contentType: string;
  body: ArrayBuffer | null;
}
const inFlight = new Map<string, Promise<FetchedObject>>();

async function playbackTarget(c: Context<AppEnv>, playbackId: string) {
  const row = await c.env.DB.prepare('SELECT stream_id, access_policy FROM playback_ids WHERE id = ?')
    .bind(playbackId)
    .first<{ stream_id: string; access_policy: string }>();
  if (!row) throw new ApiError(404, 'not-found', 'Not found', 'no such playback id');
  if (row.access_policy !== 'public') {
    throw new ApiError(403, 'playback-forbidden', 'Forbidden', 'this playback id is private and needs a token');
  }
  return row.stream_id;
}

async function loadFromOrigin(originUrl: string): Promise<FetchedObject> {
  const upstream = await fetch(originUrl, { signal: AbortSignal.timeout(10_000) });
  if (!upstream.ok) {
    await upstream.body?.cancel();
    return { status: upstream.status === 404 ? 404 : 502, contentType: 'text/plain', body: null };
  }
  return {
    status: 200,
    contentType: upstream.headers.get('content-type') ?? 'application/octet-stream',
    body: await upstream.arrayBuffer(),
  };
}

async function fetchFromOrigin(c: Context<AppEnv>, cacheKey: Request, originUrl: string, cacheControl: string): Promise<Response> {
  const cache = caches.default;
  const hit = await cache.match(cacheKey);
  if (hit) return hit;
  let pending = inFlight.get(cacheKey.url);
  const leader = !pending;
  if (!pending) {
    pending = loadFromOrigin(originUrl).finally(() => inFlight.delete(cacheKey.url));
    inFlight.set(cacheKey.url, pending);
  }
  const object = await pending;
  if (object.status !== 200 || !object.body) return new Response(null, { status: object.status });
  const response = new Response(object.body.slice(0), {
    headers: { 'content-type': object.contentType, 'cache-control': cacheControl },
  });
  if (leader) c.executionCtx.waitUntil(cache.put(cacheKey, response.clone()));
  return response;
}

playbackRoutes.get('/:playbackId/:path{.+}', async (c) => {
  const { playbackId, path } = c.req.param();
  const parts = path.split('/');
  if (parts.length > 4 || !parts.every((part) => PATH_SEGMENT.test(part))) {
    throw new ApiError(400, 'invalid-path', 'Invalid path', 'not a playback path');
  }
  const streamId = await playbackTarget(c, playbackId);
  const live = await streamObject(c.env, streamId).liveOrigin();
  if (!live) throw new ApiError(404, 'not-live', 'Not found', 'this stream has no live session');
  const originBase = `${live.originUrl}/hls/${streamId}/${live.sessionId}`;
  const cacheKeyFor = (suffix: string) => new Request(new URL(`/hls/${playbackId}/${suffix}`, c.req.url).toString());

  if (parts.length === 1 && parts[0] === 'master.m3u8') {
    const upstream = await fetchFromOrigin(c, cacheKeyFor(`${live.sessionId}/master.m3u8`), `${originBase}/master.m3u8`, `public, max-age=${PLAYLIST_MAX_AGE}`);
    if (!upstream.ok) return upstream;
    const text = rewritePlaylistUris(await upstream.text(), (uri) => (isRelativeUri(uri) ? `${live.sessionId}/${uri}` : uri));
    return c.body(text, 200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': `public, max-age=${PLAYLIST_MAX_AGE}`,
    });
  }

  const [sessionId, ...rest] = parts;
  if (sessionId !== live.sessionId || rest.length === 0) {
    throw new ApiError(404, 'not-found', 'Not found', 'not part of the current live session');
  }
  const file = rest.join('/');
  const isPlaylist = file.endsWith('.m3u8');
  return fetchFromOrigin(
    c,
    cacheKeyFor(`${sessionId}/${file}`),
    `${originBase}/${file}`,
    isPlaylist ? `public, max-age=${PLAYLIST_MAX_AGE}` : SEGMENT_CACHE,
  );
});
