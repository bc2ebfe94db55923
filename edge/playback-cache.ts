// The playback hot path's lookups, kept briefly: what a playback ID names (D1: its stream, kind, stored media and
// access policy) and the signing key a private token names (D1), and for a live playback ID what its StreamObject
// says (access policy, and where the live session is: origin id/url + session id). They live in the Cache API under
// an internal URL, so a viewer request that finds them there touches neither D1 nor a Durable Object; the stream
// routes purge them when a stream is deleted, disabled, completed or changes its access policy, and the signing-key
// route when a key is deleted.
//
// Worst-case staleness, and why the TTLs are what they are:
// - The Cache API is per data center and a purge runs in the one that served the API call: everywhere else an entry
//   lives to its TTL. A lookup already running when the purge lands is not stored (this isolate); one running in
//   another isolate of the same data center may store its pre-change answer just after the purge: one TTL again.
// - Live playback IDs: which stream a playback ID belongs to never changes, so that D1 answer is kept IDENTITY_TTL_MS
//   (5 min); everything that does change — deletion, access policy, the live session — comes from the StreamObject,
//   kept LIVE_TTL_MS (2 s). So a deleted stream or one switched to private keeps playing for at most 2 s in other
//   data centers; a session that starts is seen as not-live for at most 2 s; after a failover playlists are asked of
//   the dead origin for at most 2 s (the route then serves R2's durable copy, and segments come from R2 anyway); a new
//   session right after an ended one may show the ended one for 2 s.
// - Recording and clip playback IDs: their access policy and stored media come from D1, kept TARGET_TTL_MS (5 s): a
//   deleted recording or one of a stream switched to private plays for at most 5 s in other data centers. One whose
//   media is not ready yet is never kept: the moment it becomes watchable it plays.
// - Signing keys: SIGNING_KEY_TTL_MS (5 s): a deleted key opens playback for at most 5 s in other data centers.
import type { Env } from './env.ts';
import type { PlaylistWindow } from '../shared/schemas/live-stream.ts';
import type { EventPlaybackState } from './event/event-playback-gate.ts';

export const TARGET_TTL_MS = 5000;
export const IDENTITY_TTL_MS = 300_000;
export const SIGNING_KEY_TTL_MS = 5000;
export const LIVE_TTL_MS = 2000;

/** What a playback ID names, as stored in D1 (playback_ids). */
export interface PlaybackRecord {
  streamId: string;
  workspaceId: string;
  kind: 'live' | 'recording' | 'clip' | 'video';
  /** the recording's, clip's or video's id; null for a live playback ID */
  targetId: string | null;
  /** R2 prefix of the stored VOD HLS (`recordings/…/hls`, `clips/…/hls` or `live/{streamId}/{sessionId}`), null until ready */
  mediaPrefix: string | null;
  /** for recordings and clips; a live playback ID's policy is its StreamObject's (LivePlayback) */
  accessPolicy: 'public' | 'private';
}

/** Where a stream's live session is served from. */
export interface LivePointer {
  originId: string;
  originUrl: string;
  sessionId: string;
}

/** What a live playback ID's StreamObject says; null when the stream is gone. */
export interface LivePlayback {
  accessPolicy: 'public' | 'private';
  live: LivePointer | null;
  /** the stream's choice for viewers' live media playlists (edge/playlist-window.ts) */
  playlistWindow: PlaylistWindow;
  /** for an event's public or preview playback ID, what the event lets it play (edge/event/event-playback-gate.ts) */
  event: EventPlaybackState | null;
}

/** How long a playback ID's D1 answer is kept: a live one's only says which stream it is (never changes). */
export const targetTtl = (record: PlaybackRecord | null): number => (record?.kind === 'live' ? IDENTITY_TTL_MS : TARGET_TTL_MS);

/** Not a host anyone can reach: the keys only name entries in this Worker's cache. */
const CACHE_ORIGIN = 'https://playback-cache.riverhead.internal';
export const targetCacheKey = (playbackId: string) => `target/${encodeURIComponent(playbackId)}`;
export const liveCacheKey = (playbackId: string) => `live/${encodeURIComponent(playbackId)}`;
export const signingKeyCacheKey = (workspaceId: string, keyId: string) =>
  `signing-key/${encodeURIComponent(workspaceId)}/${encodeURIComponent(keyId)}`;
const cacheRequest = (key: string) => new Request(`${CACHE_ORIGIN}/${key}`);

interface StoredEntry<T> {
  /** epoch ms; the Cache-Control max-age only has whole seconds, so the expiry is checked here too */
  expiresAt: number;
  value: T;
}

interface SharedLookup {
  startedAt: number;
  result: Promise<unknown>;
}
/**
 * Misses of the same entry at the same moment share one lookup (per isolate): when a live pointer expires under 200
 * players, one StreamObject call refreshes it, not 200.
 */
const inFlight = new Map<string, SharedLookup>();
/**
 * How long a request waits on a lookup another request started before doing its own: that lookup is the other
 * request's I/O, which workerd cancels when its viewer hangs up, leaving the shared promise unsettled.
 */
const SHARED_WAIT_MS = 1000;
/** When each key was last purged here: a lookup that started before that must not store its answer. */
const purgedAt = new Map<string, number>();
const PURGE_MEMORY_MS = 30_000;

