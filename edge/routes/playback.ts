// /hls/{playbackId}/…: playback of live HLS, fetched from the origin that holds the session, through the Workers
// cache. The master playlist is scoped to the session ({sessionId}/… URIs), so a later broadcast on the same stream
// never collides in the cache with an earlier one, and segments can be cached as immutable.
// Private playback IDs need ?token= (edge/playback-token.ts) on every request; playlists handed to a viewer carry
// that token on in their URIs, while the cache keys never include it, so all viewers share one cached copy.
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../env.ts';
import { streamObject } from '../streams.ts';
import { ApiError, problemResponse } from '../problem.ts';
import { contentRange, resolveByteRange, type ByteRangeDecision } from '../byte-range.ts';
import { rewritePlaylistUris, isRelativeUri } from '../playlist-rewrite.ts';
import { MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS, tokenKeyId, verifyPlaybackToken } from '../playback-token.ts';

export const playbackRoutes = new Hono<AppEnv>();

/** Half of a 2 s segment: viewers see a new segment within a second, the origin sees one fetch per second. */
const PLAYLIST_MAX_AGE = 1;
/** The origin refreshes a live thumbnail every few seconds. */
const THUMBNAIL_MAX_AGE = 4;
const SEGMENT_MAX_AGE = 31536000;
const PATH_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

playbackRoutes.use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['content-length', 'content-range'], maxAge: 86400 }));

/**
 * Requests for the same object that arrive while one is in flight share its origin fetch (per isolate), until the
 * object is in the cache. Only plain data is shared: Workers forbid using one request's Response from another.
 */
interface FetchedObject {
  status: number;
  contentType: string;
  body: ArrayBuffer | null;
}
interface SharedFetch {
  startedAt: number;
  result: Promise<FetchedObject>;
}
const inFlight = new Map<string, SharedFetch>();
/**
 * How long a request waits on a fetch another request started before fetching for itself. That fetch is the other
 * request's I/O: when its viewer hangs up (every viewer does while the edge is frozen) workerd cancels it, the shared
 * promise never settles, and a waiter with nothing of its own pending is ended by workerd as hung, a bare 500.
 */
const SHARED_WAIT_MS = 1500;
const ORIGIN_TIMEOUT_MS = 10_000;
/** An entry this old belongs to a fetch that can no longer finish (its request was cancelled): it is dropped. */
const DEAD_ENTRY_MS = ORIGIN_TIMEOUT_MS + 5000;

interface PlaybackTarget {
  streamId: string;
  /** live: from the session's origin; recording and clip: their stored media in R2, once ready */
  kind: 'live' | 'recording' | 'clip';
  /** R2 key prefix of a stored VOD HLS (…/hls), null while the recording or clip is being built */
  mediaPrefix: string | null;
  /** the verified token of a private playback ID, carried on into playlist URIs; null for public playback */
  token: string | null;
}

async function playbackTarget(c: Context<AppEnv>, playbackId: string): Promise<PlaybackTarget> {
  const token = c.req.query('token') ?? null;
  // One round trip: the playback ID, and the signing key the token names if that key is the same workspace's.
  const row = await c.env.DB.prepare(
    `SELECT p.stream_id, p.access_policy, p.kind, p.media_prefix, k.public_key_jwk FROM playback_ids p
     LEFT JOIN signing_keys k ON k.id = ?1 AND k.workspace_id = p.workspace_id
     WHERE p.id = ?2`,
  )
    .bind(tokenKeyId(token), playbackId)
    .first<{ stream_id: string; access_policy: string; kind: PlaybackTarget['kind']; media_prefix: string | null; public_key_jwk: string | null }>();
  if (!row) throw new ApiError(404, 'not-found', 'Not found', 'no such playback id');
  const base = { streamId: row.stream_id, kind: row.kind, mediaPrefix: row.media_prefix };
  if (row.access_policy === 'public') return { ...base, token: null };
  const verdict = await verifyPlaybackToken(token, { playbackId, publicKeyJwk: row.public_key_jwk });
  if (!verdict.ok) {
    throw new ApiError(403, 'playback-forbidden', 'Forbidden', `this playback id is private: ${refusalDetail[verdict.reason]}`, {
      reason: verdict.reason,
    });
  }
  return { ...base, token };
}

