// Scheduled live events through the public API for end-to-end tests: create one, run its control operations, wait for
// a status (or one it only passed through between two polls, by its activity timeline), and read what a viewer of a
// playback id gets: the problem of a refusal, or the playlists with each segment's program date-time.
import { LIVE_EVENT_STATUSES, type LiveEventOperation, type LiveEventStatus } from '../../shared/live-event-vocabulary.ts';
import { waitFor, type Stack } from './stack.ts';

/** A LIVE event starting `startInMs` from now, DVR, a VOD open at once and never closing; `overrides` replace fields. */
export function liveEventBody(overrides: Record<string, unknown> = {}, startInMs = 5000): Record<string, unknown> {
  return {
    name: 'e2e event',
    type: 'LIVE_TYPE_LIVE',
    broadcastMode: 'BROADCAST_MODE_DVR',
    resolution: '360p',
    security: { accessPolicy: 'public', allowedDomains: [] },
    ullEnabled: false,
    scheduledStartAt: new Date(Date.now() + startInMs).toISOString(),
    vod: { enabled: true, startAt: null, endAt: null },
    ...overrides,
  };
}

/** POST /v1/live/events; throws with the problem unless 201. The answer holds the stream key (ingest URLs). */
export async function createLiveEvent(stack: Stack, body: Record<string, unknown> = liveEventBody()): Promise<any> {
  const response = await stack.api('POST', '/live/events', body);
  if (response.status !== 201) throw new Error(`creating the event failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.data;
}

export async function getLiveEvent(stack: Stack, eventId: string): Promise<any> {
  const response = await stack.api('GET', `/live/events/${eventId}`);
  if (response.status !== 200) throw new Error(`reading event ${eventId} failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.data;
}

/** POST /v1/live/events/{id}/{operation}: the answer as it came (a refusal is a problem body). */
export function operateLiveEvent(stack: Stack, eventId: string, operation: LiveEventOperation, body: Record<string, unknown> = {}) {
  return stack.api('POST', `/live/events/${eventId}/${operation}`, body);
}

/** Runs an operation the event must accept; the event as answered, and when the request was sent and answered. */
export async function mustOperate(stack: Stack, eventId: string, operation: LiveEventOperation, body: Record<string, unknown> = {}) {
  const sentAt = Date.now();
  const response = await operateLiveEvent(stack, eventId, operation, body);
  const answeredAt = Date.now();
  if (response.status !== 200) throw new Error(`/${operation} refused: ${response.status} ${JSON.stringify(response.body)}`);
  return { event: response.body.data, sentAt, answeredAt };
}

/** The event once it is in `status`, or once its timeline shows it entered `status` after the wait began. */
export function waitForEventStatus(stack: Stack, eventId: string, status: LiveEventStatus, timeoutMs = 20_000): Promise<any> {
  const since = Date.now();
  return waitFor(
    `event ${eventId} to be ${status}`,
    async () => {
      const event = await getLiveEvent(stack, eventId);
      if (event.status === status) return event;
      const entered = (event.activities ?? []).some((a: any) => a.status === status && Date.parse(a.at) >= since - 1000);
      return entered ? event : undefined;
    },
    timeoutMs,
  );
}

/** Position of a status in the machine's order: an event only ever moves forward through it (until /reopen). */
export const statusRank = (status: string): number => LIVE_EVENT_STATUSES.indexOf(status as LiveEventStatus);

export interface PlaylistSegment {
  sequence: number;
  uri: string;
  duration: number;
  /** EXT-X-PROGRAM-DATE-TIME of the segment (epoch ms), null when the playlist has none for it */
  programDateTime: number | null;
  discontinuity: boolean;
}

export interface MediaPlaylist {
  text: string;
  mediaSequence: number;
  endList: boolean;
  playlistType: string | null;
  segments: PlaylistSegment[];
  /** Σ EXTINF */
  duration: number;
}

/** Pure: a media playlist's segments with their sequence numbers and program date-times (a PDT tag carries on). */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const mediaSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const segments: PlaylistSegment[] = [];
  let sequence = mediaSequence;
  let duration = 0;
  let pdt: number | null = null;
  let discontinuity = false;
  let nextStart: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line !== '' && !line.startsWith('#')) {
      // RFC 8216 §4.3.2.6: a segment without its own tag follows on from the previous one, unless a discontinuity.
      const programDateTime: number | null = pdt ?? (discontinuity ? null : nextStart);
      segments.push({ sequence, uri: line, duration, programDateTime, discontinuity });
      nextStart = programDateTime === null ? null : programDateTime + duration * 1000;
      sequence += 1;
      pdt = null;
      discontinuity = false;
    }
  }
  return {
    text,
    mediaSequence,
    endList: /^#EXT-X-ENDLIST\s*$/m.test(text),
    playlistType: /#EXT-X-PLAYLIST-TYPE:(\w+)/.exec(text)?.[1] ?? null,
    segments,
    duration: segments.reduce((sum, s) => sum + s.duration, 0),
  };
}

export type PlaybackAnswer =
  | { ok: false; status: number; problemType: string | null; detail: string | null }
  | { ok: true; status: number; master: string; mediaUrl: string; media: MediaPlaylist };

/** The last part of a problem's type URI ('event-not-live'), or null when the body is not a problem. */
export function problemTypeOf(body: unknown): string | null {
  const type = (body as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type.split('/').pop()! : null;
}

/**
 * What a viewer of `/hls/{playbackId}/master.m3u8` gets now: the refusal (status and problem type), or the master and
 * its first rendition's media playlist. `origin` is sent as the Origin header (allowed-domains checks).
 */
export async function playbackAnswer(stack: Stack, playbackId: string, origin?: string): Promise<PlaybackAnswer> {
  const headers: Record<string, string> = origin ? { origin } : {};
  const masterUrl = `${stack.edgeUrl}/hls/${playbackId}/master.m3u8`;
  const master = await stack.edgeFetch(masterUrl, { headers });
  if (!master.ok) {
    const text = await master.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not a problem body
    }
    return { ok: false, status: master.status, problemType: problemTypeOf(body), detail: body?.detail ?? null };
  }
  const masterText = await master.text();
  const variant = masterText.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!variant) throw new Error(`the master playlist of ${playbackId} names no rendition:\n${masterText}`);
  const mediaUrl = new URL(variant, masterUrl).toString();
  const media = await stack.edgeFetch(mediaUrl, { headers });
  if (!media.ok) return { ok: false, status: media.status, problemType: null, detail: `media playlist: ${await media.text()}` };
  return { ok: true, status: 200, master: masterText, mediaUrl, media: parseMediaPlaylist(await media.text()) };
}

/** Waits until the playback id plays (its media playlist lists at least `minSegments`), and gives what it played. */
export function waitForPlayback(stack: Stack, playbackId: string, minSegments = 1, timeoutMs = 30_000) {
  return waitFor(
    `playback id ${playbackId} to play ${minSegments} segment(s)`,
    async () => {
      const answer = await playbackAnswer(stack, playbackId);
      return answer.ok && answer.media.segments.length >= minSegments ? answer : undefined;
    },
    timeoutMs,
  );
}

/** Fetches one listed segment through the edge: its status and size. */
export async function fetchSegment(stack: Stack, mediaUrl: string, segment: PlaylistSegment): Promise<{ status: number; bytes: number }> {
  const response = await stack.edgeFetch(new URL(segment.uri, mediaUrl).toString());
  return { status: response.status, bytes: (await response.arrayBuffer()).byteLength };
}
