// mediastreamvalidator-style checks of an LL-HLS media playlist (rfc8216bis) and of its parts' bytes, for tests.
// Pure: texts and bytes in, problems out (an empty list is a pass). Written independently of the origin's packager
// (origin/llhls/*): the fMP4 reading here is its own, so a packager bug cannot hide behind its own parser.
//
// Checked: CAN-BLOCK-RELOAD=YES; PART-HOLD-BACK ≥ 3 × PART-TARGET; CAN-SKIP-UNTIL ≥ 6 × TARGETDURATION; EXTINF ≤
// TARGETDURATION (rounded); every part ≤ PART-TARGET and, but a segment's last or INDEPENDENT ones, ≥ 85 % of it; a
// segment whose parts are listed lists all of them (numbered from 0 without gaps, durations summing to its EXTINF);
// INDEPENDENT=YES on every segment's first part, and that part's bytes start with a video sync sample (moof/traf/trun
// first sample flags, against the track ids and trex defaults of the init); parts listed over at least PART-HOLD-BACK;
// one PRELOAD-HINT of TYPE=PART naming a part not yet listed; EXT-X-MAP before the first segment; PROGRAM-DATE-TIME;
// a RENDITION-REPORT for every other rendition and none for itself, each within a segment of what that rendition's
// own playlist lists; and renditions aligned part for part (same segments' part counts and durations).

export interface ParsedPart {
  uri: string;
  duration: number;
  independent: boolean;
}

export interface ParsedSegment {
  msn: number;
  /** null for the segment in progress (parts only, no EXTINF yet) */
  uri: string | null;
  duration: number | null;
  map: string | null;
  discontinuity: boolean;
  programDateTime: string | null;
  parts: ParsedPart[];
}

export interface ParsedLlPlaylist {
  version: number | null;
  targetDuration: number | null;
  partTarget: number | null;
  mediaSequence: number;
  skipped: number;
  serverControl: Record<string, string>;
  segments: ParsedSegment[];
  preloadHints: { type: string; uri: string }[];
  renditionReports: { uri: string; lastMsn: number | null; lastPart: number | null }[];
  endList: boolean;
}

/** Attribute lists (`A=1,B="x,y",C=YES`) into a map, quotes removed. */
export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1) : m[2]!;
  return out;
}

export function parseLlPlaylist(text: string): ParsedLlPlaylist {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const out: ParsedLlPlaylist = {
    version: null, targetDuration: null, partTarget: null, mediaSequence: 0, skipped: 0, serverControl: {},
    segments: [], preloadHints: [], renditionReports: [], endList: false,
  };
  // the segment being read (its tags seen, its URI not yet); a holder so the closure's writes stay visible to TS
  const reading: { segment: ParsedSegment | null } = { segment: null };
  let map: string | null = null;
  let mapUsed = false;
  const open = (): ParsedSegment => {
    reading.segment ??= {
      msn: out.mediaSequence + out.skipped + out.segments.length,
      uri: null, duration: null, map: mapUsed ? null : map, discontinuity: false, programDateTime: null, parts: [],
    };
    mapUsed = true;
    return reading.segment;
  };
  const tag = (line: string, name: string) => (line.startsWith(`${name}:`) ? line.slice(name.length + 1) : null);
  for (const line of lines) {
    let value: string | null;
    if ((value = tag(line, '#EXT-X-VERSION')) !== null) out.version = Number(value);
    else if ((value = tag(line, '#EXT-X-TARGETDURATION')) !== null) out.targetDuration = Number(value);
    else if ((value = tag(line, '#EXT-X-MEDIA-SEQUENCE')) !== null) out.mediaSequence = Number(value);
    else if ((value = tag(line, '#EXT-X-SERVER-CONTROL')) !== null) out.serverControl = parseAttributes(value);
    else if ((value = tag(line, '#EXT-X-PART-INF')) !== null) out.partTarget = Number(parseAttributes(value)['PART-TARGET']);
    else if ((value = tag(line, '#EXT-X-SKIP')) !== null) out.skipped = Number(parseAttributes(value)['SKIPPED-SEGMENTS'] ?? 0);
    else if ((value = tag(line, '#EXT-X-MAP')) !== null) {
      map = parseAttributes(value)['URI'] ?? null;
      mapUsed = false;
      if (reading.segment) reading.segment.map ??= map;
    } else if (line === '#EXT-X-DISCONTINUITY') open().discontinuity = true;
    else if ((value = tag(line, '#EXT-X-PROGRAM-DATE-TIME')) !== null) open().programDateTime = value;
    else if ((value = tag(line, '#EXT-X-PART')) !== null) {
      const a = parseAttributes(value);
      open().parts.push({ uri: a['URI'] ?? '', duration: Number(a['DURATION']), independent: a['INDEPENDENT'] === 'YES' });
    } else if ((value = tag(line, '#EXTINF')) !== null) open().duration = Number(value.split(',')[0]);
    else if ((value = tag(line, '#EXT-X-PRELOAD-HINT')) !== null) {
      const a = parseAttributes(value);
      out.preloadHints.push({ type: a['TYPE'] ?? '', uri: a['URI'] ?? '' });
    } else if ((value = tag(line, '#EXT-X-RENDITION-REPORT')) !== null) {
      const a = parseAttributes(value);
      out.renditionReports.push({ uri: a['URI'] ?? '', lastMsn: a['LAST-MSN'] !== undefined ? Number(a['LAST-MSN']) : null, lastPart: a['LAST-PART'] !== undefined ? Number(a['LAST-PART']) : null });
    } else if (line === '#EXT-X-ENDLIST') out.endList = true;
    else if (!line.startsWith('#')) {
      const segment = open();
      segment.uri = line;
      out.segments.push(segment);
      reading.segment = null;
    }
  }
  if (reading.segment && reading.segment.parts.length > 0) out.segments.push(reading.segment);
  return out;
}

