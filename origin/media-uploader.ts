// Moves finished media (recordings, clips) from the origin's disk into R2 through the edge: small files in one PUT,
// large ones in 16 MiB parts, each part retried a few times before the upload fails.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EdgeClient } from './edge-client.ts';

export const PART_BYTES = 16 * 1024 * 1024;
const ATTEMPTS = 4;

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
};
export const contentTypeOf = (file: string) => CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';

async function withRetries<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < ATTEMPTS; i++) {
    try {
      return await attempt();
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
  throw new Error(`${what} failed after ${ATTEMPTS} attempts: ${String(last)}`);
}

export class MediaUploader {
  constructor(
    private readonly edge: EdgeClient,
    private readonly partBytes = PART_BYTES,
  ) {}

  async uploadFile(key: string, file: string): Promise<number> {
    const { size } = await stat(file);
    const type = contentTypeOf(file);
    if (size <= this.partBytes) {
      const bytes = await readFile(file);
      await withRetries(`upload of ${key}`, () => this.edge.putMedia(key, bytes, type));
      return size;
    }
    const uploadId = await withRetries(`multipart start of ${key}`, () => this.edge.createMultipart(key, type));
    const handle = await open(file, 'r');
    try {
      const parts: { partNumber: number; etag: string }[] = [];
      for (let offset = 0, partNumber = 1; offset < size; offset += this.partBytes, partNumber++) {
        const buffer = Buffer.alloc(Math.min(this.partBytes, size - offset));
        await handle.read(buffer, 0, buffer.length, offset);
        const number = partNumber;
        parts.push(await withRetries(`part ${number} of ${key}`, () => this.edge.uploadPart(key, uploadId, number, buffer)));
      }
      await withRetries(`multipart completion of ${key}`, () => this.edge.completeMultipart(key, uploadId, parts));
    } finally {
      await handle.close();
    }
    return size;
  }

  /** Every file under `dir`, keeping its relative path under `prefix`. */
  async uploadDirectory(prefix: string, dir: string): Promise<number> {
    let total = 0;
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      total += await this.uploadFile(`${prefix}/${path.relative(dir, full).split(path.sep).join('/')}`, full);
    }
    return total;
  }
}