const refusalDetail = {
  missing: 'add ?token=<JWT signed with one of your signing keys>',
  malformed: 'the token is not a JWT with a kid header',
  'unknown-key': "the token's kid is not a signing key of this workspace (deleted?)",
  expired: 'the token has expired',
  'no-expiry': 'the token needs an exp claim',
  'lifetime-too-long': `the token's exp is more than ${MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS / 86400} days ahead; sign shorter-lived tokens`,
  'wrong-playback-id': "the token's sub is another playback id",
  'bad-signature': 'the token was not signed by the key its kid names',
} as const;

const ORIGIN_UNAVAILABLE: FetchedObject = { status: 502, contentType: 'text/plain', body: null };

/** Never throws: unreachable, reset (also mid-body) or too slow is a 502 the viewer's player retries, not our 500. */
async function loadFromOrigin(originUrl: string): Promise<FetchedObject> {
  try {
    const upstream = await fetch(originUrl, { signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS) });
    if (!upstream.ok) {
      await upstream.body?.cancel();
      return { status: upstream.status === 404 ? 404 : 502, contentType: 'text/plain', body: null };
    }
    return {
      status: 200,
      contentType: upstream.headers.get('content-type') ?? 'application/octet-stream',
      body: await upstream.arrayBuffer(),
    };
  } catch {
    return ORIGIN_UNAVAILABLE;
  }
}

