// What the embed player shows instead of a picture, pure: decided from the answer the edge gives for the playback ID's
// master playlist (its status and problem+json `type`/`detail`, edge/routes/playback.ts). Used by the page as served
// (so a refusal is readable without script) and by the player script while it waits or when playback stops.

export type PlayerState =
  /** the master playlist answered: play */
  | 'playable'
  /** a live playback ID with no session now (not started yet, or ended): the player asks again until it goes live */
  | 'offline'
  /** a recording, clip or video still being made, or a live session whose first playlist is not there yet: ask again */
  | 'pending'
  /** the origin did not answer: ask again */
  | 'unavailable'
  /** a private playback ID without a valid token, or an event that refuses this page or this moment */
  | 'refused'
  /** no such playback ID */
  | 'unknown';

export interface PlayerStatus {
  state: PlayerState;
  title: string;
  detail: string;
}

/** States the player keeps polling from: they end by themselves when the stream goes live or the media is ready. */
export const WAITING_STATES: readonly PlayerState[] = ['offline', 'pending', 'unavailable'];

export interface ProblemLike {
  type?: unknown;
  title?: unknown;
  detail?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The status for an HTTP status and its problem body (any shape; a missing body is read as {}). */
export function playerStatus(status: number, problem: ProblemLike = {}): PlayerStatus {
  if (status >= 200 && status < 300) return { state: 'playable', title: '', detail: '' };
  const type = text(problem.type).replace(/^.*\//, '');
  const detail = text(problem.detail);
  switch (type) {
    case 'not-live':
      return {
        state: 'offline',
        title: 'This stream is not live',
        detail: 'It has not started yet, or it has ended. Playback starts by itself when the stream goes live.',
      };
    case 'not-ready':
      return { state: 'pending', title: 'Not ready yet', detail: `${sentence(detail)} This page plays it as soon as it is ready.` };
    case 'event-not-live':
    case 'event-vod-not-open':
      // An event before its go-live, or between its live part and its VOD: its own words say when.
      return { state: 'pending', title: type === 'event-not-live' ? 'This event has not started' : 'The replay opens soon', detail: sentence(detail) };
    case 'playback-forbidden':
      return { state: 'refused', title: 'This video is private', detail: sentence(detail) || 'It needs a playback token.' };
    case 'origin-unavailable':
      return { state: 'unavailable', title: 'Temporarily unavailable', detail: 'The stream could not be reached; retrying.' };
    case 'not-found':
      // The playback route's two 404s: no such ID, or a live session whose master playlist is not written yet.
      return detail === 'no such playback id'
        ? { state: 'unknown', title: 'Video not found', detail: 'There is no video or stream with this playback ID.' }
        : { state: 'pending', title: 'The stream is starting', detail: 'Playback starts in a moment.' };
  }
  if (status === 403 || status === 410 || status === 404) {
    // Event refusals (not yet open, ended, this page not allowed…): their own title and detail say which.
    return { state: 'refused', title: text(problem.title) || 'Not available', detail: sentence(detail) };
  }
  if (status >= 500) return { state: 'unavailable', title: 'Temporarily unavailable', detail: 'The stream could not be reached; retrying.' };
  return { state: 'refused', title: text(problem.title) || 'Cannot play', detail: sentence(detail) };
}

/** A problem detail as a sentence (they are written lower-case, without a full stop). */
function sentence(detail: string): string {
  if (!detail) return '';
  const first = detail.charAt(0).toUpperCase() + detail.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
