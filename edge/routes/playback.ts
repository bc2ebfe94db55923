// /hls/{playbackId}/…: playback of live HLS and of stored recordings and clips, through the Workers cache. The master
// playlist is scoped to the session ({sessionId}/… URIs), so a later broadcast on the same stream never collides in
// the cache with an earlier one, and segments can be cached as immutable (their names are unique per origin leg).
// Live playlists come from the origin holding the session (signed requests); live segments from R2 first, where the
// origin ships every closed segment (live/{streamId}/{sessionId}/…), that origin being the fallback — so every segment
// a playlist listed stays fetchable when the origin dies and the session fails over to another one.
// Private playback IDs need ?token= (edge/playback-token.ts) on every request; playlists handed to a viewer carry
// that token on in their URIs, while the cache keys never include it, so all viewers share one cached copy.
// What a playback ID names and where its live session is are cached briefly (edge/playback-cache.ts): a request that
// finds them and its object in the cache touches neither D1 nor a Durable Object (counted: edge/playback-stats.ts).
// Live media playlists are windowed per viewer after the cached fetch (edge/playlist-window.ts: the stream's sliding
// 60 s by default, or its whole session), and an event's playback IDs play what its gate answers (edge/event/
// event-playback-gate.ts): refusals, the live session under the event's window, or the live part as a VOD. Their
// public ID fetches only the segments its playlists list from the go-live on (publicSegmentOrRefuse), decided on the
// cached copy of the segment's rendition playlist, so a guessed rehearsal segment name gets a 404.
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv, Env } from '../env.ts';
import { streamObject } from '../streams.ts';
import { ApiError, problemResponse } from '../problem.ts';
import { contentRange, resolveByteRange, type ByteRangeDecision } from '../byte-range.ts';
import { asVodPlaylist, rewritePlaylistUris, isRelativeUri } from '../playlist-rewrite.ts';
import { applyLiveWindow, cutBetween, type LiveWindow } from '../playlist-window.ts';
import { gateEventPlayback, publicSegments, type EventPlaybackAnswer, type PublicSegments } from '../event/event-playback-gate.ts';
import { requestPageHost } from '../allowed-domains.ts';
import { fromOwnEmbedPage } from '../browser/embed-referer.ts';
import { MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS, tokenKeyId, verifyPlaybackToken } from '../playback-token.ts';
import { signedOriginFetch } from '../origin-fetch.ts';
import {
  cachedLookup,
  liveCacheKey,
  primeEntry,
  signingKeyCacheKey,
  targetCacheKey,
  targetTtl,
  LIVE_TTL_MS,
  SIGNING_KEY_TTL_MS,
  type LivePlayback,
  type LivePointer,
  type PlaybackRecord,
} from '../playback-cache.ts';
import { countBackendCall, countViewerRequest, countedD1 } from '../playback-stats.ts';
import { isPartFile, mediaContentType } from '../low-latency/media-names.ts';
import { BLOCKING_MAX_AGE, blockingQueryOf, heldPlaylist } from '../low-latency/held-playlist.ts';
import { isHeld } from '../low-latency/blocking-query.ts';
import { deltaUpdate } from '../low-latency/delta-update.ts';

export const playbackRoutes = new Hono<AppEnv>();

/** Half of a 2 s segment: viewers see a new segment within a second, the origin sees one fetch per second. */
const PLAYLIST_MAX_AGE = 1;
/** The origin refreshes a live thumbnail every few seconds. */
const THUMBNAIL_MAX_AGE = 4;
const SEGMENT_MAX_AGE = 31536000;
/**
 * A recording's playlists built from its session's durable ones: a minute, not forever, because the recording can
 * become watchable while the session's last uploads are still landing (its origin silent), and they would be missed.
 */
