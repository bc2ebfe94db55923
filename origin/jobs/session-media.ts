// A session folder as the jobs see it: which renditions exist, which listed segments are really there
// (an origin killed mid-session leaves playlists without ENDLIST, `.tmp` files and maybe a truncated
// last segment), and the session timeline: the sum of EXTINF of the segments kept, reconnect gaps not counted.
// Read-only: the live pipeline may still be writing the folder.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { MASTER_PLAYLIST, MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import type { Rendition } from '../pipeline/ladder.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../pipeline/playlists.ts';
import type { MediaSegment, Variant } from '../pipeline/playlists.ts';
import { MediaJobError } from './job-error.ts';
import { probePackets } from './media-probe.ts';
import { isTransientJobFailure } from './job-retry.ts';
import { initPathOf } from '../durable/fmp4-init.ts';
import type { SegmentProbe, ToolPaths } from './media-probe.ts';

export interface SessionSegment {
  /** as listed in the playlist (a file name next to it) */
  uri: string;
  /** absolute path */
  file: string;
  /** seconds, from EXTINF */
  duration: number;
  sequence: number;
  /** media timestamps restart here: a reconnect join, or segments before it were dropped */
  discontinuity: boolean;
  /** seconds on the session timeline */
  start: number;
  bytes: number;
}

export interface DroppedSegment {
  uri: string;
  sequence: number;
  reason: string;
}

export interface SessionRendition {
  name: string;
  segments: SessionSegment[];
  dropped: DroppedSegment[];
  /** the playlist was closed with ENDLIST (the session ended cleanly) */
  endList: boolean;
  /** seconds: sum of the kept segments' EXTINF */
  duration: number;
}

export interface SessionMedia {
  dir: string;
  /** source first, then the rest in ladder order */
  renditions: SessionRendition[];
  source: SessionRendition;
  /** the live master's variants, when it was written */
  variants: Variant[];
  /** ladder.json, when it was written */
  ladder: Rendition[];
}

export const SOURCE_NAME = 'source';
const TS_PACKET = 188;
/** a moof and an mdat header at least */
const MIN_FMP4_BYTES = 16;
const NAME_RE = /^[a-z0-9_-]{1,64}$/;

/** Every rendition of a session, checked and aligned on the same segments. */
export async function readSession(sessionDir: string, tools: ToolPaths = {}): Promise<SessionMedia> {
  const ladder = await readLadder(sessionDir);
  const variants = await readFile(path.join(sessionDir, MASTER_PLAYLIST), 'utf8').then(
    (t) => {
      try {
        return parseMasterPlaylist(t);
      } catch {
        return [];
      }
    },
    () => [] as Variant[],
  );
  const names = await renditionNames(sessionDir, ladder, variants);
  const sourceName = pickSource(names, ladder);
  if (!sourceName) throw new MediaJobError('no-media', `no rendition playlist in ${sessionDir}`);
  const ordered = [sourceName, ...names.filter((n) => n !== sourceName)];
  const renditions: SessionRendition[] = [];
  for (const name of ordered) {
    const r = await readRenditionOrUndefined(sessionDir, name, tools);
    if (r) renditions.push(r);
  }
  const source = renditions.find((r) => r.name === sourceName);
  if (!source || source.segments.length === 0) throw new MediaJobError('no-media', `the ${sourceName} rendition of ${sessionDir} has no playable segment`);
  const aligned = alignRenditions(source, renditions.filter((r) => r !== source));
  return { dir: sessionDir, renditions: aligned, source: aligned[0]!, variants, ladder };
}

/** The rendition clips are cut from (the encoder's own video), checked. */
export async function readSourceRendition(sessionDir: string, tools: ToolPaths = {}): Promise<SessionRendition> {
  const ladder = await readLadder(sessionDir);
  const names = await renditionNames(sessionDir, ladder, []);
  const name = pickSource(names, ladder);
  const r = name ? await readRenditionOrUndefined(sessionDir, name, tools) : undefined;
  if (!r || r.segments.length === 0) throw new MediaJobError('no-media', `no playable source segment in ${sessionDir}`);
  return r;
}

/**
 * One rendition's playlist against the files on disk: listed segments that are missing, empty or not
 * whole TS packets are dropped; the last one is also probed, since a crash can leave it short.
 */
export async function readRendition(sessionDir: string, name: string, tools: ToolPaths = {}): Promise<SessionRendition> {
  const r = await readRenditionOrUndefined(sessionDir, name, tools);
  if (!r) throw new MediaJobError('no-media', `no playlist for rendition ${name} in ${sessionDir}`);
  return r;
}

