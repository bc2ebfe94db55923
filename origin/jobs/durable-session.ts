// Materializes a session's durable media (R2, read through the edge with a media grant) into a local scratch folder
// with the layout the jobs read from a live session folder (ladder.json, master.m3u8, {rendition}/index.m3u8 and its
// segments) — only what a job needs: the source rendition, whole for an export, or just the segments covering a clip's
// range (plus the segment that opened its encoder run, where x264 wrote its options). Downloads run a few at a time,
// each retried with backoff; the disk is checked against an estimate before anything is fetched.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backoffDelay, sleep } from '../backoff.ts';
import { MASTER_PLAYLIST, MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import type { Rendition } from '../pipeline/ladder.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../pipeline/playlists.ts';
import type { MediaSegment, Variant } from '../pipeline/playlists.ts';
import { validateClipRange } from '../../shared/clip-range.ts';
import { MediaJobError } from './job-error.ts';
import { pickSource, segmentIndexAt } from './session-media.ts';
import { buildVodPlaylist } from './vod-playlist.ts';
import { initOfSegment } from '../durable/fmp4-init.ts';

/** One durable object's bytes, or null when it does not exist; throws when it could not be read (the grant is bound). */
export type DurableMediaReader = (key: string) => Promise<Uint8Array | null>;

/** What a job needs of the session: the whole source rendition, or the part covering a clip's range. */
export type MaterializeWant = { kind: 'export' } | { kind: 'clip'; startTime: number; endTime: number; maxSeconds?: number };

export interface ReadRetryPolicy {
  /** tries per object before the materialization fails; default 6 */
  attempts: number;
  /** first wait; default 500 ms, doubling up to maxDelayMs */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_READ_RETRY: ReadRetryPolicy = { attempts: 6, firstDelayMs: 500, maxDelayMs: 8_000 };

export interface MaterializeOptions {
  read: DurableMediaReader;
  /** the session's durable prefix, `live/{streamId}/{sessionId}` (a trailing slash is ignored) */
  prefix: string;
  /** created; holds the session folder (its caller deletes it) */
  scratchDir: string;
  want: MaterializeWant;
  /** segments fetched at once; default 4 */
  concurrency?: number;
  retry?: ReadRetryPolicy;
  /** after each segment: bytes and segments fetched so far of the total planned */
  onProgress?: (done: { segments: number; bytes: number }, total: { segments: number }) => void;
  /** why the disk cannot take about `bytes` more, or null; asked before any segment is fetched */
  checkDisk?: (bytes: number) => Promise<string | null>;
}

export interface MaterializedSession {
  /** the session folder, laid out like a live one */
  dir: string;
  rendition: string;
  /** seconds on the session timeline where the folder's first segment starts (0 for an export) */
  timelineOffset: number;
  /** seconds: the whole durable source rendition's timeline */
  timelineDuration: number;
  /** the durable playlist was closed (ENDLIST): the session's media is final */
  final: boolean;
  segments: number;
  bytes: number;
  /** segments the playlist listed that R2 no longer had (deleted): left out, like a crash's leftovers */
  missing: string[];
  /** the segment that opened the encoder run of the folder's first segment, when that is not in the folder */
  runHeadFile?: string;
}

/** A segment of the durable playlist placed on the session timeline. */
export interface PlacedSegment extends MediaSegment {
  /** seconds on the session timeline */
  start: number;
}

/** Pure: the durable playlist's segments on the session timeline (sum of EXTINF, like session-media.ts). */
export function placeSegments(segments: readonly MediaSegment[]): PlacedSegment[] {
  let t = 0;
  return segments.map((s) => {
    const placed = { ...s, start: Math.round(t * 1e6) / 1e6 };
    t += s.duration;
    return placed;
  });
}


export interface SegmentPlan {
  /** indexes into the playlist's segments, in order */
  first: number;
  last: number;
  /** the index of the segment that opened the encoder run of `first`, when it is before `first` */
  runHead?: number;
}

/**
 * Pure: the segments a clip of [start, end] needs — from the one holding `start` to the one holding `end` (an end on
 * a boundary belongs to the earlier segment) — and the head of the encoder run they start in. An export needs them all.
 */
export function planSegments(segments: readonly PlacedSegment[], want: MaterializeWant): SegmentPlan {
  if (want.kind === 'export' || segments.length === 0) return { first: 0, last: segments.length - 1 };
  const first = segmentIndexAt(segments, want.startTime);
  const last = Math.max(first, segmentIndexAt(segments, Math.max(0, want.endTime - 0.0005)));
  let head = first;
  while (head > 0 && !segments[head]!.discontinuity) head--;
  return head < first ? { first, last, runHead: head } : { first, last };
}

/** Pure: bytes a part of a rendition should take, from its variant's bandwidth (average when known, else peak). */
export function estimateBytes(variant: Pick<Variant, 'bandwidth' | 'averageBandwidth'> | undefined, seconds: number): number | null {
  const bps = variant?.averageBandwidth ?? variant?.bandwidth;
  if (bps === undefined || !Number.isFinite(bps) || bps <= 0) return null;
  return Math.ceil((bps / 8) * seconds);
}

/** A read that failed with an answer that will not change (the grant or key refused): not worth another try. */
function isPermanentReadFailure(error: unknown): boolean {
  const status = /answered (\d{3})/.exec(error instanceof Error ? error.message : String(error))?.[1];
  return status !== undefined && ['400', '401', '403', '405', '413', '414'].includes(status);
}

async function readWithRetries(read: DurableMediaReader, key: string, policy: ReadRetryPolicy): Promise<Uint8Array | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read(key);
    } catch (error) {
      if (isPermanentReadFailure(error)) throw new MediaJobError('no-media', `reading ${key} from storage was refused: ${String(error).slice(0, 300)}`);
      if (attempt + 1 >= policy.attempts) {
        throw new MediaJobError('storage-unavailable', `reading ${key} from storage failed ${policy.attempts} times: ${String(error).slice(0, 300)}`);
      }
      await sleep(backoffDelay(attempt, policy.firstDelayMs, policy.maxDelayMs));
    }
  }
}

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('utf8'));
const NAME_RE = /^[a-z0-9_-]{1,64}$/;
const isPlainFileName = (uri: string): boolean => /^[A-Za-z0-9._-]{1,200}$/.test(uri) && uri !== '.' && uri !== '..';