const DURABLE_VOD_PLAYLIST_MAX_AGE = 60;
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
  /** when its object landed in the cache; the entry still answers for STORED_GRACE_MS after that */
  storedAt?: number;
  result: Promise<FetchedObject>;
}
const inFlight = new Map<string, SharedFetch>();
/**
 * A request that missed the cache just before the object landed there finds the entry still in place for this long
 * (less than any object's max-age, so it never answers older data than the cache would): without it, a viewer whose
 * cache lookup raced the put would start a second origin fetch of an object that is already cached.
 */
const STORED_GRACE_MS = 500;

/** The entry for this object, unless it stored its object longer ago than STORED_GRACE_MS (then it is dropped). */
function sharedEntry(url: string): SharedFetch | undefined {
  const entry = inFlight.get(url);
  if (entry?.storedAt !== undefined && Date.now() - entry.storedAt > STORED_GRACE_MS) {
    inFlight.delete(url);
    return undefined;
  }
  return entry;
}
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
  /** live: from the session's origin; recording, clip and video (library, issue 13): their stored media in R2, once ready */
  kind: PlaybackRecord['kind'];
  /** the recording's or clip's id (its MP4 export lives under recordings/{id}/) */
  targetId: string | null;
  /** R2 key prefix of a stored VOD HLS (…/hls, or a session's durable live/… prefix), null while not watchable */
  mediaPrefix: string | null;
  /** live only: where the live session is served from, null when the stream has none */
  live: LivePointer | null;
  /** the verified token of a private playback ID, carried on into playlist URIs; null for public playback */
  token: string | null;
  /** live: what its media playlists list ({type: 'dvr', fromMs: null}: all the origin's playlist does) */
  window: LiveWindow;
  /** an event's VOD: the live part of this session, from its durable media in R2 */
  eventVod: Extract<EventPlaybackAnswer, { kind: 'vod' }> | null;
}

const WHOLE_SESSION: LiveWindow = { type: 'dvr', fromMs: null };
const REFUSAL_TITLE = { 403: 'Forbidden', 404: 'Not found', 410: 'Gone' } as const;

/** A ready recording or clip, or a live playback ID, is kept; a not-ready one is asked again until it plays. */
const keepRecord = (record: PlaybackRecord | null) => record !== null && (record.kind === 'live' || record.mediaPrefix !== null);

/**
 * What the request may play: the playback ID's record (D1), for a live one what its StreamObject says (policy and
 * live session), and the token checked against the signing key it names when the playback ID is private.
 */