/** The last part a playlist lists: (msn, part index), as its rendition reports should name it. */
export function lastListedPart(p: ParsedLlPlaylist): { msn: number; part: number } | null {
  for (let i = p.segments.length - 1; i >= 0; i--) {
    const s = p.segments[i]!;
    if (s.parts.length > 0) return { msn: s.msn, part: s.parts.length - 1 };
    if (s.uri !== null) return { msn: s.msn, part: -1 };
  }
  return null;
}

// ---- fMP4: just enough to tell whether a fragment starts with a video sync sample ----

interface Box { type: string; start: number; body: number; end: number }

function boxes(bytes: Uint8Array, from = 0, to = bytes.length): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > to) break;
      size = Number(view.getBigUint64(at + 8));
      body = at + 16;
    } else if (size === 0) size = to - at;
    if (size < body - at || at + size > to) break; // truncated or corrupt: stop, the caller sees what is missing
    out.push({ type, start: at, body, end: at + size });
    at += size;
  }
  return out;
}

const child = (bytes: Uint8Array, parent: Box, type: string) => boxes(bytes, parent.body, parent.end).filter((b) => b.type === type);

export interface InitTracks {
  /** track id → handler type ('vide', 'soun'…) */
  handlers: Map<number, string>;
  /** track id → trex default_sample_flags */
  defaultFlags: Map<number, number>;
}

export function readInitTracks(init: Uint8Array): InitTracks {
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const handlers = new Map<number, string>();
  const defaultFlags = new Map<number, number>();
  for (const moov of boxes(init).filter((b) => b.type === 'moov')) {
    for (const trak of child(init, moov, 'trak')) {
      const tkhd = child(init, trak, 'tkhd')[0];
      const hdlr = child(init, trak, 'mdia').flatMap((m) => child(init, m, 'hdlr'))[0];
      if (!tkhd || !hdlr) continue;
      const version = init[tkhd.body]!;
      const trackId = view.getUint32(tkhd.body + (version === 1 ? 20 : 12));
      handlers.set(trackId, String.fromCharCode(...init.subarray(hdlr.body + 8, hdlr.body + 12)));
    }
    for (const mvex of child(init, moov, 'mvex')) {
      for (const trex of child(init, mvex, 'trex')) defaultFlags.set(view.getUint32(trex.body + 4), view.getUint32(trex.body + 20));
    }
  }
  return { handlers, defaultFlags };
}

/** sample flags (ISO 14496-12 8.8.3.1): a sync sample has sample_is_non_sync_sample 0 and does not depend on others. */
const isSync = (flags: number) => ((flags >>> 16) & 1) === 0 && ((flags >>> 24) & 3) !== 1;

/**
 * Whether the first moof of `fragment` starts its video track with a sync sample; null when the bytes hold no moof
 * with a video traf (the reason is the string).
 */
