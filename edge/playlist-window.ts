// What part of a live media playlist a viewer is handed, pure: the live edge (a sliding window of the last minute),
// everything since an instant (DVR, by EXT-X-PROGRAM-DATE-TIME), or the part between two instants (an event's VOD).
// Sequence numbers stay right (RFC 8216 §6.2.2): MEDIA-SEQUENCE advances by the segments dropped from the front,
// DISCONTINUITY-SEQUENCE by the EXT-X-DISCONTINUITY tags that went with them, so players joining at any moment agree.

/** The live edge a sliding window keeps: players start about three segments back, 60 s leaves room to stall. */
export const SLIDING_WINDOW_SECONDS = 60;

/**
 * What a viewer of a live media playlist gets: `sliding` the last SLIDING_WINDOW_SECONDS, `dvr` every segment; both
 * only from the segment boundary nearest to `fromMs` when set (an event's go-live moment: no rehearsal shown).
 */
export interface LiveWindow {
  type: 'sliding' | 'dvr';
  fromMs: number | null;
}

// Tags that belong to the segment after them (RFC 8216 §4.3.2); everything before the first of them is the header.
// ffmpeg writes a segment's PROGRAM-DATE-TIME after its EXTINF, both before the URI: all go with that URI.
const SEGMENT_TAG = /^#(EXTINF:|EXT-X-DISCONTINUITY$|EXT-X-PROGRAM-DATE-TIME:|EXT-X-BYTERANGE:|EXT-X-KEY:|EXT-X-MAP:|EXT-X-GAP$|EXT-X-BITRATE:|EXT-X-DATERANGE:)/;
/** Tags that hold for every segment after them until replaced: carried onto the first segment kept. */
const STICKY_TAG = /^#EXT-X-(KEY|MAP):/;

interface Segment {
  /** its tags and, last, its URI, as written */
  lines: string[];
  /** seconds, from EXTINF */
  duration: number;
  /** EXT-X-DISCONTINUITY tags before it (ffmpeg may write two in a row) */
  discontinuities: number;
  /** epoch ms of its first sample: its PROGRAM-DATE-TIME, or the one before it plus that one's duration; null unknown */
  startMs: number | null;
}

interface Playlist {
  header: string[];
  segments: Segment[];
  /** lines after the last URI (EXT-X-ENDLIST) */
  trailer: string[];
  mediaSequence: number;
  discontinuitySequence: number;
  endsWithNewline: boolean;
}

/** The part kept: segments [from, to), and whether the list slides (so it must not call itself an EVENT playlist). */
interface Cut {
  from: number;
  to: number;
  sliding: boolean;
}

/** ISO 8601 as ffmpeg writes it (`+0000`, no colon) or with a colon; NaN when it is not a date. */
function parseDateTime(value: string): number {
  const normalized = value.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return Date.parse(normalized);
}

function parse(text: string): Playlist | null {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== '#EXTM3U') return null;
  const pl: Playlist = { header: [], segments: [], trailer: [], mediaSequence: 0, discontinuitySequence: 0, endsWithNewline: text.endsWith('\n') };
  let pending: string[] = [];
  let inHeader = true;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    if (inHeader && line.startsWith('#') && !SEGMENT_TAG.test(line)) {
      if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) pl.mediaSequence = Number(line.slice(22)) || 0;
      if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) pl.discontinuitySequence = Number(line.slice(30)) || 0;
      pl.header.push(line);
      continue;
    }
    inHeader = false;
    if (line.startsWith('#')) {
      pending.push(line);
      continue;
    }
    pl.segments.push(segmentOf([...pending, line], pl.segments.at(-1)));
    pending = [];
  }
  pl.trailer = pending;
  return pl;
}

function segmentOf(lines: string[], previous: Segment | undefined): Segment {
  let duration = 0;
  let discontinuities = 0;
  let dated: number | null = null;
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) {
      const seconds = Number.parseFloat(line.slice(8));
      duration = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    } else if (line === '#EXT-X-DISCONTINUITY') {
      discontinuities++;
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const at = parseDateTime(line.slice(25));
      if (Number.isFinite(at)) dated = at;
    }
  }
  // Without its own date, a segment follows the one before it, unless a discontinuity broke the timeline.
  const derived = previous?.startMs != null && discontinuities === 0 ? previous.startMs + previous.duration * 1000 : null;
  return { lines, duration, discontinuities, startMs: dated ?? derived };
}

/** Epoch ms of the boundary before segment `i` (segments.length: the end of the last one); null when unknown. */
function boundaryMs(segments: readonly Segment[], i: number): number | null {
  if (i < segments.length) return segments[i]!.startMs;
  const last = segments[i - 1];
  return last?.startMs != null ? last.startMs + last.duration * 1000 : null;
}

/**
 * The segment index whose start boundary is nearest to `atMs` (segments.length: the end of the last one), among
 * indexes ≥ `notBefore`; a tie goes to the later boundary (less of what came before). null when no boundary has a
 * known time. Boundaries are in time order, so once one at or after `atMs` is listed, later segments never change
 * the answer: a window cut here only grows at its end as the live playlist does.
 */
function nearestBoundary(segments: readonly Segment[], atMs: number, notBefore = 0): number | null {
  let best: number | null = null;
  let bestDistance = Infinity;
  for (let i = notBefore; i <= segments.length; i++) {
    const at = boundaryMs(segments, i);
    if (at === null) continue;
    const distance = Math.abs(at - atMs);
    if (distance <= bestDistance) {
      best = i;
      bestDistance = distance;
    }
    if (at > atMs) break;
  }
  return best;
}