async function playbackTarget(c: Context<AppEnv>, playbackId: string): Promise<PlaybackTarget> {
  const token = c.req.query('token') ?? null;
  const keyId = tokenKeyId(token);
  /** The key's JWK when this request's own lookup joined it in (undefined: not looked up by this request). */
  let joinedKey: string | null | undefined;
  const record = await cachedLookup(
    c.executionCtx,
    targetCacheKey(playbackId),
    targetTtl,
    async (): Promise<PlaybackRecord | null> => {
      // One round trip: the playback ID, and the signing key the token names if that key is the same workspace's.
      countBackendCall('d1');
      const row = await c.env.DB.prepare(
        `SELECT p.stream_id, p.workspace_id, p.access_policy, p.kind, p.target_id, p.media_prefix, k.public_key_jwk
         FROM playback_ids p LEFT JOIN signing_keys k ON k.id = ?1 AND k.workspace_id = p.workspace_id
         WHERE p.id = ?2`,
      )
        .bind(keyId, playbackId)
        .first<{
          stream_id: string;
          workspace_id: string;
          access_policy: PlaybackRecord['accessPolicy'];
          kind: PlaybackRecord['kind'];
          target_id: string | null;
          media_prefix: string | null;
          public_key_jwk: string | null;
        }>();
      if (!row) return null;
      if (keyId !== null) {
        joinedKey = row.public_key_jwk;
        primeEntry(c.executionCtx, signingKeyCacheKey(row.workspace_id, keyId), row.public_key_jwk, SIGNING_KEY_TTL_MS);
      }
      return {
        streamId: row.stream_id,
        workspaceId: row.workspace_id,
        kind: row.kind,
        targetId: row.target_id,
        mediaPrefix: row.media_prefix,
        accessPolicy: row.access_policy,
      };
    },
    keepRecord,
  );
  if (!record) throw new ApiError(404, 'not-found', 'Not found', 'no such playback id');
  let accessPolicy = record.accessPolicy;
  let live: LivePointer | null = null;
  let window = WHOLE_SESSION;
  let eventAnswer: EventPlaybackAnswer | null = null;
  if (record.kind === 'live') {
    const state = await livePlayback(c, playbackId, record.streamId);
    if (!state) throw new ApiError(404, 'not-found', 'Not found', 'no such playback id');
    accessPolicy = state.accessPolicy;
    live = state.live;
    window = { type: state.playlistWindow ?? 'sliding', fromMs: null }; // an entry cached before the field: the default
    if (state.event) {
      const host = requestPageHost({ origin: c.req.header('origin'), referer: c.req.header('referer') });
      // The embed player's requests: its page checked the allowed domains against the page framing it (edge/browser/embed-referer.ts).
      const event = fromOwnEmbedPage(c.req.url, playbackId, c.req.header('referer')) ? { ...state.event, allowedDomains: [] } : state.event;
      eventAnswer = gateEventPlayback(event, Date.now(), host);
    }
  }
  const base = { streamId: record.streamId, kind: record.kind, targetId: record.targetId, mediaPrefix: record.mediaPrefix, live, window, eventVod: null };
  if (accessPolicy === 'public') return eventTarget({ ...base, token: null }, eventAnswer);
  const publicKeyJwk =
    keyId === null ? null : joinedKey !== undefined ? joinedKey : await signingKeyOf(c, record.workspaceId, keyId);
  const verdict = await verifyPlaybackToken(token, { playbackId, publicKeyJwk });
  if (!verdict.ok) {
    throw new ApiError(403, 'playback-forbidden', 'Forbidden', `this playback id is private: ${refusalDetail[verdict.reason]}`, {
      reason: verdict.reason,
    });
  }
  return eventTarget({ ...base, token }, eventAnswer);
}

/** What an event's playback ID plays, once its viewer may watch the event at all (the token, when private). */
function eventTarget(target: PlaybackTarget, answer: EventPlaybackAnswer | null): PlaybackTarget {
  if (answer === null) return target;
  switch (answer.kind) {
    case 'refuse':
      throw new ApiError(answer.httpStatus, answer.type, REFUSAL_TITLE[answer.httpStatus], answer.detail);
    case 'live':
      return { ...target, window: answer.window };
    case 'vod':
      return { ...target, eventVod: answer };
    case 'source-vod':
      // The simulive source's own media, played like a recording over it.
      return { ...target, kind: 'recording', targetId: null, mediaPrefix: answer.prefix, live: null };
  }
}

/** The JWK of a workspace's signing key (null: no such key in that workspace), cached like the playback ID. */
function signingKeyOf(c: Context<AppEnv>, workspaceId: string, keyId: string): Promise<string | null> {
  return cachedLookup(c.executionCtx, signingKeyCacheKey(workspaceId, keyId), SIGNING_KEY_TTL_MS, async () => {
    countBackendCall('d1');
    const row = await c.env.DB.prepare('SELECT public_key_jwk FROM signing_keys WHERE id = ? AND workspace_id = ?')
      .bind(keyId, workspaceId)
      .first<{ public_key_jwk: string }>();
    return row?.public_key_jwk ?? null;
  });
}