export interface LookupContext {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * The cached answer for `key`, or `load()`'s, stored for `ttlMs` (or what it says for that answer) when `keep`
 * accepts it. `load` is where the D1 or Durable Object call happens (and is counted by the caller).
 */
export async function cachedLookup<T>(
  ctx: LookupContext,
  key: string,
  ttlMs: number | ((value: T) => number),
  load: () => Promise<T>,
  keep: (value: T) => boolean = () => true,
): Promise<T> {
  const hit = await readEntry<T>(key);
  if (hit) return hit.value;
  // A lookup that failed or outlived SHARED_WAIT_MS is replaced by the first waiter to notice (startLookup puts its
  // entry in place synchronously); the waiters resuming after it follow that one instead of each starting their own.
  for (let shared = inFlight.get(key); shared; ) {
    const answer = await withinSharedWait(shared);
    if (answer) return answer.value as T;
    const next = inFlight.get(key);
    if (next === undefined || next === shared) break;
    shared = next;
  }
  return startLookup(ctx, key, ttlMs, load, keep);
}

async function readEntry<T>(key: string): Promise<StoredEntry<T> | null> {
  const response = await caches.default.match(cacheRequest(key));
  if (!response) return null;
  try {
    const entry = (await response.json()) as StoredEntry<T>;
    return entry.expiresAt > Date.now() ? entry : null;
  } catch {
    return null;
  }
}

async function withinSharedWait(shared: SharedLookup): Promise<{ value: unknown } | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, shared.startedAt + SHARED_WAIT_MS - Date.now()));
  });
  try {
    // A lookup that failed is this request's cue to try on its own, not an error of its own.
    return await Promise.race([shared.result.then((value) => ({ value }), () => null), giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

function startLookup<T>(
  ctx: LookupContext,
  key: string,
  ttlMs: number | ((value: T) => number),
  load: () => Promise<T>,
  keep: (value: T) => boolean,
): Promise<T> {
  const startedAt = Date.now();
  for (const [other, entry] of inFlight) if (startedAt - entry.startedAt > SHARED_WAIT_MS * 10) inFlight.delete(other);
  const result = load();
  const entry: SharedLookup = { startedAt, result };
  inFlight.set(key, entry);
  // The entry stays until the answer is in the cache, so a request arriving in between shares it instead of missing.
  const stored = result
    .then((value) => {
      if (!keep(value) || (purgedAt.get(key) ?? 0) >= startedAt) return undefined;
      return writeEntry(key, value, typeof ttlMs === 'number' ? ttlMs : ttlMs(value));
    })
    .catch(() => undefined)
    .finally(() => {
      if (inFlight.get(key) === entry) inFlight.delete(key);
    });
  ctx.waitUntil(stored);
  return result;
}

/** Stores an answer learnt on the side (the signing key a playback lookup joined in). */
export function primeEntry<T>(ctx: LookupContext, key: string, value: T, ttlMs: number): void {
  const startedAt = Date.now();
  ctx.waitUntil(
    Promise.resolve()
      .then(() => ((purgedAt.get(key) ?? 0) >= startedAt ? undefined : writeEntry(key, value, ttlMs)))
      .catch(() => undefined),
  );
}

function writeEntry<T>(key: string, value: T, ttlMs: number): Promise<void> {
  const entry: StoredEntry<T> = { expiresAt: Date.now() + ttlMs, value };
  return caches.default.put(
    cacheRequest(key),
    new Response(JSON.stringify(entry), {
      headers: { 'content-type': 'application/json', 'cache-control': `max-age=${Math.ceil(ttlMs / 1000)}` },
    }),
  );
}

async function purgeKeys(keys: string[]): Promise<void> {
  const now = Date.now();
  for (const [key, at] of purgedAt) if (now - at > PURGE_MEMORY_MS) purgedAt.delete(key);
  for (const key of keys) {
    purgedAt.set(key, now);
    inFlight.delete(key);
  }
  await Promise.all(keys.map((key) => caches.default.delete(cacheRequest(key))));
}

/**
 * Forgets what the cache holds about these playback IDs (what they name, and their stream's live pointer). Called
 * after the change is stored (D1 / the StreamObject), so the next viewer request reads the new state. `env` is taken
 * so callers need no change should the cache move to a binding.
 */
export async function purgePlaybackCache(_env: Env, playbackIds: string[]): Promise<void> {
  await purgeKeys(playbackIds.flatMap((id) => [targetCacheKey(id), liveCacheKey(id)]));
}

/** Forgets a signing key, so tokens it signed stop opening playback at once (here; elsewhere within SIGNING_KEY_TTL_MS). */
export async function purgeSigningKeyCache(_env: Env, workspaceId: string, keyId: string): Promise<void> {
  await purgeKeys([signingKeyCacheKey(workspaceId, keyId)]);
}

/** Every playback ID of a stream (live, recordings, clips): the ones an access-policy change or a delete affects. */
export async function playbackIdsOfStream(db: D1Database, streamId: string): Promise<string[]> {
  const { results } = await db.prepare('SELECT id FROM playback_ids WHERE stream_id = ?').bind(streamId).all<{ id: string }>();
  return results.map((row) => row.id);
}