export function startsWithKeyframe(fragment: Uint8Array, tracks: InitTracks): boolean | string {
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const moof = boxes(fragment).find((b) => b.type === 'moof');
  if (!moof) return 'no moof box';
  for (const traf of child(fragment, moof, 'traf')) {
    const tfhd = child(fragment, traf, 'tfhd')[0];
    const trun = child(fragment, traf, 'trun')[0];
    if (!tfhd || !trun) continue;
    const trackId = view.getUint32(tfhd.body + 4);
    if (tracks.handlers.get(trackId) !== 'vide') continue;
    const tfhdFlags = view.getUint32(tfhd.body) & 0xffffff;
    let at = tfhd.body + 8;
    if (tfhdFlags & 0x01) at += 8;
    if (tfhdFlags & 0x02) at += 4;
    if (tfhdFlags & 0x08) at += 4;
    if (tfhdFlags & 0x10) at += 4;
    let flags = tfhdFlags & 0x20 ? view.getUint32(at) : (tracks.defaultFlags.get(trackId) ?? 0);
    const trunFlags = view.getUint32(trun.body) & 0xffffff;
    const samples = view.getUint32(trun.body + 4);
    if (samples === 0) return 'video trun without samples';
    let p = trun.body + 8;
    if (trunFlags & 0x001) p += 4;
    if (trunFlags & 0x004) return isSync(view.getUint32(p));
    if (trunFlags & 0x100) p += 4;
    if (trunFlags & 0x200) p += 4;
    if (trunFlags & 0x400) flags = view.getUint32(p);
    return isSync(flags);
  }
  return 'no video traf in the first moof';
}

// ---- the checks ----

export interface ValidateOptions {
  /** this playlist's URL (rendition reports and other renditions are matched by resolved path) */
  url: string;
  /** the other renditions' playlists, fetched about the same time */
  others?: { url: string; text: string }[];
  /** bytes of parts and init segments by resolved URL (path + query as listed): the byte checks run on those given */
  bytes?: Map<string, Uint8Array>;
  /** seconds a segment's parts may differ from its EXTINF (default 0.02) */
  sumTolerance?: number;
}

const pathOf = (uri: string, base: string) => new URL(uri, base).pathname;
const urlOf = (uri: string, base: string) => new URL(uri, base).toString();
/** `{name}.{p}.m4s` → p, the part index the origin's names carry (undefined for names of another shape) */
const partIndexOf = (uri: string) => {
  const m = /\.(\d+)\.m4s$/.exec(uri.split('?')[0]!);
  return m ? Number(m[1]) : undefined;
};