/** A live playback ID's policy and session, from its StreamObject at most once per LIVE_TTL_MS (per data center). */
function livePlayback(c: Context<AppEnv>, playbackId: string, streamId: string): Promise<LivePlayback | null> {
  return cachedLookup(c.executionCtx, liveCacheKey(playbackId), LIVE_TTL_MS, async () => {
    countBackendCall('object');
    return streamObject(c.env, streamId).livePlayback(playbackId);
  });
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
async function loadFromOrigin(env: Env, originId: string, originUrl: string): Promise<FetchedObject> {
  try {
    // The origin's secret comes from the registry (D1, cached per isolate there): its queries count as ours.
    const signer = { DB: countedD1(env.DB), ORIGIN_SECRET: env.ORIGIN_SECRET };
    const upstream = await signedOriginFetch(signer, originId, originUrl, { signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS) });
    if (!upstream.ok) {
      await upstream.body?.cancel();
      return { status: upstream.status === 404 ? 404 : 502, contentType: 'text/plain', body: null };
    }
    return {
      status: 200,
      contentType: upstream.headers.get('content-type') ?? mediaContentType(originUrl),
      body: await upstream.arrayBuffer(),
    };
  } catch {
    return ORIGIN_UNAVAILABLE;
  }
}

const NOT_THERE: FetchedObject = { status: 404, contentType: 'text/plain', body: null };

