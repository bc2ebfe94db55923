// Fetches a simulive source (a recording's MP4 in R2, often gigabytes) through the edge's GET /internal/media/{key} with
// the command's media grant, in `Range` pieces of at most 32 MiB written one after the other into the file. The first
// answer's Content-Range gives the size, held to a configured bound and the disk's free space before a byte is kept; each
// piece has its own deadline; a failed piece is asked again with backoff from the bytes already on disk; permanent
// refusals (no grant, no object, too large) are not retried. The file appears complete or not at all.
//
// The engine (downloadRanged) takes any source that answers HTTP: a video import (origin/vod/import-source.ts) reads a
// customer's URL with it in open-ended ranges, with a stall timeout, a total deadline and a check of the media type.
import { open, rename, rm, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { MEDIA_GRANT_HEADER } from '../../shared/media-grant.ts';
import { originRequestHeaders, type OriginCredentials } from '../edge-client.ts';
import { backoffDelay } from '../backoff.ts';

const MiB = 1024 * 1024;
/** The largest piece asked for at once: half of what one /internal/media response carries (MAX_MEDIA_READ_BYTES). */
export const MAX_RANGE_BYTES = 32 * MiB;
/** The largest source by default (about ten hours of 1080p); SIMULIVE_MAX_SOURCE_BYTES overrides it. */
export const DEFAULT_MAX_SOURCE_BYTES = 20 * 1024 * MiB;

export interface SourceDownloadOptions {
  edgeUrl: string;
  credentials: OriginCredentials;
  key: string;
  grant: string;
  /** where the complete source goes (written as `{file}.part` first) */
  file: string;
  /** the largest source taken; default DEFAULT_MAX_SOURCE_BYTES */
  maxBytes?: number;
  /** bytes the file's disk keeps free besides the source (the disk guard's publish minimum); default 0 */
  reserveBytes?: number;
  /** bytes asked per request, at most MAX_RANGE_BYTES (the default) */
  rangeBytes?: number;
  /** one piece's deadline, headers and body together */
  attemptTimeoutMs?: number;
  /** requests tried in a row for one piece without getting a byte further, before giving up */
  attempts?: number;
  /** aborts the whole download (the broadcast was stopped meanwhile) */
  signal?: AbortSignal;
}

/** The engine's options: where the bytes come from, and how the download is bounded. */
export interface RangedDownloadOptions {
  /** asks for `range` (a Range header value); the Response's body is read as it arrives */
  request: (range: string, signal: AbortSignal) => Promise<Response>;
  /** names the source in errors, e.g. "edge media GET recordings/…" (never a secret) */
  describe: string;
  /** completes "the largest … may be" in a size refusal; default 'a simulive source' */
  sizeRole?: string;
  file: string;
  maxBytes?: number;
  reserveBytes?: number;
  /** bytes asked per request (at most MAX_RANGE_BYTES), or 'open' for `bytes={offset}-` (a server that streams it all) */
  rangeBytes?: number | 'open';
  /** one piece's deadline, headers and body together; null: none (the stall timeout and the total deadline bound it) */
  attemptTimeoutMs?: number | null;
  /** a request that delivers no byte (nor its headers) for this long is abandoned and resumed; default none */
  stallTimeoutMs?: number;
  /** the whole download's deadline, retries included; running out is permanent; default none */
  deadlineMs?: number;
  attempts?: number;
  signal?: AbortSignal;
  /** why the first answer's headers show it is not what is wanted (e.g. not a media type): permanent; null = fine */
  refuseAnswer?: (response: Response) => string | null;
  /** a 200 without Content-Length is read to its end, counted against maxBytes (else it is retried as broken) */
  allowUnknownLength?: boolean;
  /** the bytes on disk so far and the size once known, after every chunk written */
  onProgress?: (bytes: number, size: number | null) => void;
}

/** What a download took: the source's size, and requests made (pieces plus retries). */
export interface SourceDownloadResult {
  bytes: number;
  attempts: number;
}

/** A failure that another attempt will not change. */
export class PermanentDownloadError extends Error {
  override name = 'PermanentDownloadError';
}

/** SIMULIVE_MAX_SOURCE_BYTES, or the default. */
export function maxSourceBytesFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.SIMULIVE_MAX_SOURCE_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_SOURCE_BYTES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`SIMULIVE_MAX_SOURCE_BYTES must be a positive whole number of bytes, got "${raw}"`);
  return value;
}

/** What an answer's status means for a download: go on, try again later, or give up. Pure. */
export function statusVerdict(status: number): 'ok' | 'retry' | 'permanent' {
  if (status === 200 || status === 206) return 'ok';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

/** Why a declared or counted size is refused, or null while within the bound. Pure. */
export function sizeRefusal(bytes: number, maxBytes: number, role = 'a simulive source'): string | null {
  return bytes > maxBytes ? `the source is ${bytes} bytes, more than ${maxBytes} bytes (the largest ${role} may be)` : null;
}

/** `bytes first-last/size` of a 206, or null when it is not one (`*` sizes included). Pure. */
export function parseContentRange(header: string | null): { first: number; last: number; size: number } | null {
  const match = header ? /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16})$/.exec(header.trim()) : null;
  if (!match) return null;
  const [first, last, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return first <= last && last < size ? { first, last, size } : null;
}