async function readRenditionOrUndefined(sessionDir: string, name: string, tools: ToolPaths): Promise<SessionRendition | undefined> {
  const dir = path.join(sessionDir, name);
  const text = await readFile(path.join(dir, MEDIA_PLAYLIST), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let listed: MediaSegment[];
  let endList: boolean;
  try {
    const pl = parseMediaPlaylist(text);
    listed = pl.segments;
    endList = pl.endList;
  } catch {
    return undefined;
  }
  const verdicts: SegmentVerdict[] = [];
  for (const s of listed) verdicts.push(await checkSegmentFile(dir, s));
  // Only the last kept segment can be short after a crash (the muxer renames a segment into place
  // when it is complete); probing every segment of a long session would cost a process each.
  for (let tries = 0; tries < 2; tries++) {
    const i = lastIndex(verdicts, (v) => v.ok);
    if (i < 0) break;
    const seg = listed[i]!;
    const reason = await shortSegmentReason(path.join(dir, seg.uri), seg.duration, tools);
    if (!reason) break;
    verdicts[i] = { ok: false, reason };
  }
  return { name, endList, ...keptSegments(dir, listed, verdicts) };
}

export type SegmentVerdict = { ok: true; bytes: number } | { ok: false; reason: string };

async function checkSegmentFile(dir: string, s: MediaSegment): Promise<SegmentVerdict> {
  if (!isPlainFileName(s.uri)) return { ok: false, reason: 'not a file next to its playlist' };
  const st = await stat(path.join(dir, s.uri)).catch(() => undefined);
  if (!st || !st.isFile()) return { ok: false, reason: 'missing' };
  const init = initPathOf(path.join(dir, s.uri));
  if (init !== null) {
    // fMP4 (low-latency sessions): whole boxes are the packager's to check; without its init the segment is unplayable.
    if (!(await stat(init).then((x) => x.isFile() && x.size > 0, () => false))) return { ok: false, reason: 'its init segment is missing' };
    if (st.size < MIN_FMP4_BYTES) return { ok: false, reason: `truncated (${st.size} bytes)` };
    return { ok: true, bytes: st.size };
  }
  if (st.size < TS_PACKET || st.size % TS_PACKET !== 0) return { ok: false, reason: `truncated (${st.size} bytes)` };
  return { ok: true, bytes: st.size };
}

async function shortSegmentReason(file: string, listedDuration: number, tools: ToolPaths): Promise<string | undefined> {
  let probe: SegmentProbe;
  try {
    probe = await probePackets(file, tools);
  } catch (err) {
    // A probe killed from outside says nothing about the segment: the job fails (and is retried) rather than drop it.
    if (isTransientJobFailure(err)) throw err;
    return `unreadable (${(err as Error).message})`;
  }
  if (!probe.video || probe.video.frames.length === 0) return 'no video';
  const span = probe.video.end - probe.video.start;
  const frame = probe.video.frames[0]!.duration || 1 / 30;
  if (span < listedDuration - 1.5 * frame) return `truncated (${span.toFixed(3)} s of ${listedDuration} s)`;
  return undefined;
}

/** Pure: the listed segments that passed, on the session timeline; a hole becomes a discontinuity. */
export function keptSegments(dir: string, listed: readonly MediaSegment[], verdicts: readonly SegmentVerdict[]): Omit<SessionRendition, 'name' | 'endList'> {
  const segments: SessionSegment[] = [];
  const dropped: DroppedSegment[] = [];
  let t = 0;
  let hole = false;
  listed.forEach((s, i) => {
    const v = verdicts[i] ?? { ok: false, reason: 'unchecked' };
    if (!v.ok) {
      dropped.push({ uri: s.uri, sequence: s.sequence, reason: v.reason });
      hole = segments.length > 0;
      return;
    }
    segments.push({
      uri: s.uri,
      file: path.join(dir, s.uri),
      duration: s.duration,
      sequence: s.sequence,
      // The first kept segment starts the timeline: nothing before it to be discontinuous with.
      discontinuity: segments.length > 0 && (s.discontinuity || hole),
      start: round6(t),
      bytes: v.bytes,
    });
    t += s.duration;
    hole = false;
  });
  return { segments, dropped, duration: round6(t) };
}

/**
 * Pure: keeps renditions on the same media sequence numbers, so every variant of the VOD lists the
 * same segments and discontinuities. A rendition that would cost the source more than its last
 * segment is left out of the VOD instead.
 */
export function alignRenditions(source: SessionRendition, others: readonly SessionRendition[]): SessionRendition[] {
  const sourceSeqs = source.segments.map((s) => s.sequence);
  const lastSource = sourceSeqs[sourceSeqs.length - 1];
  const kept = others.filter((r) => {
    const have = new Set(r.segments.map((s) => s.sequence));
    return sourceSeqs.every((q) => have.has(q) || q === lastSource);
  });
  let common = new Set(sourceSeqs);
  for (const r of kept) {
    const have = new Set(r.segments.map((s) => s.sequence));
    common = new Set([...common].filter((q) => have.has(q)));
  }
  return [source, ...kept].map((r) => restrict(r, common));
}

function restrict(r: SessionRendition, seqs: ReadonlySet<number>): SessionRendition {
  if (r.segments.every((s) => seqs.has(s.sequence))) return r;
  const listed: MediaSegment[] = [];
  const verdicts: SegmentVerdict[] = [];
  // Rebuild from the kept list so holes still mark discontinuities and the timeline stays a plain sum.
  let pendingDiscontinuity = false;
  for (const s of r.segments) {
    if (!seqs.has(s.sequence)) {
      pendingDiscontinuity = true;
      continue;
    }
    listed.push({ uri: s.uri, duration: s.duration, sequence: s.sequence, discontinuity: s.discontinuity || pendingDiscontinuity });
    verdicts.push({ ok: true, bytes: s.bytes });
    pendingDiscontinuity = false;
  }
  const dir = r.segments[0] ? path.dirname(r.segments[0].file) : '';
  const removed = r.segments.filter((s) => !seqs.has(s.sequence)).map((s) => ({ uri: s.uri, sequence: s.sequence, reason: 'not in every rendition' }));
  const k = keptSegments(dir, listed, verdicts);
  return { ...r, segments: k.segments, duration: k.duration, dropped: [...r.dropped, ...removed].sort((a, b) => a.sequence - b.sequence) };
}

/** Pure: runs of segments whose timestamps continue from one to the next (split at discontinuities). */
export function periodsOf<S extends { discontinuity: boolean }>(segments: readonly S[]): S[][] {
  const out: S[][] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (!last || s.discontinuity) out.push([s]);
    else last.push(s);
  }
  return out;
}