/** A session's durable copy in R2: 404 while it is not there (yet), 502 when R2 failed (the caller falls back). */
async function loadFromDurable(bucket: R2Bucket, key: string): Promise<FetchedObject> {
  try {
    const object = await bucket.get(key);
    if (!object) return NOT_THERE;
    const contentType = object.httpMetadata?.contentType ?? mediaContentType(key);
    return { status: 200, contentType, body: await object.arrayBuffer() };
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
  for (let shared = sharedEntry(url); shared && Date.now() < deadline; ) {
    const object = await awaitShared(shared);
    if (object) return object;
    const next = sharedEntry(url);
    if (next === shared || next === undefined) return load();
    shared = next;
  }
  return load();
}

/** This request's own load (R2 or origin), shared with the requests arriving until its object is in the cache. */
function startLoad(c: Context<AppEnv>, cacheKey: Request, load: () => Promise<FetchedObject>, cacheControl: string): Promise<FetchedObject> {
  const cache = caches.default;
  const now = Date.now();
  for (const [key, other] of inFlight) {
    const stale = other.storedAt !== undefined ? now - other.storedAt > STORED_GRACE_MS : now - other.startedAt > DEAD_ENTRY_MS;
    if (stale) inFlight.delete(key);
  }
  const entry: SharedFetch = { startedAt: now, result: load() };
  inFlight.set(cacheKey.url, entry);
  // The entry stays until the object is in the cache: a request arriving in between reuses the fetched data
  // instead of missing the cache and asking the origin a second time.
  const stored = entry.result
    .then(async (object) => {
      if (object.status !== 200 || !object.body) return false;
      await cache.put(cacheKey, new Response(object.body.slice(0), { headers: { 'content-type': object.contentType, 'cache-control': cacheControl } }));
      return true;
    })
    .catch(() => false)
    .then((inCache) => {
      if (inFlight.get(cacheKey.url) !== entry) return;
      if (inCache) entry.storedAt = Date.now();
      else inFlight.delete(cacheKey.url);
    });
  c.executionCtx.waitUntil(stored);
  return entry.result;
}

async function fetchThroughCache(c: Context<AppEnv>, cacheKey: Request, load: () => Promise<FetchedObject>, cacheControl: string): Promise<Response> {
  const hit = await caches.default.match(cacheKey);
  if (hit) return hit;
  const object = await awaitInFlight(cacheKey.url, () => startLoad(c, cacheKey, load, cacheControl));
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
  countViewerRequest();
  const { playbackId, path } = c.req.param();
  const parts = path.split('/');
  if (parts.length > 4 || !parts.every((part) => PATH_SEGMENT.test(part))) {
    throw new ApiError(400, 'invalid-path', 'Invalid path', 'not a playback path');
  }
  const target = await playbackTarget(c, playbackId);
  if (target.eventVod) return serveEventVod(c, target, target.eventVod, parts);
  if (target.kind !== 'live') return serveStored(c, target, parts);
  const live = target.live;
  if (!live) throw new ApiError(404, 'not-live', 'Not found', 'this stream has no live session');
  const originBase = `${live.originUrl}/hls/${target.streamId}/${live.sessionId}`;
  const durableBase = `live/${target.streamId}/${live.sessionId}`;
  const fromOrigin = (file: string) => loadFromOrigin(c.env, live.originId, `${originBase}/${file}`);
  /** Playlists: the origin's (it lists what is in R2, and in degraded mode what only it has); R2's durable copy
   * when the origin cannot answer (players keep their place while the session fails over) or no longer has them
   * (the session ended and its origin let its folder go once everything was in R2). */
  const playlist = async (file: string) => {
    const answer = await fromOrigin(file);
    if (answer.status === 200) return answer;
    const durable = await loadFromDurable(c.env.MEDIA, `${durableBase}/${file}`);
    return durable.status === 200 ? durable : answer;
  };
  /** Segments: R2 first (every closed segment is shipped there), the origin for one not there (yet). */
  const segment = async (file: string) => {
    const durable = await loadFromDurable(c.env.MEDIA, `${durableBase}/${file}`);
    return durable.status === 200 ? durable : fromOrigin(file);
  };
  const cacheKeyFor = (suffix: string) => new Request(new URL(`/hls/${playbackId}/${suffix}`, c.req.url).toString());
  const through = (file: string, load: (file: string) => Promise<FetchedObject>, maxAge: number) =>
    fetchThroughCache(
      c,
      cacheKeyFor(`${live.sessionId}/${file}`),
      () => load(file),
      `public, max-age=${maxAge}${maxAge === SEGMENT_MAX_AGE ? ', immutable' : ''}`,
    );

  if (parts.length === 1 && parts[0] === 'thumbnail.jpg') {
    const upstream = await through('thumbnail.jpg', fromOrigin, THUMBNAIL_MAX_AGE);
    return forViewer(upstream, target, THUMBNAIL_MAX_AGE);
  }
  if (parts.length === 1 && parts[0] === 'master.m3u8') {
    const upstream = await through('master.m3u8', playlist, PLAYLIST_MAX_AGE);
    const text = rewriteForViewer(await playlistText(upstream), `${live.sessionId}/`, target.token);
    return forViewer(new Response(null, { headers: { 'content-type': PLAYLIST_TYPE } }), target, PLAYLIST_MAX_AGE, text);
  }

  const [sessionId, ...rest] = parts;
  if (sessionId !== live.sessionId || rest.length === 0) {
    throw new ApiError(404, 'not-found', 'Not found', 'not part of the current live session');
  }
  const file = rest.join('/');
  if (!file.endsWith('.m3u8')) {
    const fromMs = target.window.fromMs; // set only for an event's public ID while LIVE: its go-live
    if (fromMs !== null) {
      await publicSegmentOrRefuse(file, { fromMs, toMs: null }, async (playlistFile) => ({
        key: cacheKeyFor(`${live.sessionId}/${playlistFile}`).url,
        text: await playlistText(await through(playlistFile, playlist, PLAYLIST_MAX_AGE)),
      }));
    }
    // LL-HLS parts live only in the origin's memory (edge/low-latency/media-names.ts): never asked of R2.
    return forViewer(await through(file, isPartFile(file) ? fromOrigin : segment, SEGMENT_MAX_AGE), target, SEGMENT_MAX_AGE);
  }
  // LL-HLS (issue 15): a blocking reload is held by the origin, shared by identical requests (edge/low-latency/).
  const blocking = blockingQueryOf(c.req.url);
  const held = blocking !== null && isHeld(blocking);
  const upstream = held
    ? await heldPlaylist(c, { originId: live.originId, originUrl: `${originBase}/${file}`, cacheUrl: cacheKeyFor(`${live.sessionId}/${file}`).url, query: blocking })
    : await through(file, playlist, PLAYLIST_MAX_AGE);
  if (upstream.status !== 200) return upstream; // a held request's 503 (Retry-After)
  const maxAge = held ? BLOCKING_MAX_AGE : PLAYLIST_MAX_AGE;
  const wholeSession = target.window.type === 'dvr' && target.window.fromMs === null;
  if (wholeSession && !target.token && !blocking?.skip) return upstream;
  // Windowed here, after the cache: every viewer's window comes from the one cached copy of the session's playlist.
  const windowed = wholeSession ? await playlistText(upstream) : applyLiveWindow(await playlistText(upstream), target.window);
  // A delta update is cut from the viewer's own window, so its sequence numbers are the ones the player holds.
  const viewed = blocking?.skip ? deltaUpdate(windowed, blocking.skip) : windowed;
  return forViewer(upstream, target, maxAge, target.token ? rewriteForViewer(viewed, '', target.token) : viewed);
});

