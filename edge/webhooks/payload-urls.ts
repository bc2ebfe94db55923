// A webhook payload's media URLs made absolute on PUBLIC_BASE_URL (edge/public-base-url.ts), the one place that knows
// which fields of which payload are media URLs. Receivers have no request host to resolve a /hls/... path on; the API
// resolves on the host it was called on (edge/media-urls.ts). Without a base the payload is left as it is.
import type { WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import { absoluteUrl } from '../media-urls.ts';

/**
 * A field resolved on `base` when it holds a string; null or absent (a body trimmed to fit a Queue message drops
 * fields, edge/webhook-outbox-batches.ts) stays as it is.
 */
function resolved<T extends object, K extends keyof T>(object: T, keys: readonly K[], base: string): T {
  const out = { ...object };
  for (const key of keys) {
    const value = out[key];
    if (typeof value === 'string') out[key] = absoluteUrl(value, base) as T[K];
  }
  return out;
}

const VIDEO_URL_FIELDS = ['hlsUrl', 'mp4Url', 'thumbnailUrl'] as const;
const PLAYBACK_URL_FIELDS = ['public', 'preview'] as const;

export function withAbsoluteMediaUrls(event: WebhookEvent, base: string | null): WebhookEvent {
  // A body that is no object here is not ours to repair (dead-letters.ts records what it can of it).
  if (base === null || typeof event.data !== 'object' || event.data === null) return event;
  switch (event.event) {
    case 'VIDEO_ASSET':
      return { ...event, data: resolved(event.data, VIDEO_URL_FIELDS, base) };
    case 'LIVE_EVENT':
      if (!event.data.playbackUrls) return event;
      return { ...event, data: { ...event.data, playbackUrls: resolved(event.data.playbackUrls, PLAYBACK_URL_FIELDS, base) } };
    default:
      // A stream's lifecycle event carries no media URL: its recordings and clips are named by id (`subject`).
      return event;
  }
}