export function validateLlPlaylist(text: string, options: ValidateOptions): string[] {
  const problems: string[] = [];
  const p = parseLlPlaylist(text);
  const tolerance = options.sumTolerance ?? 0.02;
  const sc = p.serverControl;
  if (!text.startsWith('#EXTM3U')) problems.push('does not start with #EXTM3U');
  if (p.endList) problems.push('live LL playlist has EXT-X-ENDLIST');
  if (p.targetDuration === null || !Number.isFinite(p.targetDuration)) problems.push('no EXT-X-TARGETDURATION');
  if (p.partTarget === null || !(p.partTarget > 0)) problems.push('no EXT-X-PART-INF:PART-TARGET');
  if (sc['CAN-BLOCK-RELOAD'] !== 'YES') problems.push('EXT-X-SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES');
  const holdBack = Number(sc['PART-HOLD-BACK']);
  if (p.partTarget && !(holdBack >= 3 * p.partTarget - 1e-9)) problems.push(`PART-HOLD-BACK ${sc['PART-HOLD-BACK']} < 3 × PART-TARGET ${p.partTarget}`);
  if (sc['CAN-SKIP-UNTIL'] !== undefined && p.targetDuration && !(Number(sc['CAN-SKIP-UNTIL']) >= 6 * p.targetDuration)) problems.push(`CAN-SKIP-UNTIL ${sc['CAN-SKIP-UNTIL']} < 6 × TARGETDURATION`);
  if (p.skipped > 0 && (p.version ?? 0) < 9) problems.push('EXT-X-SKIP needs EXT-X-VERSION 9');
  if (p.segments.length === 0) problems.push('no segment or part listed');
  if (p.segments[0] && !p.segments[0].map) problems.push('no EXT-X-MAP before the first segment');

  const last = p.segments.length - 1;
  let partsSpan = 0;
  p.segments.forEach((s, i) => {
    const name = `segment ${s.msn}`;
    if (s.duration !== null && p.targetDuration && Math.round(s.duration) > p.targetDuration) problems.push(`${name}: EXTINF ${s.duration} > TARGETDURATION ${p.targetDuration}`);
    if (i === 0 && !s.programDateTime) problems.push(`${name}: no EXT-X-PROGRAM-DATE-TIME`);
    if (s.discontinuity && !s.map) problems.push(`${name}: discontinuity without a new EXT-X-MAP`);
    if (s.parts.length === 0) {
      if (s.uri === null) problems.push(`${name}: neither parts nor EXTINF`);
      return;
    }
    partsSpan += s.parts.reduce((sum, part) => sum + part.duration, 0);
    s.parts.forEach((part, j) => {
      if (p.partTarget && part.duration > p.partTarget + 1e-6) problems.push(`${name} part ${j}: DURATION ${part.duration} > PART-TARGET ${p.partTarget}`);
      if (p.partTarget && j < s.parts.length - 1 && !part.independent && part.duration < 0.85 * p.partTarget - 1e-6) problems.push(`${name} part ${j}: DURATION ${part.duration} < 85% of PART-TARGET`);
      const index = partIndexOf(part.uri);
      if (index !== undefined && index !== j) problems.push(`${name}: part ${j} is named ${part.uri} (a part missing before it)`);
    });
    const first = s.parts[0]!;
    if (!first.independent) problems.push(`${name}: first part ${first.uri} lacks INDEPENDENT=YES`);
    if (s.uri !== null && s.duration !== null) {
      const sum = s.parts.reduce((acc, part) => acc + part.duration, 0);
      // The first listed segment may carry only its last parts (the window slid); every later one must be whole.
      if (Math.abs(sum - s.duration) > tolerance && !(i === 0 && sum < s.duration)) problems.push(`${name}: parts sum to ${sum.toFixed(3)} s, EXTINF ${s.duration}`);
    }
    if (i === last && s.uri !== null && p.preloadHints.length === 0) problems.push('no preload hint after the last segment');
  });
  if (p.partTarget && partsSpan + 1e-6 < holdBack) problems.push(`parts listed span ${partsSpan.toFixed(3)} s, less than PART-HOLD-BACK ${holdBack}`);

  // Preload hint: one of TYPE=PART, not already listed.
  const partHints = p.preloadHints.filter((h) => h.type === 'PART');
  if (partHints.length !== 1) problems.push(`${partHints.length} EXT-X-PRELOAD-HINT of TYPE=PART (want 1)`);
  const listedParts = new Set(p.segments.flatMap((s) => s.parts.map((part) => pathOf(part.uri, options.url))));
  for (const h of partHints) if (listedParts.has(pathOf(h.uri, options.url))) problems.push(`preload hint ${h.uri} names a part already listed`);

  // Bytes: the first part of each segment (and every part marked independent) starts with a video sync sample.
  if (options.bytes) {
    for (const s of p.segments) {
      const mapUri = p.segments.slice(0, p.segments.indexOf(s) + 1).reverse().find((x) => x.map)?.map;
      const init = mapUri ? options.bytes.get(urlOf(mapUri, options.url)) : undefined;
      s.parts.forEach((part, j) => {
        if (!(j === 0 || part.independent)) return;
        const bytes = options.bytes!.get(urlOf(part.uri, options.url));
        if (!bytes) return;
        if (!init) {
          problems.push(`segment ${s.msn} part ${j}: bytes given but not its init segment ${mapUri ?? '(no map)'}`);
          return;
        }
        const verdict = startsWithKeyframe(bytes, readInitTracks(init));
        if (verdict !== true) problems.push(`segment ${s.msn} part ${j} (${part.uri}): ${verdict === false ? 'does not start with a video keyframe' : verdict}`);
      });
    }
  }

  // Rendition reports and alignment with the other renditions.
  const self = pathOf(options.url, options.url);
  const reports = new Map(p.renditionReports.map((r) => [pathOf(r.uri, options.url), r]));
  if (reports.has(self)) problems.push('a rendition report names this playlist itself');
  for (const other of options.others ?? []) {
    const otherPath = pathOf(other.url, other.url);
    if (otherPath === self) continue;
    const report = reports.get(otherPath);
    const theirs = parseLlPlaylist(other.text);
    const theirLast = lastListedPart(theirs);
    if (!report) problems.push(`no EXT-X-RENDITION-REPORT for ${otherPath}`);
    else if (report.lastMsn === null || report.lastPart === null) problems.push(`rendition report for ${otherPath} lacks LAST-MSN or LAST-PART`);
    else if (theirLast && Math.abs(report.lastMsn - theirLast.msn) > 1) problems.push(`rendition report for ${otherPath}: LAST-MSN ${report.lastMsn}, its playlist's last is ${theirLast.msn}`);
    const mine = new Map(p.segments.map((s) => [s.msn, s]));
    for (const t of theirs.segments) {
      const m = mine.get(t.msn);
      if (!m || m.uri === null || t.uri === null) continue;
      if (m.duration !== null && t.duration !== null && Math.abs(m.duration - t.duration) > 0.1) problems.push(`segment ${t.msn}: ${m.duration} s here, ${t.duration} s in ${otherPath} (renditions not aligned)`);
      if (m.parts.length > 0 && t.parts.length > 0 && m.parts.length !== t.parts.length && m !== p.segments[0] && t !== theirs.segments[0]) problems.push(`segment ${t.msn}: ${m.parts.length} parts here, ${t.parts.length} in ${otherPath} (renditions not aligned part for part)`);
    }
  }
  return problems;
}