/** The result of a fetch another request started, or null once SHARED_WAIT_MS since its start has passed. */
async function awaitShared(shared: SharedFetch): Promise<FetchedObject | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, shared.startedAt + SHARED_WAIT_MS - Date.now()));
  });
  try {
    return await Promise.race([shared.result, giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The result of the fetch in flight for this object, following it when it is replaced, or of `load` when there is
 * none. A fetch that outlives SHARED_WAIT_MS is replaced by the first waiter to notice: `load` puts its own entry in
 * place synchronously, so the waiters resuming after it follow that fetch. A cancelled fetch thus costs the origin one
 * more request per SHARED_WAIT_MS, not one per waiting viewer.
 */
async function awaitInFlight(url: string, load: () => Promise<FetchedObject>): Promise<FetchedObject> {
  const deadline = Date.now() + ORIGIN_TIMEOUT_MS;
  for (let shared = inFlight.get(url); shared && Date.now() < deadline; ) {
    const object = await awaitShared(shared);
    if (object) return object;
    const next = inFlight.get(url);
    if (next === shared || next === undefined) return load();
    shared = next;
  }
  return load();
}

/** This request's own origin fetch, shared with the requests arriving until its object is in the cache. */
function startLoad(c: Context<AppEnv>, cacheKey: Request, originUrl: string, cacheControl: string): Promise<FetchedObject> {
  const cache = caches.default;
  const now = Date.now();
  for (const [key, other] of inFlight) if (now - other.startedAt > DEAD_ENTRY_MS) inFlight.delete(key);
  const entry: SharedFetch = { startedAt: now, result: loadFromOrigin(originUrl) };
  inFlight.set(cacheKey.url, entry);
  // The entry stays until the object is in the cache: a request arriving in between reuses the fetched data
  // instead of missing the cache and asking the origin a second time.
  const stored = entry.result
    .then((object) =>
      object.status === 200 && object.body
        ? cache.put(cacheKey, new Response(object.body.slice(0), { headers: { 'content-type': object.contentType, 'cache-control': cacheControl } }))
        : undefined,
    )
    .catch(() => undefined)
    .finally(() => {
      if (inFlight.get(cacheKey.url) === entry) inFlight.delete(cacheKey.url);
    });
  c.executionCtx.waitUntil(stored);
  return entry.result;
}

async function fetchFromOrigin(c: Context<AppEnv>, cacheKey: Request, originUrl: string, cacheControl: string): Promise<Response> {
  const hit = await caches.default.match(cacheKey);
  if (hit) return hit;
  const object = await awaitInFlight(cacheKey.url, () => startLoad(c, cacheKey, originUrl, cacheControl));
  if (object.status === 404) throw new ApiError(404, 'not-found', 'Not found', 'the live session has no such file (yet)');
  if (object.status !== 200 || !object.body) {
    throw new ApiError(502, 'origin-unavailable', 'Bad gateway', 'the origin holding this live session did not answer; retry shortly');
  }
  return new Response(object.body.slice(0), { headers: { 'content-type': object.contentType, 'cache-control': cacheControl } });
}

/** Playlists are UTF-8 text (RFC 8216); decoding them directly avoids workerd's warning about a non-text type. */
const playlistText = async (response: Response) => new TextDecoder().decode(await response.arrayBuffer());

/** Relative URIs in a playlist, prefixed (the master's session scope) and given the viewer's token. */
function rewriteForViewer(text: string, prefix: string, token: string | null): string {
  const query = token ? `token=${encodeURIComponent(token)}` : '';
  return rewritePlaylistUris(text, (uri) => {
    if (!isRelativeUri(uri)) return uri;
    const scoped = prefix + uri;
    if (!query) return scoped;
    return scoped + (scoped.includes('?') ? '&' : '?') + query;
  });
}

/** What a viewer gets: a private playback's responses are for that viewer's cache only (the URL carries a token). */
function forViewer(response: Response, target: PlaybackTarget, maxAge: number, body?: string): Response {
  if (!target.token && body === undefined) return response;
  const headers = new Headers(response.headers);
  const immutable = maxAge === SEGMENT_MAX_AGE ? ', immutable' : '';
  headers.set('cache-control', `${target.token ? 'private' : 'public'}, max-age=${maxAge}${immutable}`);
  if (body !== undefined) headers.delete('content-length');
  return new Response(body ?? response.body, { status: response.status, headers });
}

playbackRoutes.get('/:playbackId/:path{.+}', async (c) => {
  const { playbackId, path } = c.req.param();
  const parts = path.split('/');
  if (parts.length > 4 || !parts.every((part) => PATH_SEGMENT.test(part))) {
    throw new ApiError(400, 'invalid-path', 'Invalid path', 'not a playback path');
  }
  const target = await playbackTarget(c, playbackId);
  if (target.kind !== 'live') return serveStored(c, target, parts);
  const live = await streamObject(c.env, target.streamId).liveOrigin();
  if (!live) throw new ApiError(404, 'not-live', 'Not found', 'this stream has no live session');
  const originBase = `${live.originUrl}/hls/${target.streamId}/${live.sessionId}`;
  const cacheKeyFor = (suffix: string) => new Request(new URL(`/hls/${playbackId}/${suffix}`, c.req.url).toString());
  const through = (file: string, maxAge: number) =>
    fetchFromOrigin(c, cacheKeyFor(`${live.sessionId}/${file}`), `${originBase}/${file}`, `public, max-age=${maxAge}${maxAge === SEGMENT_MAX_AGE ? ', immutable' : ''}`);

  if (parts.length === 1 && (parts[0] === 'master.m3u8' || parts[0] === 'thumbnail.jpg')) {
    const isMaster = parts[0] === 'master.m3u8';
    const upstream = await through(parts[0], isMaster ? PLAYLIST_MAX_AGE : THUMBNAIL_MAX_AGE);
    if (!upstream.ok || !isMaster) return upstream.ok ? forViewer(upstream, target, THUMBNAIL_MAX_AGE) : upstream;
    const text = rewriteForViewer(await playlistText(upstream), `${live.sessionId}/`, target.token);
    return forViewer(new Response(null, { headers: { 'content-type': PLAYLIST_TYPE } }), target, PLAYLIST_MAX_AGE, text);
  }

  const [sessionId, ...rest] = parts;
  if (sessionId !== live.sessionId || rest.length === 0) {
    throw new ApiError(404, 'not-found', 'Not found', 'not part of the current live session');
  }
  const file = rest.join('/');
  if (!file.endsWith('.m3u8')) {
    const upstream = await through(file, SEGMENT_MAX_AGE);
    return upstream.ok ? forViewer(upstream, target, SEGMENT_MAX_AGE) : upstream;
  }
  const upstream = await through(file, PLAYLIST_MAX_AGE);
  if (!upstream.ok || !target.token) return upstream.ok ? forViewer(upstream, target, PLAYLIST_MAX_AGE) : upstream;
  return forViewer(upstream, target, PLAYLIST_MAX_AGE, rewriteForViewer(await playlistText(upstream), '', target.token));
});

/**
 * A recording or clip, from R2: its VOD HLS (…/hls/…), its MP4 download (recording.mp4 / clip.mp4, with byte ranges)
 * and its screenshot. Stored media never changes, so everything but the token-bearing playlists is immutable.
 */
async function serveStored(c: Context<AppEnv>, target: PlaybackTarget, parts: string[]): Promise<Response> {
  if (!target.mediaPrefix) throw new ApiError(404, 'not-ready', 'Not found', `this ${target.kind} is not ready yet`);
  const root = target.mediaPrefix.replace(/\/hls$/, '');
  const file = parts.join('/');
  const key =
    file === 'recording.mp4' || file === 'clip.mp4'
      ? `${root}/${file}`
      : file === 'thumbnail.jpg'
        ? `${root}/screenshot.jpg`
        : `${target.mediaPrefix}/${file}`;
  if (file.endsWith('.m3u8')) {
    const playlist = await c.env.MEDIA.get(key);
    if (!playlist) throw new ApiError(404, 'not-found', 'Not found', 'no such file in this playback');
    const text = rewriteForViewer(await new Response(playlist.body).text(), '', target.token);
    return forViewer(new Response(null, { headers: storedHeaders(playlist) }), target, SEGMENT_MAX_AGE, text);
  }
  // A Range is decided against the object's size first (RFC 9110 §14): R2 refuses a reversed or out-of-bounds range
  // with an exception, and a viewer's bad header must be its own 416, not our 500.
  const rangeHeader = c.req.header('range');
  let decision: ByteRangeDecision = { kind: 'whole' };
  if (rangeHeader) {
    const head = await c.env.MEDIA.head(key);
    if (!head) throw new ApiError(404, 'not-found', 'Not found', 'no such file in this playback');
    decision = resolveByteRange(rangeHeader, head.size);
    if (decision.kind === 'unsatisfiable') {
      const refusal = problemResponse(
        c,
        new ApiError(416, 'range-not-satisfiable', 'Range not satisfiable', `this object is ${head.size} bytes; ask for bytes inside it`),
      );
      refusal.headers.set('content-range', contentRange(decision, head.size)!);
      return refusal;
    }
  }
  const range = decision.kind === 'partial' ? { offset: decision.offset, length: decision.length } : undefined;
  const object = await c.env.MEDIA.get(key, range ? { range } : {});
  if (!object) throw new ApiError(404, 'not-found', 'Not found', 'no such file in this playback');
  const headers = storedHeaders(object);
  if (decision.kind === 'partial') {
    headers.set('content-range', contentRange(decision, object.size)!);
    return forViewer(new Response(object.body, { status: 206, headers }), target, SEGMENT_MAX_AGE);
  }
  return forViewer(new Response(object.body, { headers }), target, SEGMENT_MAX_AGE);
}

function storedHeaders(object: R2Object): Headers {
  return new Headers({
    'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
    'cache-control': `public, max-age=${SEGMENT_MAX_AGE}, immutable`,
    'accept-ranges': 'bytes',
    etag: object.httpEtag,
  });
}