/**
 * An event's VOD: the live part of its session, from that session's durable media in R2 (live/{streamId}/
 * {sessionId}/, where the origin shipped it during the broadcast), its media playlists cut at the go-live and end
 * instants (nearest segment boundaries) and closed as VOD. The master is scoped to the session like a live one, so a
 * player still holding the live URIs finds the same files.
 */
async function serveEventVod(c: Context<AppEnv>, target: PlaybackTarget, vod: { sessionId: string; fromMs: number; toMs: number }, parts: string[]): Promise<Response> {
  const prefix = `live/${target.streamId}/${vod.sessionId}`;
  const inSession = parts.length > 1 && parts[0] === vod.sessionId ? parts.slice(1) : parts;
  const file = inSession.join('/');
  // The session's media is final by now (the VOD opens once its recording is watchable): its durable playlists are
  // cached like a recording's, under a key no viewer path can name ('.vod' is not a valid path segment).
  const cacheKey = (name: string) => new Request(new URL(`/hls/${c.req.param('playbackId')}/${vod.sessionId}/.vod/${name}`, c.req.url).toString());
  const durablePlaylist = async (name: string) => {
    try {
      const response = await fetchThroughCache(
        c,
        cacheKey(name),
        () => loadFromDurable(c.env.MEDIA, `${prefix}/${name}`),
        `public, max-age=${DURABLE_VOD_PLAYLIST_MAX_AGE}`,
      );
      return playlistText(response);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) throw new ApiError(404, 'not-found', 'Not found', "no such file in this event's VOD");
      throw error;
    }
  };
  if (!file.endsWith('.m3u8')) {
    if (file !== 'thumbnail.jpg') {
      await publicSegmentOrRefuse(file, { fromMs: vod.fromMs, toMs: vod.toMs }, async (playlistFile) => ({
        key: cacheKey(playlistFile).url,
        text: await durablePlaylist(playlistFile),
      }));
    }
    return serveStored(c, { ...target, kind: 'recording', targetId: null, mediaPrefix: prefix, eventVod: null }, inSession);
  }
  const text = await durablePlaylist(file);
  const body =
    file === 'master.m3u8'
      ? rewriteForViewer(text, `${vod.sessionId}/`, target.token)
      : rewriteForViewer(asVodPlaylist(cutBetween(text, vod.fromMs, vod.toMs)), '', target.token);
  return forViewer(new Response(null, { headers: { 'content-type': PLAYLIST_TYPE } }), target, DURABLE_VOD_PLAYLIST_MAX_AGE, body);
}

/** Where the origin writes a rendition's media playlist, next to its segments (origin/pipeline/hls-command.ts). */
const RENDITION_PLAYLIST = 'index.m3u8';