async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.part`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** Fetches what `want` needs of the durable session into `{scratchDir}/session`. */
export async function materializeSession(o: MaterializeOptions): Promise<MaterializedSession> {
  const prefix = o.prefix.replace(/\/+$/, '');
  const retry = o.retry ?? DEFAULT_READ_RETRY;
  const get = (key: string) => readWithRetries(o.read, `${prefix}/${key}`, retry);
  const dir = path.join(o.scratchDir, 'session');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  const [ladderText, masterText] = await Promise.all([get('ladder.json').then(text), get(MASTER_PLAYLIST).then(text)]);
  const ladder = parseLadder(ladderText);
  let variants: Variant[] = [];
  try {
    variants = masterText ? parseMasterPlaylist(masterText) : [];
  } catch {
    variants = [];
  }
  const names: string[] = [];
  for (const n of [...ladder.map((r) => r.name), ...variants.map((v) => /^([^/]+)\/index\.m3u8$/.exec(v.uri)?.[1] ?? '')]) {
    if (NAME_RE.test(n) && !names.includes(n)) names.push(n);
  }
  if (names.length === 0) names.push('source');
  const preferred = pickSource(names, ladder) ?? names[0]!;
  let rendition: string | undefined;
  let playlistText: string | null = null;
  // The source first; another rendition stands in only when the source's playlist is not in storage.
  for (const name of [preferred, ...names.filter((n) => n !== preferred)]) {
    playlistText = text(await get(`${name}/${MEDIA_PLAYLIST}`));
    if (playlistText !== null) {
      rendition = name;
      break;
    }
  }
  if (!rendition || playlistText === null) throw new MediaJobError('no-media', `no rendition playlist under ${prefix}/ in storage`);
  let listed: MediaSegment[];
  let final: boolean;
  try {
    const playlist = parseMediaPlaylist(playlistText);
    listed = playlist.segments;
    final = playlist.endList;
  } catch (error) {
    throw new MediaJobError('no-media', `the ${rendition} playlist in storage is unreadable: ${(error as Error).message}`);
  }
  const bad = listed.find((s) => !isPlainFileName(s.uri));
  if (bad) throw new MediaJobError('no-media', `the ${rendition} playlist in storage lists ${JSON.stringify(bad.uri.slice(0, 80))}, not a segment next to it`);
  const placed = placeSegments(listed);
  if (placed.length === 0) throw new MediaJobError('no-media', `the ${rendition} playlist in storage lists no segment yet`);
  const timelineDuration = Math.round(placed.reduce((t, s) => t + s.duration, 0) * 1e6) / 1e6;
  if (o.want.kind === 'clip') {
    const problem = validateClipRange({ startTime: o.want.startTime, endTime: o.want.endTime, available: timelineDuration, ...(o.want.maxSeconds !== undefined ? { maxSeconds: o.want.maxSeconds } : {}) });
    if (problem) throw new MediaJobError('invalid-range', problem.message, problem.field);
  }
  const plan = planSegments(placed, o.want);
  const chosen = placed.slice(plan.first, plan.last + 1);
  const fetches = [...chosen.map((s) => ({ segment: s, to: path.join(dir, rendition!, s.uri) }))];
  if (plan.runHead !== undefined) fetches.push({ segment: placed[plan.runHead]!, to: path.join(dir, 'run-head', placed[plan.runHead]!.uri) });

  const estimate = estimateBytes(variants.find((v) => v.uri === `${rendition}/${MEDIA_PLAYLIST}`), fetches.reduce((t, f) => t + f.segment.duration, 0));
  const refusal = o.checkDisk ? await o.checkDisk(estimate ?? 0) : null;
  if (refusal) throw new MediaJobError('disk-full', refusal);

  await mkdir(path.join(dir, rendition), { recursive: true });
  if (plan.runHead !== undefined) await mkdir(path.join(dir, 'run-head'), { recursive: true });
  // Low-latency sessions' fMP4 segments need their leg's init segment beside them (a few KB each, one per leg). One
  // missing from storage leaves its leg's segments unreadable: session-media.ts then drops them like missing ones.
  const inits = new Map<string, string>();
  for (const f of fetches) {
    const init = initOfSegment(f.segment.uri);
    if (init !== null) inits.set(path.join(path.dirname(f.to), init), init);
  }
  for (const [to, init] of inits) {
    const body = await get(`${rendition}/${init}`);
    if (body !== null) await writeFileAtomic(to, body);
  }
  const missing: string[] = [];
  let done = 0;
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < fetches.length) {
      const f = fetches[next++]!;
      const body = await get(`${rendition}/${f.segment.uri}`);
      if (body === null) missing.push(f.segment.uri);
      else {
        await writeFileAtomic(f.to, body);
        bytes += body.byteLength;
      }
      done++;
      o.onProgress?.({ segments: done, bytes }, { segments: fetches.length });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, fetches.length)) }, worker));

  // The folder's playlist lists the chosen segments only: its timeline starts at the first one (timelineOffset).
  await writeFileAtomic(path.join(dir, rendition, MEDIA_PLAYLIST), buildVodPlaylist(chosen.map((s, i) => ({ uri: s.uri, duration: s.duration, discontinuity: i > 0 && s.discontinuity, map: initOfSegment(s.uri) ?? undefined }))));
  if (ladderText !== null) await writeFileAtomic(path.join(dir, 'ladder.json'), ladderText);
  if (masterText !== null) await writeFileAtomic(path.join(dir, MASTER_PLAYLIST), masterText);
  const runHeadFile = plan.runHead !== undefined && !missing.includes(placed[plan.runHead]!.uri) ? path.join(dir, 'run-head', placed[plan.runHead]!.uri) : undefined;
  return {
    dir,
    rendition,
    timelineOffset: chosen[0]!.start,
    timelineDuration,
    final,
    segments: chosen.length - chosen.filter((s) => missing.includes(s.uri)).length,
    bytes,
    missing,
    ...(runHeadFile ? { runHeadFile } : {}),
  };
}

function parseLadder(ladderText: string | null): Rendition[] {
  if (ladderText === null) return [];
  try {
    const j = JSON.parse(ladderText) as { renditions?: Rendition[] };
    return Array.isArray(j.renditions) ? j.renditions.filter((r) => typeof r?.name === 'string' && NAME_RE.test(r.name)) : [];
  } catch {
    return [];
  }
}
