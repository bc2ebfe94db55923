// Fetches a simulive source (a recording's MP4 in R2) through the edge's GET /internal/media/{key} with the command's
// media grant, streamed to a file: bounded in size, each attempt under a deadline, transient failures retried with
// backoff, permanent ones (no grant, no object, too large) not. The file appears complete or not at all.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { MEDIA_GRANT_HEADER } from '../../shared/media-grant.ts';
import { originRequestHeaders, type OriginCredentials } from '../edge-client.ts';
import { backoffDelay, sleep } from '../backoff.ts';

/** GET /internal/media serves objects up to this size (edge/routes/internal-media.ts MAX_MEDIA_READ_BYTES). */
export const DEFAULT_MAX_SOURCE_BYTES = 64 * 1024 * 1024;

export interface SourceDownloadOptions {
  edgeUrl: string;
  credentials: OriginCredentials;
  key: string;
  grant: string;
  /** where the complete source goes (written as `{file}.part` first) */
  file: string;
  maxBytes?: number;
  /** one attempt's deadline, headers and body together */
  attemptTimeoutMs?: number;
  attempts?: number;
  /** aborts the whole download (the broadcast was stopped meanwhile) */
  signal?: AbortSignal;
}

/** A failure that another attempt will not change. */
export class PermanentDownloadError extends Error {
  override name = 'PermanentDownloadError';
}

/** What an answer's status means for a download: go on, try again later, or give up. Pure. */
export function statusVerdict(status: number): 'ok' | 'retry' | 'permanent' {
  if (status === 200) return 'ok';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

/** Why a declared or counted size is refused, or null while within the bound. Pure. */
export function sizeRefusal(bytes: number, maxBytes: number): string | null {
  return bytes > maxBytes ? `the source is more than ${maxBytes} bytes (the largest a simulive source may be)` : null;
}

/** Downloads the source; resolves with its size, or throws (PermanentDownloadError when retrying is pointless). */
export async function downloadSource(o: SourceDownloadOptions): Promise<{ bytes: number; attempts: number }> {
  const attempts = o.attempts ?? 4;
  for (let attempt = 0; ; attempt++) {
    try {
      return { bytes: await downloadOnce(o), attempts: attempt + 1 };
    } catch (error) {
      if (error instanceof PermanentDownloadError || o.signal?.aborted || attempt + 1 >= attempts) throw error;
      await sleep(backoffDelay(attempt, 500, 8000));
    }
  }
}

async function downloadOnce(o: SourceDownloadOptions): Promise<number> {
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_SOURCE_BYTES;
  const path = `/internal/media/${o.key}`;
  const deadline = AbortSignal.timeout(o.attemptTimeoutMs ?? 120_000);
  const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
  const headers = await originRequestHeaders(o.credentials, 'GET', path, '');
  const response = await fetch(o.edgeUrl + path, { headers: { ...headers, [MEDIA_GRANT_HEADER]: o.grant }, signal });
  const verdict = statusVerdict(response.status);
  if (verdict !== 'ok') {
    const text = (await response.text().catch(() => '')).slice(0, 200);
    const message = `edge media GET ${o.key} answered ${response.status}: ${text}`;
    throw verdict === 'permanent' ? new PermanentDownloadError(message) : new Error(message);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  const tooLarge = sizeRefusal(declared, maxBytes);
  if (tooLarge) {
    await response.body?.cancel();
    throw new PermanentDownloadError(tooLarge);
  }
  if (!response.body) throw new Error(`edge media GET ${o.key} had no body`);
  const part = `${o.file}.part`;
  const out = createWriteStream(part);
  let bytes = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      const over = sizeRefusal(bytes, maxBytes);
      if (over) throw new PermanentDownloadError(over);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    if (declared > 0 && bytes !== declared) throw new Error(`edge media GET ${o.key} ended after ${bytes} of ${declared} bytes`);
    await rename(part, o.file);
    return bytes;
  } catch (error) {
    out.destroy();
    await rm(part, { force: true });
    throw error;
  }
}