function render(pl: Playlist, cut: Cut, original: string): string {
  const { from, to, sliding } = cut;
  const dropsEventType = sliding && pl.header.includes('#EXT-X-PLAYLIST-TYPE:EVENT');
  if (from === 0 && to === pl.segments.length && !dropsEventType) return original;
  const dropped = pl.segments.slice(0, from);
  const droppedDiscontinuities = dropped.reduce((n, s) => n + s.discontinuities, 0);
  const header: string[] = [];
  let sawMediaSequence = false;
  let sawDiscontinuitySequence = false;
  for (const line of pl.header) {
    if (sliding && line === '#EXT-X-PLAYLIST-TYPE:EVENT') continue; // EVENT promises no segment is ever removed
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      sawMediaSequence = true;
      header.push(`#EXT-X-MEDIA-SEQUENCE:${pl.mediaSequence + from}`);
    } else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) {
      sawDiscontinuitySequence = true;
      header.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${pl.discontinuitySequence + droppedDiscontinuities}`);
    } else {
      header.push(line);
    }
  }
  if (!sawMediaSequence && from > 0) header.push(`#EXT-X-MEDIA-SEQUENCE:${pl.mediaSequence + from}`);
  if (!sawDiscontinuitySequence && droppedDiscontinuities > 0) {
    header.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${pl.discontinuitySequence + droppedDiscontinuities}`);
  }
  const kept = pl.segments.slice(from, to);
  const body: string[] = [];
  if (kept.length > 0) {
    // A key or init section set by a dropped segment still holds for the first kept one, unless it sets its own.
    const sticky = new Map<string, string>();
    for (const s of dropped) for (const line of s.lines) if (STICKY_TAG.test(line)) sticky.set(line.slice(0, 10), line);
    for (const line of kept[0]!.lines) if (STICKY_TAG.test(line)) sticky.delete(line.slice(0, 10));
    body.push(...sticky.values());
    for (const s of kept) body.push(...s.lines);
  }
  // Cut at the end: what followed the last kept segment is gone, an ENDLIST stays (the list is still complete).
  const trailer = to === pl.segments.length ? pl.trailer : pl.trailer.filter((line) => line === '#EXT-X-ENDLIST');
  const out = ['#EXTM3U', ...header.filter((line) => line !== '#EXTM3U'), ...body, ...trailer].join('\n');
  return pl.endsWithNewline ? `${out}\n` : out;
}

/** The part from which a window slides: the shortest tail lasting at least `seconds` (all of it when shorter). */
function slidingStart(segments: readonly Segment[], seconds: number, notBefore: number): number {
  let total = 0;
  for (let i = segments.length - 1; i >= notBefore; i--) {
    total += segments[i]!.duration;
    if (total >= seconds - 1e-6) return i;
  }
  return notBefore;
}

/**
 * The live edge: the last `seconds` (at least; whole segments) of a live playlist, for a list that would otherwise
 * list every segment of a six-hour broadcast. Not an EVENT playlist any more: segments leave at its front.
 * A playlist that lasts less and is not typed EVENT comes back byte for byte.
 */
export function slidingWindow(text: string, seconds = SLIDING_WINDOW_SECONDS): string {
  const pl = parse(text);
  if (!pl) return text;
  return render(pl, { from: slidingStart(pl.segments, seconds, 0), to: pl.segments.length, sliding: true }, text);
}

/**
 * DVR since an instant: the segments from the boundary nearest to `fromMs` on (by PROGRAM-DATE-TIME), so a viewer
 * seeks back to the moment an event went live and never into its rehearsal. The list only grows at its end, so an
 * EVENT playlist stays one. Before any segment reaches the boundary the list is empty, with the sequence numbers the
 * first segment will have. Segments without PROGRAM-DATE-TIME (sessions older than it): the whole list, as nothing
 * tells where the instant falls.
 */
export function windowFrom(text: string, fromMs: number): string {
  const pl = parse(text);
  if (!pl) return text;
  const from = nearestBoundary(pl.segments, fromMs) ?? 0;
  return render(pl, { from, to: pl.segments.length, sliding: false }, text);
}

/**
 * The part between two instants (an event's live part, for its VOD). The start is the boundary nearest to `fromMs`;
 * the end is the boundary nearest to that start boundary plus the part's length (`toMs − fromMs`), not the one nearest
 * to `toMs`: rounding each end on its own can add both halves up (a VOD up to a whole segment too long or short),
 * while measuring the length from where the cut really starts keeps the VOD within half a segment (of the one the end
 * falls in) of the live part's length. The end is never past the last listed segment nor before the start (an end
 * before the start is an empty cut). The caller closes it (asVodPlaylist). Without PROGRAM-DATE-TIME (older
 * sessions): the whole list.
 */
export function cutBetween(text: string, fromMs: number, toMs: number): string {
  const pl = parse(text);
  if (!pl) return text;
  const from = nearestBoundary(pl.segments, fromMs) ?? 0;
  const length = Math.max(0, toMs - fromMs);
  const startMs = boundaryMs(pl.segments, from);
  // A start of unknown time (no date before it): the end falls back to the boundary nearest to `toMs` itself.
  const endTarget = startMs === null ? fromMs + length : startMs + length;
  const to = nearestBoundary(pl.segments, endTarget, from) ?? pl.segments.length;
  return render(pl, { from, to, sliding: false }, text);
}

/** A live media playlist as a viewer gets it under `window`. */
export function applyLiveWindow(text: string, window: LiveWindow): string {
  const since = window.fromMs === null ? text : windowFrom(text, window.fromMs);
  return window.type === 'sliding' ? slidingWindow(since) : since;
}
