// The durable playlist of a rendition and the decisions around it, pure: which of ffmpeg's segments a playlist may list
// (R2: only stored ones; the origin's own: stored ones, or ones closed long enough ago that waiting longer for storage
// would stall players), and which local segment files may go (stored, and older than the live window). Each leg's
// #EXT-X-PROGRAM-DATE-TIME comes from its measured anchor (program-date-time.ts), not from ffmpeg's clock.
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import { rewriteProgramDateTimes, type LegAnchors } from './program-date-time.ts';

/** The origin's name for its local durable playlist, next to ffmpeg's index.m3u8; R2 holds it as index.m3u8. */
export const LOCAL_DURABLE_PLAYLIST = 'durable.m3u8';
/** A closed segment not stored after this long is listed by the origin anyway (the edge then serves it from here). */
export const DEGRADE_AFTER_MS = 3000;
/** Seconds at the end of a playlist whose segment files stay on disk after they are stored (live edge, late players). */
export const LOCAL_WINDOW_SECONDS = 60;

// Tags that belong to the segment after them (RFC 8216 §4.3.2); everything before the first of them is the header.
const SEGMENT_TAG = /^#(EXTINF:|EXT-X-DISCONTINUITY$|EXT-X-PROGRAM-DATE-TIME:|EXT-X-BYTERANGE:|EXT-X-KEY:|EXT-X-MAP:|EXT-X-GAP$|EXT-X-BITRATE:|EXT-X-DATERANGE:)/;

/**
 * ffmpeg's playlist cut after the segment numbered `through` (media sequence): its header and every segment up to that
 * one with their own tags, unchanged but for the PDT of segments whose leg has an anchor in `anchors`. `final` closes
 * it with ENDLIST (only meaningful once it lists every segment). Lists nothing but the header when `through` is
 * before the first segment.
 */
export function durablePlaylistText(ffmpegText: string, through: number, final = false, anchors: LegAnchors = {}): string {
  const lines = ffmpegText.split(/\r?\n/);
  const out: string[] = [];
  let pending: string[] = [];
  let sequence = parseMediaPlaylist(ffmpegText).mediaSequence;
  let inHeader = true;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line === '#EXT-X-ENDLIST') continue;
    if (inHeader && !SEGMENT_TAG.test(line) && line.startsWith('#')) {
      out.push(line);
      continue;
    }
    inHeader = false;
    if (line.startsWith('#')) {
      pending.push(line);
      continue;
    }
    if (sequence > through) break;
    out.push(...pending, line);
    pending = [];
    sequence++;
  }
  if (final) out.push('#EXT-X-ENDLIST');
  return rewriteProgramDateTimes(`${out.join('\n')}\n`, anchors);
}

/** The last media sequence a playlist lists, or mediaSequence - 1 when it lists none. */
export function lastSequenceOf(text: string): number {
  const pl = parseMediaPlaylist(text);
  return pl.mediaSequence + pl.segments.length - 1;
}

export interface PendingSegment {
  sequence: number;
  /** epoch ms when ffmpeg closed it */
  closedAt: number;
}

/**
 * How far the origin's own playlist lists: every stored segment, then any not yet stored whose closing is more than
 * `degradeAfterMs` ago (in order: a segment is listed only with all before it).
 */
export function locallyListedThrough(storedThrough: number, pending: readonly PendingSegment[], nowMs: number, degradeAfterMs = DEGRADE_AFTER_MS): number {
  let through = storedThrough;
  for (const segment of [...pending].sort((a, b) => a.sequence - b.sequence)) {
    if (segment.sequence <= through) continue;
    if (segment.sequence !== through + 1 || nowMs - segment.closedAt <= degradeAfterMs) break;
    through = segment.sequence;
  }
  return through;
}

/**
 * The segment files that may leave the disk: stored (sequence ≤ storedThrough) and ending more than `windowSeconds`
 * before the playlist's end. Returned in playlist order, only those after `after` (already deleted before).
 */
export function expiredSegments(ffmpegText: string, storedThrough: number, after = -1, windowSeconds = LOCAL_WINDOW_SECONDS): { uri: string; sequence: number }[] {
  const { segments } = parseMediaPlaylist(ffmpegText);
  const total = segments.reduce((sum, s) => sum + s.duration, 0);
  const out: { uri: string; sequence: number }[] = [];
  let end = 0;
  for (const s of segments) {
    end += s.duration;
    if (end > total - windowSeconds + 1e-6 || s.sequence > storedThrough) break;
    if (s.sequence > after) out.push({ uri: s.uri, sequence: s.sequence });
  }
  return out;
}