/**
 * Which segments of a rendition an event's public ID may fetch, per rendition playlist copy (per isolate): the rules
 * are made once per new playlist text (every second or so while live), not per segment request. Bounded: the oldest
 * goes first.
 */
const segmentRules = new Map<string, { playlist: string; fromMs: number; toMs: number | null; rules: PublicSegments }>();
const SEGMENT_RULES_KEPT = 64;

/**
 * Refuses (404 segment-not-public) a file of an event's session that its public ID's playlists do not list from the
 * go-live on (edge/event/event-playback-gate.ts publicSegments): a rehearsal segment whose name was guessed or kept
 * from the preview. Decided on the segment's rendition playlist as the playlist requests get it: while LIVE the cached
 * copy of the origin's (max-age 1 s, the cache entry the public ID's playlist requests fill: a hit, or at most one
 * origin fetch per rendition per second per data center, shared, that the next playlist request then finds), for the
 * VOD the cached durable one. So an event's segment costs one more cache read than a plain stream's, plus decoding the
 * playlist text and comparing it with the copy its rules were made from (a byte compare: well under a millisecond even
 * for six hours of 2 s segments, ~600 kB; the rules themselves, a parse of the list, only when the list changed, about
 * once a second per rendition while live). Plain streams and preview IDs (no go-live) never come here.
 */
async function publicSegmentOrRefuse(
  file: string,
  cut: { fromMs: number; toMs: number | null },
  renditionPlaylist: (playlistFile: string) => Promise<{ key: string; text: string }>,
): Promise<void> {
  const slash = file.lastIndexOf('/');
  const playlistFile = slash < 0 ? RENDITION_PLAYLIST : `${file.slice(0, slash)}/${RENDITION_PLAYLIST}`;
  const refusal = new ApiError(
    404,
    'segment-not-public',
    'Not found',
    "this segment is not part of the event's public broadcast: only the segments its playlists list from the go-live on play here",
  );
  let copy: { key: string; text: string };
  try {
    copy = await renditionPlaylist(playlistFile);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw refusal; // no such rendition: nothing of it is listed
    throw error;
  }
  let memo = segmentRules.get(copy.key);
  if (!memo || memo.playlist !== copy.text || memo.fromMs !== cut.fromMs || memo.toMs !== cut.toMs) {
    memo = { playlist: copy.text, ...cut, rules: publicSegments(copy.text, cut) };
    segmentRules.delete(copy.key);
    segmentRules.set(copy.key, memo);
    if (segmentRules.size > SEGMENT_RULES_KEPT) segmentRules.delete(segmentRules.keys().next().value!);
  }
  if (!memo.rules.allows(file.slice(slash + 1))) throw refusal;
}

/**
 * A recording, clip or library video, from R2: its VOD HLS, its MP4 download (recording.mp4 / clip.mp4 / video.mp4,
 * with byte ranges) and its screenshot. Three layouts: a library video's (`videos/{videoId}/hls`, issue 13: video.mp4
 * and thumbnail.jpg next to hls/, see storedKey), and for recordings and clips two: a recording watchable from its
 * session's durable media (mediaPrefix `live/{streamId}/{sessionId}`, issue 11: its playlists are the session's,
 * closed here as VOD; its MP4 is exported on the side to recordings/{recordingId}/), and the older self-contained one
 * (`recordings/…/hls`, `clips/…/hls`, MP4 and screenshot next to hls/). Stored segments never change, so everything but playlists is immutable.
 */
