// Blocking playlist reloads through the edge (issue 15): a live media playlist request naming a segment or part not
// there yet (_HLS_msn/_HLS_part) is passed to the origin, which holds it until it exists. Identical held requests in
// this isolate share one origin request (a map of in-flight promises keyed by the cache key, removed once settled and
// cached), so 200 players waiting for the next part cost the origin one request per part per rendition. A hold
// longer than 3 target durations (the spec's limit) ends in 503 with Retry-After; answers are cached briefly under a
// key that keeps only the blocking directives (never the token), for players that retry the same URL.
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { ApiError, problemResponse } from '../problem.ts';
import { signedOriginFetch } from '../origin-fetch.ts';
import { countedD1 } from '../playback-stats.ts';
import { log } from '../log.ts';
import { originQuery, parseBlockingQuery, type BlockingQuery } from './blocking-query.ts';

/** A blocking answer stays valid (it holds at least what it was asked for); a few seconds covers retries. */
export const BLOCKING_MAX_AGE = 4;
/** Before a rendition's first answer tells its target duration: the standard 2 s segments. */
const DEFAULT_TARGET_SECONDS = 2;
/** Past 3 target durations: the origin's own deadline answers first; this is the edge's, for an origin gone silent. */
const DEADLINE_MARGIN_MS = 500;
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

interface HeldAnswer {
  status: number;
  body: string | null;
  detail: string | null;
}

/** Held origin requests of this isolate, by cache key; each entry settles once its answer is in the cache. */
const inFlight = new Map<string, Promise<HeldAnswer>>();
/** Target duration (s) per rendition playlist, from its last answer; bounded, the oldest goes first. */
const targetSeconds = new Map<string, number>();
const TARGETS_KEPT = 256;

/** How many origin requests this isolate started for held playlists (tests read it to see coalescing). */
export const heldOriginRequests = { count: 0 };

export function holdDeadlineMs(renditionKey: string): number {
  return 3 * (targetSeconds.get(renditionKey) ?? DEFAULT_TARGET_SECONDS) * 1000 + DEADLINE_MARGIN_MS;
}

function rememberTarget(renditionKey: string, text: string): void {
  const target = /^#EXT-X-TARGETDURATION:(\d+(?:\.\d+)?)\s*$/m.exec(text);
  if (!target) return;
  targetSeconds.delete(renditionKey);
  targetSeconds.set(renditionKey, Number(target[1]));
  if (targetSeconds.size > TARGETS_KEPT) targetSeconds.delete(targetSeconds.keys().next().value!);
}

export interface HeldPlaylistRequest {
  originId: string;
  /** the rendition playlist's URL on the origin, without query */
  originUrl: string;
  /** the playlist's viewer-side URL without query (no token): the cache key gets the directives appended */
  cacheUrl: string;
  query: BlockingQuery;
}

/** Never throws: the origin's 400/404/503 pass on; silence past the deadline is 503; anything else 502. */
async function loadHeld(c: Context<AppEnv>, request: HeldPlaylistRequest, deadlineMs: number): Promise<HeldAnswer> {
  heldOriginRequests.count += 1;
  try {
    const signer = { DB: countedD1(c.env.DB), ORIGIN_SECRET: c.env.ORIGIN_SECRET };
    const upstream = await signedOriginFetch(signer, request.originId, request.originUrl + originQuery(request.query), {
      signal: AbortSignal.timeout(deadlineMs),
    });
    if (upstream.status === 200) return { status: 200, body: new TextDecoder().decode(await upstream.arrayBuffer()), detail: null };
    const detail = upstream.status === 400 ? (await upstream.text()).slice(0, 300) : null;
    if (upstream.status !== 400) await upstream.body?.cancel();
    return { status: [400, 404, 503].includes(upstream.status) ? upstream.status : 502, body: null, detail };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { status: timedOut ? 503 : 502, body: null, detail: null };
  }
}

