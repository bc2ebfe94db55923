// Fits what the origin says in an event (issue texts from ffmpeg's stderr, end and failure reasons, counters) to the
// contract's limits before the event is queued, so a healthy origin never makes an event the edge has to reject.
import { ORIGIN_EVENT_LIMITS as LIMITS, type OriginEvent, type SessionStats } from '../shared/schemas/internal.ts';

/** At most `max` UTF-16 units (what zod's max counts), ending in "…" when cut; never splits a surrogate pair. */
export function clampText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** Counters are non-negative and finite (a NaN from a division would make the whole event invalid). */
const counter = (value: number) => (Number.isFinite(value) && value > 0 ? value : 0);

function clampStats(stats: SessionStats): SessionStats {
  return {
    ...stats,
    sourceSegments: Math.round(counter(stats.sourceSegments)),
    transcodedSegments: Math.round(counter(stats.transcodedSegments)),
    sourceSegmentsDuration: counter(stats.sourceSegmentsDuration),
    transcodedSegmentsDuration: counter(stats.transcodedSegmentsDuration),
    sourceBytes: counter(stats.sourceBytes),
    transcodedBytes: counter(stats.transcodedBytes),
    ingestRate: counter(stats.ingestRate),
    outgoingRate: counter(stats.outgoingRate),
    // The latest issues say most about the stream now.
    issues: stats.issues === null ? null : stats.issues.slice(-LIMITS.issues).map((issue) => clampText(String(issue), LIMITS.issueChars)),
  };
}

/** The event with its texts and counters within the contract; ids and R2 keys are ours and left as they are. */
export function clampOriginEvent(event: OriginEvent): OriginEvent {
  switch (event.type) {
    case 'stats':
      return { ...event, data: clampStats(event.data) };
    case 'publish_done':
      return { ...event, data: { ...event.data, reason: clampText(String(event.data.reason), LIMITS.endReasonChars) } };
    case 'error':
    case 'recording_failed':
      return { ...event, data: { ...event.data, reason: clampText(String(event.data.reason), LIMITS.failureReasonChars) } };
    case 'clip_failed':
      return { ...event, data: { ...event.data, reason: clampText(String(event.data.reason), LIMITS.failureReasonChars) } };
    case 'video_failed':
      return { ...event, data: { ...event.data, reason: clampText(String(event.data.reason), LIMITS.failureReasonChars) } };
    default:
      return event;
  }
}
