// Media URLs in API answers are absolute (seed 001's examples are): the views keep `/hls/...` paths (stored documents
// carry them as they are), and the routes resolve them on the origin the API was called on — the caller's host is the
// one that serves /hls. Webhook payloads, sent with no request, resolve them on PUBLIC_BASE_URL when it is set
// (edge/webhooks/payload-urls.ts).
import type { Clip, Recording, Session } from '../shared/schemas/recording.ts';

/** A path (or an already absolute URL) resolved on `base` (the request's URL, or PUBLIC_BASE_URL); null stays null. */
export const absoluteUrl = (pathOrUrl: string | null, base: string): string | null =>
  pathOrUrl === null ? null : new URL(pathOrUrl, base).href;

export const absoluteRecording = (recording: Recording, base: string): Recording => ({
  ...recording,
  recordingUrl: absoluteUrl(recording.recordingUrl, base),
  mp4Url: absoluteUrl(recording.mp4Url, base),
  screenshot: absoluteUrl(recording.screenshot, base),
});

export const absoluteSession = (session: Session, base: string): Session => ({
  ...session,
  recordingUrl: absoluteUrl(session.recordingUrl, base),
  mp4Url: absoluteUrl(session.mp4Url, base),
});

export const absoluteClip = (clip: Clip, base: string): Clip => ({
  ...clip,
  playbackUrl: absoluteUrl(clip.playbackUrl, base)!,
  mp4Url: absoluteUrl(clip.mp4Url, base)!,
});
