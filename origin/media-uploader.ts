// Moves media (live segments and playlists, recordings, clips) from the origin's disk into R2 through the edge, each
// request carrying the media grant that covers its key: small files in one PUT, large ones in 16 MiB parts. Storage outages are ridden out: each request is retried with backoff for minutes before
// the upload fails; an answer that cannot change on retry (the edge refused the request itself) fails at once.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EdgeClient } from './edge-client.ts';
import { backoffDelay, sleep } from './backoff.ts';
import { logWarn } from './log.ts';

export const PART_BYTES = 16 * 1024 * 1024;

export interface UploadRetryPolicy {
  /** how long one request keeps being retried before the upload fails; default 5 min */
  budgetMs: number;
  /** first wait; default 500 ms */
  firstDelayMs: number;
  /** longest wait between two tries; default 20 s */
  maxDelayMs: number;
}

export const DEFAULT_UPLOAD_RETRY: UploadRetryPolicy = { budgetMs: 5 * 60_000, firstDelayMs: 500, maxDelayMs: 20_000 };

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  // low-latency sessions' fMP4 segments (their init segments are .mp4)
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
};
export const contentTypeOf = (file: string) => CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';

/**
 * The edge refused the request itself (bad key, too large, not allowed): trying again cannot help. A 401 (clocks
 * apart), 408, 429, 5xx or no answer at all are the storage or the network having a moment.
 */
export function isPermanentUploadFailure(error: unknown): boolean {
  const status = /answered (\d{3})/.exec(error instanceof Error ? error.message : String(error))?.[1];
  return status !== undefined && ['400', '403', '404', '405', '411', '413', '414', '415', '422'].includes(status);
}

export class UploadFailed extends Error {
  override name = 'UploadFailed';
  constructor(
    message: string,
    /** whether it failed for good at once, or after the retry budget ran out */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export async function withRetries<T>(what: string, policy: UploadRetryPolicy, attempt: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (isPermanentUploadFailure(error)) throw new UploadFailed(`${what} was refused: ${String(error)}`, true);
      const wait = backoffDelay(i, policy.firstDelayMs, policy.maxDelayMs);
      const spent = Date.now() - started;
      if (spent + wait > policy.budgetMs) {
        throw new UploadFailed(`${what} failed for ${Math.round(spent / 1000)} s (${i + 1} attempts), storage unavailable: ${String(error)}`, false);
      }
      logWarn('upload_retry', { what, attempt: i + 1, waitMs: wait, error: String(error).slice(0, 300) });
      await sleep(wait);
    }
  }
}

export class MediaUploader {
  constructor(
    private readonly edge: EdgeClient,
    private readonly partBytes = PART_BYTES,
    private readonly retry: UploadRetryPolicy = DEFAULT_UPLOAD_RETRY,
  ) {}

  /** One object from memory (a playlist written for R2), retried like a file. */
  async uploadBytes(key: string, bytes: Uint8Array, type: string, grant: string): Promise<number> {
    await withRetries(`upload of ${key}`, this.retry, () => this.edge.putMedia(key, bytes, type, grant));
    return bytes.length;
  }

  async uploadFile(key: string, file: string, grant: string): Promise<number> {
    const { size } = await stat(file);
    const type = contentTypeOf(file);
    if (size <= this.partBytes) {
      const bytes = await readFile(file);
      await withRetries(`upload of ${key}`, this.retry, () => this.edge.putMedia(key, bytes, type, grant));
      return size;
    }
    const uploadId = await withRetries(`multipart start of ${key}`, this.retry, () => this.edge.createMultipart(key, type, grant));
    const handle = await open(file, 'r');
    try {
      const parts: { partNumber: number; etag: string }[] = [];
      for (let offset = 0, partNumber = 1; offset < size; offset += this.partBytes, partNumber++) {
        const buffer = Buffer.alloc(Math.min(this.partBytes, size - offset));
        await handle.read(buffer, 0, buffer.length, offset);
        const number = partNumber;
        parts.push(await withRetries(`part ${number} of ${key}`, this.retry, () => this.edge.uploadPart(key, uploadId, number, buffer, grant)));
      }
      await withRetries(`multipart completion of ${key}`, this.retry, () => this.edge.completeMultipart(key, uploadId, parts, grant));
    } finally {
      await handle.close();
    }
    return size;
  }

  /** Every file under `dir`, keeping its relative path under `prefix`. */
  async uploadDirectory(prefix: string, dir: string, grant: string): Promise<number> {
    let total = 0;
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      total += await this.uploadFile(`${prefix}/${path.relative(dir, full).split(path.sep).join('/')}`, full, grant);
    }
    return total;
  }
}
