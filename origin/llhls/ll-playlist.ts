// The LL-HLS media playlist (rfc8216bis) of one rendition, rendered from what the origin holds in memory: a window of
// closed segments (with their parts for the last few), the segment in progress as parts, its preload hint, delta
// updates (_HLS_skip) and rendition reports. Pure: state in, text out. Names of init, segment and part files live here.

export interface LlPart {
  duration: number;
  independent: boolean;
}

export interface LlSegment {
  msn: number;
  legTag: string;
  duration: number;
  /** epoch ms of the segment's first sample */
  programDateTime: number;
  /** leg changes before this segment in the session (EXT-X-DISCONTINUITY-SEQUENCE when it is the first listed) */
  discontinuitySequence: number;
  /** its parts while they are held (listed for the last few segments only) */
  parts?: readonly LlPart[];
}

export interface LlRenditionView {
  /** whole seconds, >= every EXTINF rounded */
  targetDuration: number;
  /** seconds, >= every part's duration */
  partTarget: number;
  /** closed segments, oldest first */
  segments: readonly LlSegment[];
  /** the segment being cut: its media sequence number, leg and parts so far (maybe none) */
  current: { msn: number; legTag: string; parts: readonly LlPart[] };
}

export interface RenditionReport {
  /** relative to this playlist, e.g. ../720p/index.m3u8 */
  uri: string;
  lastMsn: number;
  lastPart: number;
}

export interface RenderOptions {
  /** _HLS_skip=YES|v2: a delta update, segments older than CAN-SKIP-UNTIL replaced by EXT-X-SKIP */
  skip?: boolean;
  reports?: readonly RenditionReport[];
  /** closed segments whose parts are listed (besides the segment in progress); default 3 */
  partSegments?: number;
}

/** rfc8216bis: PART-HOLD-BACK at least 3 part targets (2 is the floor; 3 is what the spec recommends). */
export const partHoldBack = (partTarget: number) => 3 * partTarget;
/** The Skip Boundary: six target durations, the spec's minimum. */
export const canSkipUntil = (targetDuration: number) => 6 * targetDuration;

export const sequenceName = (msn: number) => String(msn).padStart(5, '0');
export const initUri = (legTag: string) => `init-${legTag}.mp4`;
export const segmentUri = (legTag: string, msn: number) => `${legTag}-${sequenceName(msn)}.m4s`;
export const partUri = (legTag: string, msn: number, part: number) => `${legTag}-${sequenceName(msn)}.${part}.m4s`;

export type MediaName =
  | { kind: 'init'; legTag: string }
  | { kind: 'part'; legTag: string; msn: number; part: number }
  | { kind: 'segment'; legTag: string; msn: number }
  | { kind: 'playlist' };

/** What a file name of a low-mode rendition folder is, or undefined for anything else (master, thumbnails…). */
export function parseMediaName(name: string): MediaName | undefined {
  if (name === 'index.m3u8') return { kind: 'playlist' };
  let m = /^init-([0-9a-z]{1,32})\.mp4$/.exec(name);
  if (m) return { kind: 'init', legTag: m[1]! };
  m = /^([0-9a-z]{1,32})-(\d{5,15})\.(\d{1,6})\.m4s$/.exec(name);
  if (m) return { kind: 'part', legTag: m[1]!, msn: Number(m[2]), part: Number(m[3]) };
  m = /^([0-9a-z]{1,32})-(\d{5,15})\.m4s$/.exec(name);
  if (m) return { kind: 'segment', legTag: m[1]!, msn: Number(m[2]) };
  return undefined;
}

/** The last part listed: the in-progress segment's, else the last closed segment's (LAST-MSN / LAST-PART). */
export function lastPartOf(view: Pick<LlRenditionView, 'segments' | 'current'>): { msn: number; part: number } | undefined {
  if (view.current.parts.length > 0) return { msn: view.current.msn, part: view.current.parts.length - 1 };
  const last = view.segments[view.segments.length - 1];
  if (!last) return undefined;
  return { msn: last.msn, part: Math.max(0, (last.parts?.length ?? 1) - 1) };
}

const seconds = (n: number) => n.toFixed(5);
/** attribute values: short, but always with a decimal point (they are decimal-floating-point) */
const attr = (n: number) => {
  const s = String(Number(n.toFixed(5)));
  return s.includes('.') ? s : `${s}.0`;
};

export function renderLlPlaylist(view: LlRenditionView, opts: RenderOptions = {}): string {
  const { segments, current } = view;
  const partSegments = opts.partSegments ?? 3;
  const skipUntil = canSkipUntil(view.targetDuration);
  const lines = [
    '#EXTM3U',
    // 9: EXT-X-SKIP (delta updates) needs it; the rest (EXT-X-MAP, parts) need less.
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${view.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? current.msn}`,
  ];
  const firstDiscontinuity = segments[0]?.discontinuitySequence ?? 0;
  if (firstDiscontinuity > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${firstDiscontinuity}`);
  lines.push(
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${attr(partHoldBack(view.partTarget))},CAN-SKIP-UNTIL=${attr(skipUntil)}`,
    `#EXT-X-PART-INF:PART-TARGET=${attr(view.partTarget)}`,
  );

  let skipped = 0;
  if (opts.skip) {
    // A segment is skipped when all of it lies more than the Skip Boundary before the playlist's end.
    let after = segments.reduce((sum, s) => sum + s.duration, 0);
    for (const s of segments) {
      after -= s.duration;
      if (after < skipUntil) break;
      skipped += 1;
    }
    if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  }

  const partLines = (legTag: string, msn: number, parts: readonly LlPart[]) => {
    parts.forEach((p, i) => lines.push(`#EXT-X-PART:DURATION=${seconds(p.duration)},URI="${partUri(legTag, msn, i)}"${p.independent ? ',INDEPENDENT=YES' : ''}`));
  };
  let previousLeg: string | undefined = skipped > 0 ? segments[skipped - 1]!.legTag : undefined;
  let mapped = false;
  const legStart = (legTag: string) => {
    if (previousLeg !== undefined && previousLeg !== legTag) lines.push('#EXT-X-DISCONTINUITY');
    // The first listed segment always has its map (in a delta update too: the skipped ones carried it).
    if (!mapped || previousLeg !== legTag) lines.push(`#EXT-X-MAP:URI="${initUri(legTag)}"`);
    mapped = true;
    previousLeg = legTag;
  };
  const withParts = segments.length - partSegments;
  for (let i = skipped; i < segments.length; i++) {
    const s = segments[i]!;
    legStart(s.legTag);
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    if (i >= withParts && s.parts) partLines(s.legTag, s.msn, s.parts);
    lines.push(`#EXTINF:${seconds(s.duration)},`, segmentUri(s.legTag, s.msn));
  }
  if (current.parts.length > 0) {
    legStart(current.legTag);
    partLines(current.legTag, current.msn, current.parts);
  }
  lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partUri(current.legTag, current.msn, current.parts.length)}"`);
  for (const r of opts.reports ?? []) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  return `${lines.join('\n')}\n`;
}