function sharedLoad(c: Context<AppEnv>, request: HeldPlaylistRequest, cacheKey: Request, deadlineMs: number): Promise<HeldAnswer> {
  const existing = inFlight.get(cacheKey.url);
  if (existing) return existing;
  const entry = loadHeld(c, request, deadlineMs).then(async (answer) => {
    if (answer.status === 200 && answer.body !== null) {
      await caches.default
        .put(cacheKey, new Response(answer.body, { headers: { 'content-type': PLAYLIST_TYPE, 'cache-control': `public, max-age=${BLOCKING_MAX_AGE}` } }))
        .catch(() => undefined);
    }
    return answer;
  });
  inFlight.set(cacheKey.url, entry);
  // Removed once settled (its answer is in the cache by then); kept alive past this viewer hanging up, for the others.
  const settled = entry.finally(() => {
    if (inFlight.get(cacheKey.url) === entry) inFlight.delete(cacheKey.url);
  });
  c.executionCtx.waitUntil(settled.catch(() => undefined));
  return entry;
}

function tooLong(c: Context<AppEnv>, deadlineMs: number): Response {
  const seconds = Math.ceil(deadlineMs / 1000);
  const response = problemResponse(
    c,
    new ApiError(503, 'playlist-not-ready', 'Service unavailable', `the requested segment or part did not appear within ${seconds} s (3 target durations); reload the playlist`),
  );
  response.headers.set('retry-after', '1');
  response.headers.set('cache-control', 'no-store');
  return response;
}

/**
 * The origin's answer to a held playlist request (a cached one for an identical request when there is one), as a
 * playlist Response, or the problem the viewer gets (400 of the spec, 404, 503 with Retry-After, 502).
 */
export async function heldPlaylist(c: Context<AppEnv>, request: HeldPlaylistRequest): Promise<Response> {
  const cacheKey = new Request(request.cacheUrl + originQuery(request.query));
  const hit = await caches.default.match(cacheKey);
  if (hit) return hit;
  const deadlineMs = holdDeadlineMs(request.cacheUrl);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), deadlineMs);
  });
  let answer: HeldAnswer | null;
  try {
    answer = await Promise.race([sharedLoad(c, request, cacheKey, deadlineMs), giveUp]);
  } finally {
    clearTimeout(timer);
  }
  if (answer === null || answer.status === 503) {
    log('held_playlist_timeout', { path: new URL(request.cacheUrl).pathname, deadlineMs, fromOrigin: answer !== null });
    return tooLong(c, deadlineMs);
  }
  if (answer.status === 400) {
    const field = request.query.part !== null && /part/i.test(answer.detail ?? '') ? '_HLS_part' : '_HLS_msn';
    const detail = `${field}: asks for a segment or part too far past the live edge (rfc8216bis 6.2.5.2)`;
    throw new ApiError(400, 'invalid-request', 'Invalid request', detail, { errors: [{ field, message: detail }] });
  }
  if (answer.status === 404) throw new ApiError(404, 'not-found', 'Not found', 'the live session has no such playlist');
  if (answer.status !== 200 || answer.body === null) {
    throw new ApiError(502, 'origin-unavailable', 'Bad gateway', 'the origin holding this live session did not answer; retry shortly');
  }
  rememberTarget(request.cacheUrl, answer.body);
  return new Response(answer.body, { headers: { 'content-type': PLAYLIST_TYPE, 'cache-control': `public, max-age=${BLOCKING_MAX_AGE}` } });
}

/** The request's LL-HLS directives, or null when it has none; a malformed one is a 400 naming the parameter. */
export function blockingQueryOf(url: string): BlockingQuery | null {
  const params = new URL(url).searchParams;
  if (!params.has('_HLS_msn') && !params.has('_HLS_part') && !params.has('_HLS_skip')) return null;
  const parsed = parseBlockingQuery(params);
  if (!parsed.ok) throw new ApiError(400, 'invalid-request', 'Invalid request', `${parsed.field}: ${parsed.detail}`, { errors: [{ field: parsed.field, message: parsed.detail }] });
  return parsed.query;
}
