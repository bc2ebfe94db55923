// Playlist text and the codec strings it advertises: parse media playlists, close them with ENDLIST,
// build and check the master, and read avc1/mp4a codec strings from a finished MPEG-TS segment. Pure.
import type { EncodedRendition, H264Profile } from './ladder.ts';

export interface MediaSegment {
  uri: string;
  /** seconds, from EXTINF */
  duration: number;
  /** media sequence number of this segment */
  sequence: number;
  /** an EXT-X-DISCONTINUITY precedes it */
  discontinuity: boolean;
}

export interface MediaPlaylist {
  version?: number;
  targetDuration?: number;
  mediaSequence: number;
  discontinuitySequence: number;
  playlistType?: 'EVENT' | 'VOD';
  independentSegments: boolean;
  endList: boolean;
  segments: MediaSegment[];
}

export class PlaylistError extends Error {
  override name = 'PlaylistError';
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== '#EXTM3U') throw new PlaylistError('not an M3U8 playlist: first line is not #EXTM3U');
  const pl: MediaPlaylist = { mediaSequence: 0, discontinuitySequence: 0, independentSegments: false, endList: false, segments: [] };
  let pendingDuration: number | undefined;
  let pendingDiscontinuity = false;
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#EXTINF:')) {
      const d = Number.parseFloat(line.slice(8).split(',')[0] ?? '');
      if (!Number.isFinite(d) || d < 0) throw new PlaylistError(`bad EXTINF: ${line}`);
      pendingDuration = d;
    } else if (line === '#EXT-X-DISCONTINUITY') {
      pendingDiscontinuity = true;
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      pl.mediaSequence = intTag(line);
    } else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) {
      pl.discontinuitySequence = intTag(line);
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      pl.targetDuration = intTag(line);
    } else if (line.startsWith('#EXT-X-VERSION:')) {
      pl.version = intTag(line);
    } else if (line.startsWith('#EXT-X-PLAYLIST-TYPE:')) {
      const t = line.slice(21);
      if (t === 'EVENT' || t === 'VOD') pl.playlistType = t;
    } else if (line === '#EXT-X-INDEPENDENT-SEGMENTS') {
      pl.independentSegments = true;
    } else if (line === '#EXT-X-ENDLIST') {
      pl.endList = true;
    } else if (!line.startsWith('#')) {
      if (pendingDuration === undefined) throw new PlaylistError(`segment without EXTINF: ${line}`);
      pl.segments.push({ uri: line, duration: pendingDuration, sequence: pl.mediaSequence + pl.segments.length, discontinuity: pendingDiscontinuity });
      pendingDuration = undefined;
      pendingDiscontinuity = false;
    }
  }
  return pl;
}

function intTag(line: string): number {
  const v = Number(line.slice(line.indexOf(':') + 1));
  if (!Number.isInteger(v) || v < 0) throw new PlaylistError(`bad integer tag: ${line}`);
  return v;
}

/** Closes a live playlist; a playlist already closed comes back unchanged. */
export function appendEndList(text: string): string {
  if (/^#EXT-X-ENDLIST\s*$/m.test(text)) return text;
  const body = text.length === 0 || text.endsWith('\n') ? text : `${text}\n`;
  return `${body}#EXT-X-ENDLIST\n`;
}

export interface Variant {
  uri: string;
  /** peak bits per second of the rendition (video + audio + container) */
  bandwidth: number;
  averageBandwidth?: number;
  width: number;
  height: number;
  /** e.g. ['avc1.64001f', 'mp4a.40.2'] */
  codecs: string[];
  frameRate?: number;
}

export function buildMasterPlaylist(variants: readonly Variant[]): string {
  if (variants.length === 0) throw new PlaylistError('a master playlist needs at least one variant');
  const out = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of variants) {
    if (!isSafeUri(v.uri)) throw new PlaylistError(`unsafe variant URI: ${JSON.stringify(v.uri)}`);
    const attrs = [`BANDWIDTH=${Math.round(v.bandwidth)}`];
    if (v.averageBandwidth !== undefined) attrs.push(`AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`);
    attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate !== undefined) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (v.codecs.length > 0) attrs.push(`CODECS="${v.codecs.join(',')}"`);
    out.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  return `${out.join('\n')}\n`;
}