/** The next piece to ask for, as a Range header value, given the bytes held and the size (null until known). Pure. */
export function nextRange(offset: number, size: number | null, rangeBytes: number | 'open'): string {
  if (rangeBytes === 'open') return `bytes=${offset}-`;
  const last = offset + rangeBytes - 1;
  return `bytes=${offset}-${size === null ? last : Math.min(last, size - 1)}`;
}

/** Downloads the source from the edge; resolves with its size, or throws (PermanentDownloadError when retrying is pointless). */
export function downloadSource(o: SourceDownloadOptions): Promise<SourceDownloadResult> {
  const urlPath = `/internal/media/${o.key}`;
  return downloadRanged({
    ...o,
    describe: `edge media GET ${o.key}`,
    request: async (range, signal) => {
      const headers = await originRequestHeaders(o.credentials, 'GET', urlPath, '');
      return fetch(o.edgeUrl + urlPath, { headers: { ...headers, [MEDIA_GRANT_HEADER]: o.grant, range }, signal });
    },
  });
}

/** Downloads from any ranged source into `file`; resolves with its size, or throws (PermanentDownloadError: give up). */
export async function downloadRanged(o: RangedDownloadOptions): Promise<SourceDownloadResult> {
  const part = `${o.file}.part`;
  await rm(part, { force: true });
  const handle = await open(part, 'w');
  try {
    const result = await downloadInto(handle, o);
    await handle.close();
    await rename(part, o.file);
    return result;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
}

/** What is known of the object being read: its size and version, from the first answer. */
interface Known {
  size: number;
  etag: string | null;
}

async function downloadInto(handle: FileHandle, o: RangedDownloadOptions): Promise<SourceDownloadResult> {
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_SOURCE_BYTES;
  const rangeBytes = o.rangeBytes === 'open' ? 'open' : Math.max(1, Math.min(o.rangeBytes ?? MAX_RANGE_BYTES, MAX_RANGE_BYTES));
  const attempts = o.attempts ?? 4;
  const deadline = o.deadlineMs === undefined ? null : AbortSignal.timeout(o.deadlineMs);
  const bounds = [deadline, o.signal].filter((s): s is AbortSignal => s !== null && s !== undefined);
  const whole = bounds.length > 0 ? AbortSignal.any(bounds) : undefined;
  const outOfTime = async () =>
    new PermanentDownloadError(`${o.describe}: not finished within ${Math.round((o.deadlineMs ?? 0) / 1000)} s (${(await handle.stat()).size} bytes read)`);
  let known: Known | null = null;
  let offset = 0;
  let requests = 0;
  let failures = 0;
  while (known === null || offset < known.size) {
    requests++;
    try {
      const answer = await fetchPiece({ handle, o, offset, known, rangeBytes, maxBytes }, whole);
      known = answer.known;
      offset = answer.offset;
      failures = 0;
    } catch (error) {
      if (deadline?.aborted) throw await outOfTime();
      if (error instanceof PermanentDownloadError || o.signal?.aborted) throw error;
      // Resume from what reached the disk: a piece cut short keeps the bytes it delivered.
      const onDisk = (await handle.stat()).size;
      const progressed = onDisk > offset;
      offset = onDisk;
      if (error instanceof SourceChangedError) {
        known = null;
        offset = 0;
        await handle.truncate(0);
      }
      failures = progressed ? 1 : failures + 1;
      if (failures >= attempts) throw error;
      try {
        const wait = Math.max(backoffDelay(failures - 1, 500, 8000), error instanceof BusyAnswerError ? error.retryAfterMs : 0);
        await sleepFor(wait, undefined, whole ? { signal: whole } : undefined);
      } catch (aborted) {
        throw deadline?.aborted ? await outOfTime() : aborted;
      }
    }
  }
  return { bytes: offset, attempts: requests };
}

/** A 408, 429 or 5xx: tried again after the backoff, or after the server's Retry-After when that is longer (≤ 60 s). */
class BusyAnswerError extends Error {
  override name = 'BusyAnswerError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** Retry-After in seconds (a date is not honoured), capped at a minute; 0 when absent or unreadable. Pure. */
export function retryAfterMs(header: string | null): number {
  const seconds = header !== null && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : 0;
  return Math.min(seconds, 60) * 1000;
}

/** The object was replaced between two pieces: start over from its first byte (counts as a failed attempt). */
class SourceChangedError extends Error {
  override name = 'SourceChangedError';
}

/** One piece to ask for: from `offset` into the file, what is known of the object so far, and the download's bounds. */
interface PieceAsk {
  handle: FileHandle;
  o: RangedDownloadOptions;
  offset: number;
  known: Known | null;
  rangeBytes: number | 'open';
  maxBytes: number;
}

/**
 * Asks for one piece from `offset` and writes what comes at its place in the file; resolves with the new offset. A
 * piece is bounded by its own deadline and, when set, the stall timeout (re-armed by every chunk that arrives).
 */
async function fetchPiece(piece: PieceAsk, whole: AbortSignal | undefined): Promise<{ known: Known; offset: number }> {
  const { o } = piece;
  const stall = new AbortController();
  const timeoutMs = o.attemptTimeoutMs === undefined ? 120_000 : o.attemptTimeoutMs;
  const signals = [stall.signal, ...(whole ? [whole] : []), ...(timeoutMs === null ? [] : [AbortSignal.timeout(timeoutMs)])];
  const stallMs = o.stallTimeoutMs;
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alive = () => {
    if (stallMs === undefined) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      stall.abort(new Error('stalled'));
    }, stallMs);
  };
  alive();
  try {
    return await readPiece(piece, AbortSignal.any(signals), alive);
  } catch (error) {
    if (stalled && !(error instanceof PermanentDownloadError)) {
      throw new Error(`${o.describe}: no bytes for ${Math.round((stallMs ?? 0) / 100) / 10} s, the transfer stalled`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function readPiece(piece: PieceAsk, signal: AbortSignal, alive: () => void): Promise<{ known: Known; offset: number }> {
  const { handle, o, offset, known, rangeBytes, maxBytes } = piece;
  const range = nextRange(offset, known?.size ?? null, rangeBytes);
  const response = await o.request(range, signal);
  alive();
  const what = `${o.describe} (${range})`;
  if (response.status === 416 && offset === 0 && /^bytes \*\/0$/.test(response.headers.get('content-range') ?? '')) {
    await response.body?.cancel();
    return { known: { size: 0, etag: response.headers.get('etag') }, offset: 0 }; // an empty object: nothing to read
  }
  const verdict = statusVerdict(response.status);
  if (verdict !== 'ok') {
    const text = (await response.text().catch(() => '')).slice(0, 300);
    const message = `${what} answered ${response.status}: ${text}`;
    throw verdict === 'permanent' ? new PermanentDownloadError(message) : new BusyAnswerError(message, retryAfterMs(response.headers.get('retry-after')));
  }
  const etag = response.headers.get('etag');
  let first: number;
  /** bytes this answer announces, null for a whole object of unknown length (read to its end) */
  let expected: number | null;
  let size: number | null;
  if (response.status === 206) {
    const got = parseContentRange(response.headers.get('content-range'));
    if (!got || got.first !== offset) {
      await response.body?.cancel();
      throw new PermanentDownloadError(`${what} answered 206 with Content-Range ${response.headers.get('content-range')}`);
    }
    ({ first, size } = got);
    expected = got.last - got.first + 1;
  } else {
    // 200: the server ignored the Range and sends the whole object; it replaces whatever was held.
    first = 0;
    const declared = response.headers.get('content-length');
    size = declared === null ? null : Number(declared);
    if (size === null && o.allowUnknownLength) {
      expected = null;
    } else if (size === null || !Number.isSafeInteger(size) || size < 0) {
      await response.body?.cancel();
      throw new Error(`${what} answered 200 without a length`);
    } else {
      expected = size;
    }
    await handle.truncate(0);
  }
  if (known && (size === null || size !== known.size || (etag && known.etag && etag !== known.etag))) {
    await response.body?.cancel();
    throw new SourceChangedError(`${what}: the object changed while it was read (${known.size} → ${size ?? 'unknown'} bytes)`);
  }
  if (!known) {
    const refusal =
      o.refuseAnswer?.(response) ??
      (size === null ? null : (sizeRefusal(size, maxBytes, o.sizeRole) ?? (await diskRefusal(o.file, size, o.reserveBytes ?? 0))));
    if (refusal) {
      await response.body?.cancel();
      throw new PermanentDownloadError(refusal);
    }
  }
  if (!response.body) throw new Error(`${what} had no body`);
  let position = first;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    if (expected !== null && position + chunk.length > first + expected) throw new Error(`${what} sent more than the ${expected} bytes it announced`);
    if (position + chunk.length > maxBytes) {
      throw new PermanentDownloadError(`the source is more than ${maxBytes} bytes (the largest ${o.sizeRole ?? 'a simulive source'} may be)`);
    }
    await handle.write(chunk, 0, chunk.length, position);
    position += chunk.length;
    alive();
    o.onProgress?.(position, size);
  }
  if (expected !== null && position !== first + expected) throw new Error(`${what} ended after ${position - first} of ${expected} bytes`);
  return { known: known ?? { size: size ?? position, etag }, offset: position };
}

/** Why the file's disk cannot take `bytes` more and still keep `reserve` free, or null (also when it cannot be measured). */
async function diskRefusal(file: string, bytes: number, reserve: number): Promise<string | null> {
  const fs = await statfs(path.dirname(file)).catch(() => null);
  if (!fs) return null;
  const free = fs.bavail * fs.bsize;
  if (free - bytes >= reserve) return null;
  const mib = (n: number) => Math.round(n / MiB);
  return `origin disk too full for the source: it is ${mib(bytes)} MiB, ${mib(free)} MiB free of which ${mib(reserve)} MiB stay for live media`;
}
