// Small media files held in memory, so a popular segment or playlist is answered without touching the disk.
// Segments never change once they have their final name (ffmpeg writes them under a temporary one), so they stay
// until evicted; playlists and thumbnails are rewritten in place, so they are kept only briefly.
import path from 'node:path';

export interface CachedFile {
  body: Buffer;
  mtimeMs: number;
  mtime: Date;
  /** when this copy stops being served (epoch ms); Infinity for immutable files */
  expiresAt: number;
}

/** Playlists change once a segment (2 s); a quarter second of staleness is well inside their max-age. */
const MUTABLE_TTL_MS = 250;
const MUTABLE_EXTENSIONS = new Set(['.m3u8', '.jpg', '.jpeg']);

export class FileCache {
  private readonly entries = new Map<string, CachedFile>();
  private bytes = 0;

  constructor(
    readonly maxBytes = 128 * 1024 * 1024,
    readonly maxFileBytes = 4 * 1024 * 1024,
  ) {}

  /** A copy that may still be served, refreshed as most recently used; undefined when there is none. */
  fresh(file: string, now = Date.now()): CachedFile | undefined {
    const entry = this.entries.get(file);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.remove(file, entry);
      return undefined;
    }
    this.entries.delete(file);
    this.entries.set(file, entry);
    return entry;
  }

  put(file: string, body: Buffer, mtime: Date, now = Date.now()): void {
    if (body.length > this.maxFileBytes || body.length > this.maxBytes) return;
    const previous = this.entries.get(file);
    if (previous) this.remove(file, previous);
    const mutable = MUTABLE_EXTENSIONS.has(path.extname(file).toLowerCase());
    this.entries.set(file, { body, mtime, mtimeMs: mtime.getTime(), expiresAt: mutable ? now + MUTABLE_TTL_MS : Infinity });
    this.bytes += body.length;
    // Least recently used first: Map iteration follows insertion, and fresh() re-inserts what it serves.
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(key, entry);
    }
  }

  get size(): number {
    return this.bytes;
  }

  private remove(file: string, entry: CachedFile): void {
    this.entries.delete(file);
    this.bytes -= entry.body.length;
  }
}
