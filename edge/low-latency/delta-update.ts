// Playlist Delta Updates (rfc8216bis 4.4.5.2, 6.2.5.1), made at the edge, pure: a viewer's media playlist (already cut
// to its window) with the segments older than the Skip Boundary (CAN-SKIP-UNTIL seconds before its end) replaced by
// EXT-X-SKIP. Made here, not by the origin, because each viewer's window is cut from one shared full answer: a delta
// the origin made would have the origin's sequence numbers, not the window's the viewer's player already holds.
import type { SkipDirective } from './blocking-query.ts';

// Tags that belong to the segment after them (as in edge/playlist-window.ts, plus LL-HLS parts).
const SEGMENT_TAG = /^#(EXTINF:|EXT-X-DISCONTINUITY$|EXT-X-PROGRAM-DATE-TIME:|EXT-X-BYTERANGE:|EXT-X-KEY:|EXT-X-MAP:|EXT-X-GAP$|EXT-X-BITRATE:|EXT-X-DATERANGE:|EXT-X-PART:)/;
/** Hold for every later segment until replaced: a skipped segment's is repeated before the first one listed. */
const STICKY_TAG = /^#EXT-X-(KEY|MAP):/;

/** CAN-SKIP-UNTIL of the playlist's SERVER-CONTROL, in seconds; null when it offers no delta updates. */
export function canSkipUntil(text: string): number | null {
  const control = /^#EXT-X-SERVER-CONTROL:(.*)$/m.exec(text);
  const value = control ? /(?:^|,)CAN-SKIP-UNTIL=([0-9.]+)/.exec(control[1]!) : null;
  const seconds = value ? Number(value[1]) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

/**
 * The delta update of `text` for `_HLS_skip=YES|v2`; the playlist unchanged when it offers none (no CAN-SKIP-UNTIL)
 * or nothing lies before the Skip Boundary. MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE stay those of the full list
 * (the skipped segments are still in it: the player keeps its copies of them).
 */
export function deltaUpdate(text: string, skip: SkipDirective): string {
  const skipUntil = canSkipUntil(text);
  if (skipUntil === null || /^#EXT-X-SKIP:/m.test(text)) return text;
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const header: string[] = [];
  const segments: { lines: string[]; duration: number }[] = [];
  let pending: string[] = [];
  let inHeader = true;
  for (const line of lines) {
    if (inHeader && line.startsWith('#') && !SEGMENT_TAG.test(line)) {
      header.push(line);
      continue;
    }
    inHeader = false;
    pending.push(line);
    if (!line.startsWith('#')) {
      const extinf = pending.find((l) => l.startsWith('#EXTINF:'));
      const duration = extinf ? Number.parseFloat(extinf.slice(8)) : 0;
      segments.push({ lines: pending, duration: Number.isFinite(duration) && duration > 0 ? duration : 0 });
      pending = [];
    }
  }
  // A segment is skipped when all of it lies more than the Skip Boundary before the playlist's end.
  let after = segments.reduce((sum, s) => sum + s.duration, 0);
  let skipped = 0;
  for (const s of segments) {
    after -= s.duration;
    if (after < skipUntil - 1e-6) break;
    skipped += 1;
  }
  if (skipped === 0) return text;
  const sticky = new Map<string, string>();
  for (const s of segments.slice(0, skipped)) for (const line of s.lines) if (STICKY_TAG.test(line)) sticky.set(line.slice(0, 10), line);
  const kept = segments.slice(skipped);
  for (const line of kept[0]?.lines ?? pending) if (STICKY_TAG.test(line)) sticky.delete(line.slice(0, 10));
  // EXT-X-SKIP needs version 9; RECENTLY-REMOVED-DATERANGES (v2) needs 10.
  const minVersion = skip === 'v2' ? 10 : 9;
  const out = header.map((line) => {
    const version = /^#EXT-X-VERSION:(\d+)$/.exec(line);
    return version && Number(version[1]) < minVersion ? `#EXT-X-VERSION:${minVersion}` : line;
  });
  if (!out.some((line) => line.startsWith('#EXT-X-VERSION:'))) out.splice(1, 0, `#EXT-X-VERSION:${minVersion}`);
  out.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}${skip === 'v2' ? ',RECENTLY-REMOVED-DATERANGES=""' : ''}`);
  out.push(...sticky.values());
  for (const s of kept) out.push(...s.lines);
  out.push(...pending);
  return `${out.join('\n')}\n`;
}
