// Accurate #EXT-X-PROGRAM-DATE-TIME for the durable playlists, pure: each segment's PDT rewritten as its leg's anchor
// (the wall-clock instant of the leg's first media, measured by the live transcode) plus the EXTINF of the leg's
// earlier segments.
//
// Why not ffmpeg's own lines: ffmpeg 5.1's hls muxer takes one origin per run from the clock when its muxer is
// initialised (hls_init, after the input was probed and the encoders opened), then adds EXTINF; that instant is
// up to a second or two after the leg's first media arrived, and the edge cuts events at PDTs. On append_list it
// keeps each earlier segment's own PDT line (parse_playlist → discont_program_date_time), so the lines written here
// for earlier legs come back unchanged in ffmpeg's playlist too; the anchors are kept with the session's timeline
// anyway, so every origin writes the very same bytes for a leg whatever ffmpeg re-read.
// Format and position are ffmpeg's: `YYYY-MM-DDTHH:mm:ss.sss+0000`, right after the segment's EXTINF.

/** The session's leg anchors, next to the playlists (and in R2 with the timeline): `{ [legTag]: epoch ms }`. */
export const PDT_ANCHORS_FILE = 'pdt-anchors.json';

export type LegAnchors = Readonly<Record<string, number>>;

const PDT_TAG = '#EXT-X-PROGRAM-DATE-TIME:';
// Tags that belong to the segment after them (RFC 8216 §4.3.2); the header is everything before the first of them.
const SEGMENT_TAG = /^#(EXTINF:|EXT-X-DISCONTINUITY$|EXT-X-PROGRAM-DATE-TIME:|EXT-X-BYTERANGE:|EXT-X-KEY:|EXT-X-MAP:|EXT-X-GAP$|EXT-X-BITRATE:|EXT-X-DATERANGE:)/;
const LEG_OF_URI = /^([0-9a-f]{6})-\d+\.(?:ts|m4s)$/;
const LEG_TAG = /^[0-9a-f]{6}$/;
/** Anchors outside 2000..2200 are not wall-clock readings. */
const MIN_ANCHOR_MS = Date.UTC(2000, 0, 1);
const MAX_ANCHOR_MS = Date.UTC(2200, 0, 1);

/** ffmpeg's PDT spelling for an instant, in UTC: `2026-11-28T13:57:13.123+0000`. */
export function formatProgramDateTime(epochMs: number): string {
  return new Date(Math.round(epochMs)).toISOString().replace('Z', '+0000');
}

/** The leg a segment belongs to, from its name (`{legTag}-{nnnnn}.ts`, or `.m4s` in low-latency sessions), or null for names that are not ours. */
export function legOfSegment(uri: string): string | null {
  return LEG_OF_URI.exec(uri)?.[1] ?? null;
}

/**
 * The playlist with every segment of an anchored leg carrying PDT = anchor + the EXTINF of the leg's earlier
 * segments (the leg's first segment must be listed: EVENT playlists list from the session's start). The PDT line
 * replaces the segment's own one in place, or follows its EXTINF when it had none; segments of other legs, the
 * header and every other line are kept byte for byte. Deterministic: a segment's line depends only on the segments
 * before it, so a longer playlist never changes what a shorter one said.
 */
export function rewriteProgramDateTimes(text: string, anchors: LegAnchors): string {
  if (Object.keys(anchors).length === 0) return text;
  const lines = text.split('\n');
  const out: string[] = [];
  const elapsed = new Map<string, number>();
  let inHeader = true;
  let block: string[] = [];
  for (const line of lines) {
    const bare = line.trim();
    if (inHeader && !SEGMENT_TAG.test(bare)) {
      out.push(line);
      continue;
    }
    inHeader = false;
    if (bare === '' || bare.startsWith('#')) {
      // A segment's tags wait for its URI: whether its PDT is rewritten depends on the leg the URI names.
      block.push(line);
      continue;
    }
    const leg = legOfSegment(bare);
    const anchor = leg === null ? undefined : anchors[leg];
    const extinf = block.find((l) => l.trim().startsWith('#EXTINF:'));
    const duration = extinf === undefined ? Number.NaN : Number.parseFloat(extinf.trim().slice('#EXTINF:'.length));
    if (leg !== null && anchor !== undefined && Number.isFinite(duration)) {
      const sinceStart = elapsed.get(leg) ?? 0;
      out.push(...withProgramDateTime(block, `${PDT_TAG}${formatProgramDateTime(anchor + sinceStart * 1000)}`));
      elapsed.set(leg, sinceStart + duration);
    } else {
      out.push(...block);
    }
    out.push(line);
    block = [];
  }
  out.push(...block);
  return out.join('\n');
}

/** A segment's tag lines with `pdtLine` in place of its PDT, or right after its EXTINF. */
function withProgramDateTime(block: readonly string[], pdtLine: string): string[] {
  const out: string[] = [];
  for (const line of block) {
    if (line.trim().startsWith(PDT_TAG)) continue;
    out.push(line);
    if (line.trim().startsWith('#EXTINF:')) out.push(line.endsWith('\r') ? `${pdtLine}\r` : pdtLine);
  }
  return out;
}

/** A stored anchors file read back: only well-formed leg tags with plausible wall-clock instants survive. */
export function parseLegAnchors(json: string): Record<string, number> {
  const anchors: Record<string, number> = {};
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return anchors;
    for (const [leg, at] of Object.entries(parsed as Record<string, unknown>)) {
      if (LEG_TAG.test(leg) && typeof at === 'number' && Number.isFinite(at) && at >= MIN_ANCHOR_MS && at < MAX_ANCHOR_MS) anchors[leg] = Math.round(at);
    }
  } catch {
    // not ours: no anchors, ffmpeg's own lines stay
  }
  return anchors;
}

/** The anchors file's text: legs in a stable order, so an unchanged set is byte-identical (and not re-uploaded). */
export function legAnchorsText(anchors: LegAnchors): string {
  const sorted = Object.fromEntries(Object.entries(anchors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(sorted)}\n`;
}
