// Who may watch an event, and what they get, pure: the answer for one request on the event's public or preview
// playback ID, from the event's playback state (its StreamObject's, cached 2 s), the time and the page's host.
// Public viewers get nothing before LIVE, the live edge (TRADITIONAL_LIVE) or start-over since the go-live (DVR)
// while LIVE, the live part as a VOD in its VOD window, and a clear end after it; the producer's preview ID plays the
// whole session (rehearsal and live) until the event is closed. Segments follow the same rule as playlists
// (publicSegments): the public ID fetches only what its playlists list from the go-live on, never a guessed rehearsal one.
import type { BroadcastMode, LiveEventStatus, LiveType } from '../../shared/live-event-vocabulary.ts';
import { hostAllowed } from '../allowed-domains.ts';
import { cutBetween, windowFrom, type LiveWindow } from '../playlist-window.ts';

/** What the event's StreamObject tells playback about one of its playback IDs (B's `eventPlayback`). */
export interface EventPlaybackState {
  role: 'public' | 'preview';
  status: LiveEventStatus;
  type: LiveType;
  broadcastMode: BroadcastMode;
  accessPolicy: 'public' | 'private';
  /** host names, '*.example.com' wildcards; empty: any page */
  allowedDomains: string[];
  /** epoch ms, like the rest */
  scheduledStartAt: number;
  liveStartedAt: number | null;
  liveEndedAt: number | null;
  /** the stream session the live part belongs to */
  liveSessionId: string | null;
  vod: { startAt: number | null; endAt: number | null };
  /** R2 prefix of the simulive source's HLS (PLAYBACK mode plays it as a VOD) */
  simuliveSourcePrefix: string | null;
}

export type EventPlaybackAnswer =
  | { kind: 'refuse'; httpStatus: 403 | 404 | 410; type: string; detail: string }
  /** the stream's live session, its media playlists under this window */
  | { kind: 'live'; window: LiveWindow }
  /** the live part of this session from its durable playlists in R2, cut at these instants and closed as a VOD */
  | { kind: 'vod'; sessionId: string; fromMs: number; toMs: number }
  /** the simulive source's own VOD (PLAYBACK mode) */
  | { kind: 'source-vod'; prefix: string };

const BEFORE_LIVE: readonly LiveEventStatus[] = ['LIVE_STATUS_SCHEDULED', 'LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW', 'LIVE_STATUS_PREVIEW'];
const ENDED: readonly LiveEventStatus[] = ['LIVE_STATUS_LIVE_END', 'LIVE_STATUS_CLOSED', 'LIVE_STATUS_ARCHIVED'];
const CLOSED: readonly LiveEventStatus[] = ['LIVE_STATUS_CLOSED', 'LIVE_STATUS_ARCHIVED'];

const iso = (ms: number) => new Date(ms).toISOString();
const refuse = (httpStatus: 403 | 404 | 410, type: string, detail: string): EventPlaybackAnswer => ({ kind: 'refuse', httpStatus, type, detail });
const ended = (state: EventPlaybackState) => refuse(410, 'event-ended', `this event has ended (${state.status}); it no longer plays`);

export function gateEventPlayback(state: EventPlaybackState, now: number, requestHost: string | null): EventPlaybackAnswer {
  if (!hostAllowed(requestHost, state.allowedDomains)) {
    return refuse(
      403,
      'domain-not-allowed',
      requestHost === null
        ? "this event plays only on its allowed domains, and the request's Origin or Referer names no page"
        : `this event does not play on ${requestHost}: not one of its allowed domains`,
    );
  }
  return state.role === 'preview' ? previewAnswer(state) : publicAnswer(state, now);
}

/** The producer's rehearsal view: all the session has, whatever the status, until the event is closed. */
function previewAnswer(state: EventPlaybackState): EventPlaybackAnswer {
  if (CLOSED.includes(state.status)) return ended(state);
  if (state.broadcastMode === 'BROADCAST_MODE_PLAYBACK' && state.simuliveSourcePrefix !== null) {
    return { kind: 'source-vod', prefix: state.simuliveSourcePrefix };
  }
  return { kind: 'live', window: { type: 'dvr', fromMs: null } };
}