/** Pure: index of the segment that holds timeline instant t (start inclusive), clamped to the ends. */
export function segmentIndexAt(segments: readonly { start: number }[], t: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.start <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

async function readLadder(sessionDir: string): Promise<Rendition[]> {
  try {
    const j = JSON.parse(await readFile(path.join(sessionDir, 'ladder.json'), 'utf8')) as { renditions?: Rendition[] };
    return Array.isArray(j.renditions) ? j.renditions.filter((r) => typeof r?.name === 'string' && NAME_RE.test(r.name)) : [];
  } catch {
    return [];
  }
}

async function renditionNames(sessionDir: string, ladder: readonly Rendition[], variants: readonly Variant[]): Promise<string[]> {
  const names: string[] = [];
  const add = (n: string): void => {
    if (NAME_RE.test(n) && !names.includes(n)) names.push(n);
  };
  for (const r of ladder) add(r.name);
  for (const v of variants) {
    const m = /^([^/]+)\/index\.m3u8$/.exec(v.uri);
    if (m) add(m[1]!);
  }
  for (const e of await readdir(sessionDir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) add(e.name);
  const present: string[] = [];
  for (const n of names) if (await stat(path.join(sessionDir, n, MEDIA_PLAYLIST)).then((s) => s.isFile(), () => false)) present.push(n);
  return present;
}

/** Pure: the rendition that stands for the encoder's own video: the copied one, else "source", else the largest. */
export function pickSource(names: readonly string[], ladder: readonly Rendition[]): string | undefined {
  const copied = ladder.find((r) => r.copy && names.includes(r.name));
  if (copied) return copied.name;
  if (names.includes(SOURCE_NAME)) return SOURCE_NAME;
  // No copied rendition: the largest one stands in for the source.
  const sized = ladder.filter((r) => names.includes(r.name)).sort((a, b) => b.width * b.height - a.width * a.height);
  return sized[0]?.name ?? names[0];
}

function isPlainFileName(uri: string): boolean {
  return uri.length > 0 && !uri.includes('/') && !uri.includes('\\') && uri !== '.' && uri !== '..' && !/^[a-z]+:/i.test(uri);
}

function lastIndex<T>(a: readonly T[], p: (v: T) => boolean): number {
  for (let i = a.length - 1; i >= 0; i--) if (p(a[i]!)) return i;
  return -1;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