export function parseMasterPlaylist(text: string): Variant[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new PlaylistError('not an M3U8 playlist: first line is not #EXTM3U');
  const variants: Variant[] = [];
  let pending: Map<string, string> | undefined;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      pending = parseAttributes(line.slice(18));
    } else if (!line.startsWith('#') && pending) {
      const res = /^(\d+)x(\d+)$/.exec(pending.get('RESOLUTION') ?? '');
      const v: Variant = {
        uri: line,
        bandwidth: Number(pending.get('BANDWIDTH') ?? Number.NaN),
        width: res ? Number(res[1]) : 0,
        height: res ? Number(res[2]) : 0,
        codecs: (pending.get('CODECS') ?? '').split(',').map((c) => c.trim()).filter(Boolean),
      };
      const avg = pending.get('AVERAGE-BANDWIDTH');
      if (avg !== undefined) v.averageBandwidth = Number(avg);
      const fr = pending.get('FRAME-RATE');
      if (fr !== undefined) v.frameRate = Number(fr);
      variants.push(v);
      pending = undefined;
    }
  }
  return variants;
}

/** What is wrong with a master playlist for our players; empty when nothing is. */
export function validateMasterPlaylist(text: string): string[] {
  let variants: Variant[];
  try {
    variants = parseMasterPlaylist(text);
  } catch (err) {
    return [(err as Error).message];
  }
  const problems: string[] = [];
  if (variants.length === 0) problems.push('no variant streams');
  const uris = new Set<string>();
  for (const v of variants) {
    if (uris.has(v.uri)) problems.push(`${v.uri}: listed twice`);
    uris.add(v.uri);
    if (!isSafeUri(v.uri)) problems.push(`${v.uri}: not a relative path inside the stream`);
    if (!Number.isInteger(v.bandwidth) || v.bandwidth <= 0) problems.push(`${v.uri}: BANDWIDTH missing or not a positive integer`);
    if (v.width <= 0 || v.height <= 0) problems.push(`${v.uri}: RESOLUTION missing`);
    if (!v.codecs.some((c) => AVC1_RE.test(c))) problems.push(`${v.uri}: CODECS has no avc1 video codec`);
    for (const c of v.codecs) if (!AVC1_RE.test(c) && !MP4A_RE.test(c)) problems.push(`${v.uri}: unknown codec ${c}`);
  }
  return problems;
}

const AVC1_RE = /^avc1\.[0-9a-fA-F]{6}$/;
const MP4A_RE = /^mp4a\.40\.\d{1,2}$/;