function publicAnswer(state: EventPlaybackState, now: number): EventPlaybackAnswer {
  const { status } = state;
  if (BEFORE_LIVE.includes(status)) {
    return refuse(403, 'event-not-live', `this event is not live yet (${status}); it is scheduled to start at ${iso(state.scheduledStartAt)}`);
  }
  if (ENDED.includes(status)) return ended(state);
  if (state.broadcastMode === 'BROADCAST_MODE_PLAYBACK') {
    if (state.simuliveSourcePrefix === null) return refuse(404, 'not-found', 'this event has no source video to play');
    return { kind: 'source-vod', prefix: state.simuliveSourcePrefix };
  }
  if (status === 'LIVE_STATUS_LIVE') {
    // Never into the rehearsal: both windows start at the go-live moment (nearest segment boundary).
    const fromMs = state.liveStartedAt;
    return { kind: 'live', window: { type: state.broadcastMode === 'BROADCAST_MODE_DVR' ? 'dvr' : 'sliding', fromMs } };
  }
  // ENCODING, VOD_READY, VOD: the live part as a VOD, inside its window. The instants are checked here as well as by
  // the event's alarms, so the window opens and closes on time even while the alarm's status change is on its way.
  if (state.vod.endAt !== null && now >= state.vod.endAt) return ended(state);
  if (status === 'LIVE_STATUS_ENCODING') {
    return refuse(403, 'event-vod-not-open', 'this event has ended its live part; its VOD is being made and plays in a few seconds');
  }
  if (status === 'LIVE_STATUS_VOD_READY' && state.vod.startAt !== null && now < state.vod.startAt) {
    return refuse(403, 'event-vod-not-open', `this event's VOD opens at ${iso(state.vod.startAt)}`);
  }
  if (state.liveSessionId === null || state.liveStartedAt === null) {
    return refuse(404, 'not-found', 'this event went live without any media: there is no VOD to play');
  }
  return { kind: 'vod', sessionId: state.liveSessionId, fromMs: state.liveStartedAt, toMs: state.liveEndedAt ?? now };
}

/**
 * The media segments the public ID may fetch from one rendition, decided on the session's whole media playlist of that
 * rendition (the same text its viewers' playlists are cut from): those listed at or after the go-live boundary
 * (`windowFrom`, the boundary viewers' playlists start at) and, for the VOD, before the end boundary (`cutBetween`).
 * While LIVE a segment newer than the list (same leg `{legTag}-{nnnnn}.ts`, a higher number than any listed, its leg
 * on the air after the go-live) is let through too: a player holding a playlist a moment newer than the one the
 * request is checked against asks for it, and no rehearsal segment can be newer than a post-go-live one of its leg.
 * A name is compared as the playlist writes it (relative to the rendition's folder).
 */
export interface PublicSegments {
  allows(name: string): boolean;
}

/** A segment of a leg, standard (.ts) or low mode (.m4s), or a part of one (`{legTag}-{nnnnn}.{p}.m4s`, issue 15). */
const LEG_SEGMENT = /^([0-9a-f]{6})-(\d+)(?:\.ts|\.m4s|(\.\d+)\.m4s)$/;
/** A low-mode leg's init segment: public when its leg is. */
const LEG_INIT = /^init-([0-9a-f]{6})\.mp4$/;

export function publicSegments(playlist: string, cut: { fromMs: number; toMs: number | null }): PublicSegments {
  // LL-HLS lists parts, preload hints and init segments in URI="…" attributes: names like the segments'.
  const listed = [...uriLines(playlist), ...attributeUris(playlist)];
  const cutText = cut.toMs === null ? windowFrom(playlist, cut.fromMs) : cutBetween(playlist, cut.fromMs, cut.toMs);
  const kept = new Set([...uriLines(cutText), ...attributeUris(cutText)]);
  const listedSet = new Set(listed);
  /** per leg: its highest listed number, and whether that leg has segments kept (on the air after the go-live) */
  const legs = new Map<string, { last: number; kept: boolean }>();
  for (const uri of listed) {
    const leg = LEG_SEGMENT.exec(uri);
    if (!leg) continue;
    const entry = legs.get(leg[1]!) ?? { last: -1, kept: false };
    entry.last = Math.max(entry.last, Number(leg[2]));
    entry.kept ||= kept.has(uri);
    legs.set(leg[1]!, entry);
  }
  return {
    allows(name) {
      if (listedSet.has(name)) return kept.has(name);
      if (cut.toMs !== null) return false; // a VOD's list is final: what it does not list is not part of it
      const init = LEG_INIT.exec(name);
      if (init) return legs.get(init[1]!)?.kept ?? false;
      const leg = LEG_SEGMENT.exec(name);
      const entry = leg ? legs.get(leg[1]!) : undefined;
      // A later part of the last segment listed (the one in progress) is as new as the ones listed before it.
      return entry !== undefined && entry.kept && (Number(leg![2]) > entry.last || (leg![3] !== undefined && Number(leg![2]) === entry.last));
    },
  };
}

const attributeUris = (playlist: string) => [...playlist.matchAll(/^#EXT-X-(?:PART|PRELOAD-HINT|MAP):.*?URI="([^"]+)"/gm)].map((m) => m[1]!);

const uriLines = (playlist: string) =>
  playlist
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