async function serveStored(c: Context<AppEnv>, target: PlaybackTarget, parts: string[]): Promise<Response> {
  if (!target.mediaPrefix) throw new ApiError(404, 'not-ready', 'Not found', `this ${target.kind} is not ready yet`);
  const file = parts.join('/');
  const durable = target.mediaPrefix.startsWith('live/');
  if (durable && file.endsWith('.m3u8')) return serveDurablePlaylist(c, target, target.mediaPrefix, file);
  const key = durable ? await durableRecordingKey(c.env.MEDIA, target, file) : storedKey(target.kind, target.mediaPrefix, file);
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

/**
 * The self-contained layouts: `{root}/hls/…` with, for recordings and clips, `{root}/recording.mp4` (or clip.mp4) and
 * `{root}/screenshot.jpg`; for a library video (kind 'video'), `{root}/video.mp4` and `{root}/thumbnail.jpg`. Each
 * plays only its own kind's MP4 name.
 */
function storedKey(kind: PlaybackTarget['kind'], mediaPrefix: string, file: string): string {
  const root = mediaPrefix.replace(/\/hls$/, '');
  const mp4 = kind === 'video' ? 'video.mp4' : kind === 'clip' ? 'clip.mp4' : 'recording.mp4';
  if (file === mp4) return `${root}/${file}`;
  if (file === 'recording.mp4' || file === 'clip.mp4' || file === 'video.mp4') {
    throw new ApiError(404, 'not-found', 'Not found', `this ${kind} has no ${file}; its MP4 is ${mp4}`);
  }
  if (file === 'thumbnail.jpg') return `${root}/${kind === 'video' ? 'thumbnail.jpg' : 'screenshot.jpg'}`;
  return `${mediaPrefix}/${file}`;
}

/**
 * A recording over its session's durable media: segments from the session prefix, the MP4 (and the screenshot made
 * with it) from the export under recordings/{recordingId}/, which follows the recording becoming watchable.
 */
async function durableRecordingKey(bucket: R2Bucket, target: PlaybackTarget, file: string): Promise<string> {
  const exportPrefix = target.targetId ? `recordings/${target.targetId}` : null;
  if (file === 'recording.mp4' && target.kind === 'recording' && exportPrefix) {
    const key = `${exportPrefix}/recording.mp4`;
    if (!(await bucket.head(key))) {
      throw new ApiError(
        404,
        'not-ready',
        'Not found',
        'the MP4 of this recording is still being exported (see exportable and exportProgress on the recording); its HLS (master.m3u8) plays already',
      );
    }
    return key;
  }
  if (file === 'thumbnail.jpg') {
    // The export makes the screenshot; a session's own thumbnail stands in until then (if the origin shipped one).
    for (const key of [exportPrefix && `${exportPrefix}/screenshot.jpg`, `${target.mediaPrefix}/thumbnail.jpg`]) {
      if (key && (await bucket.head(key))) return key;
    }
    throw new ApiError(404, 'not-ready', 'Not found', 'the thumbnail of this recording is made with its MP4 export; not there yet');
  }
  if (file === 'recording.mp4' || file === 'clip.mp4') throw new ApiError(404, 'not-found', 'Not found', `this ${target.kind} has no ${file}`);
  return `${target.mediaPrefix}/${file}`;
}

/** A session's durable master as it is; its media playlists closed as VOD (ENDLIST, PLAYLIST-TYPE VOD). */
async function serveDurablePlaylist(c: Context<AppEnv>, target: PlaybackTarget, prefix: string, file: string): Promise<Response> {
  const playlist = await c.env.MEDIA.get(`${prefix}/${file}`);
  if (!playlist) throw new ApiError(404, 'not-found', 'Not found', 'no such file in this recording');
  const text = await new Response(playlist.body).text();
  const closed = file === 'master.m3u8' ? text : asVodPlaylist(text);
  const headers = new Headers({ 'content-type': PLAYLIST_TYPE });
  return forViewer(new Response(null, { headers }), target, DURABLE_VOD_PLAYLIST_MAX_AGE, rewriteForViewer(closed, '', target.token));
}

function storedHeaders(object: R2Object): Headers {
  return new Headers({
    'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
    'cache-control': `public, max-age=${SEGMENT_MAX_AGE}, immutable`,
    'accept-ranges': 'bytes',
    etag: object.httpEtag,
  });
}