function isSafeUri(uri: string): boolean {
  return uri.length > 0 && !uri.startsWith('/') && !uri.includes('..') && !uri.includes('\\') && !/[\s"\0]/.test(uri) && !/^[a-z]+:/i.test(uri);
}

/** Attribute list of RFC 8216 §4.2: commas inside quoted strings do not split. */
function parseAttributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  for (let m = re.exec(s); m !== null && m[0] !== ''; m = re.exec(s)) {
    const value = m[2] ?? '';
    out.set(m[1] ?? '', value.startsWith('"') ? value.slice(1, -1) : value);
  }
  return out;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** RFC 6381 codec string of an H.264 stream from its SPS bytes. */
export function avc1Codec(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  return `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`;
}

/** AAC codec string from its Audio Object Type (2 = LC, 5 = HE-AAC). */
export function mp4aCodec(audioObjectType: number): string {
  return `mp4a.40.${audioObjectType}`;
}

// profile_idc and constraint flags libx264 writes for each profile (checked against ffmpeg 5.1's own master).
const X264_SPS: Record<H264Profile, [number, number]> = {
  H264Baseline: [0x42, 0xc0],
  H264Main: [0x4d, 0x40],
  H264High: [0x64, 0x00],
  H264ConstrainedHigh: [0x64, 0x00],
};

/** The codec string an encoded rung will have, known before any segment exists. */
export function expectedAvc1(r: Pick<EncodedRendition, 'profile' | 'level'>): string {
  const [p, c] = X264_SPS[r.profile];
  return avc1Codec(p, c, r.level);
}

export interface SegmentCodecs {
  video?: string;
  audio?: string;
}

const TS_PACKET = 188;
const MAX_PES_BYTES = 512 * 1024;

/**
 * Codec strings of the first H.264 and AAC streams in an MPEG-TS segment, read from the SPS and the
 * ADTS header. Walks PAT → PMT → first PES of each stream rather than grepping for start codes, since
 * TS packet headers can split a start code.
 */
export function probeTsCodecs(ts: Uint8Array): SegmentCodecs {
  const start = findSync(ts);
  if (start < 0) return {};
  let pmtPid = -1;
  let videoPid = -1;
  let audioPid = -1;
  const pes = new Map<number, { chunks: Uint8Array[]; size: number; done: boolean }>();
  for (let off = start; off + TS_PACKET <= ts.length; off += TS_PACKET) {
    if (ts[off] !== 0x47) break;
    const b1 = ts[off + 1]!;
    const pid = ((b1 & 0x1f) << 8) | ts[off + 2]!;
    const pusi = (b1 & 0x40) !== 0;
    const afc = (ts[off + 3]! >> 4) & 3;
    if ((afc & 1) === 0) continue;
    let p = off + 4;
    if (afc & 2) p += 1 + ts[off + 4]!;
    if (p >= off + TS_PACKET) continue;
    const payload = ts.subarray(p, off + TS_PACKET);

    if (pid === 0 && pusi && pmtPid < 0) {
      pmtPid = readPat(payload);
    } else if (pid === pmtPid && pusi && videoPid < 0 && audioPid < 0) {
      const streams = readPmt(payload);
      videoPid = streams.video;
      audioPid = streams.audio;
      for (const id of [videoPid, audioPid]) if (id >= 0) pes.set(id, { chunks: [], size: 0, done: false });
    } else {
      const acc = pes.get(pid);
      if (!acc || acc.done) continue;
      if (pusi && acc.size > 0) {
        acc.done = true;
      } else if (pusi || acc.size > 0) {
        acc.chunks.push(payload);
        acc.size += payload.length;
        if (acc.size >= MAX_PES_BYTES) acc.done = true;
      }
      if ([...pes.values()].every((a) => a.done)) break;
    }
  }
  const out: SegmentCodecs = {};
  const v = pes.get(videoPid);
  if (v && v.size > 0) {
    const video = spsCodec(pesPayload(concat(v.chunks, v.size)));
    if (video) out.video = video;
  }
  const a = pes.get(audioPid);
  if (a && a.size > 0) {
    const audio = adtsCodec(pesPayload(concat(a.chunks, a.size)));
    if (audio) out.audio = audio;
  }
  return out;
}

function findSync(ts: Uint8Array): number {
  for (let i = 0; i < Math.min(ts.length, TS_PACKET); i++) {
    if (ts[i] === 0x47 && (i + TS_PACKET >= ts.length || ts[i + TS_PACKET] === 0x47)) return i;
  }
  return -1;
}

function psiSection(payload: Uint8Array): Uint8Array | undefined {
  const pointer = payload[0];
  if (pointer === undefined) return undefined;
  const s = payload.subarray(1 + pointer);
  if (s.length < 3) return undefined;
  const len = ((s[1]! & 0x0f) << 8) | s[2]!;
  return s.subarray(0, Math.min(s.length, 3 + len));
}

function readPat(payload: Uint8Array): number {
  const s = psiSection(payload);
  if (!s || s[0] !== 0x00) return -1;
  // Program loop from byte 8 to the CRC.
  for (let i = 8; i + 4 <= s.length - 4; i += 4) {
    const program = (s[i]! << 8) | s[i + 1]!;
    if (program !== 0) return ((s[i + 2]! & 0x1f) << 8) | s[i + 3]!;
  }
  return -1;
}

function readPmt(payload: Uint8Array): { video: number; audio: number } {
  const out = { video: -1, audio: -1 };
  const s = psiSection(payload);
  if (!s || s[0] !== 0x02 || s.length < 12) return out;
  const programInfo = ((s[10]! & 0x0f) << 8) | s[11]!;
  for (let i = 12 + programInfo; i + 5 <= s.length - 4; ) {
    const type = s[i]!;
    const pid = ((s[i + 1]! & 0x1f) << 8) | s[i + 2]!;
    const esInfo = ((s[i + 3]! & 0x0f) << 8) | s[i + 4]!;
    if (type === 0x1b && out.video < 0) out.video = pid;
    if (type === 0x0f && out.audio < 0) out.audio = pid;
    i += 5 + esInfo;
  }
  return out;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function pesPayload(pes: Uint8Array): Uint8Array {
  if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return new Uint8Array(0);
  return pes.subarray(9 + pes[8]!);
}

function spsCodec(annexB: Uint8Array): string | undefined {
  for (let i = 0; i + 6 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1 && (annexB[i + 3]! & 0x1f) === 7) {
      return avc1Codec(annexB[i + 4]!, annexB[i + 5]!, annexB[i + 6]!);
    }
  }
  return undefined;
}

function adtsCodec(adts: Uint8Array): string | undefined {
  if (adts.length < 7 || adts[0] !== 0xff || (adts[1]! & 0xf0) !== 0xf0) return undefined;
  return mp4aCodec(((adts[2]! >> 6) & 3) + 1);
}
