// Keeps {sessionDir}/thumbnail.jpg on the live picture. A standard-mode ladder with an encoded rung writes it itself
// (liveThumbnail: an output of its ffmpeg, the source picture every 10 s); otherwise, every few seconds, the first frame
// of the newest finished segment of the top rendition (segments start on a keyframe, so it decodes alone), by an ffmpeg
// run of its own. Either way the JPEG is written beside the target and renamed over it, so the HTTP server never serves
// half a file.
import { createReadStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { initPathOf } from '../durable/fmp4-init.ts';
import { runFfmpeg } from './ffmpeg.ts';
import { MASTER_PLAYLIST, type LiveThumbnail } from './hls-command.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from './playlists.ts';
import { logWarn } from '../log.ts';

export const THUMBNAIL_FILE = 'thumbnail.jpg';
const PARTIAL_FILE = '.thumbnail-next.jpg';
// Each refresh is a whole ffmpeg run (~0.1 CPU-s, mostly its start-up): every 10 s keeps a live preview current while
// costing the origin ~1 % of a 720p ladder's CPU, where every 4 s cost ~6 % (issue 15).
const REFRESH_MS = 10_000;
const FFMPEG_DEADLINE_MS = 10_000;
/** Thumbnails are previews: a taller source is scaled down to this. */
const MAX_HEIGHT = 720;

/** What the ladder's ffmpeg is asked for when it keeps the session's thumbnail itself (hls-command.ts). */
export function liveThumbnail(sessionDir: string): LiveThumbnail {
  return { file: path.join(sessionDir, THUMBNAIL_FILE), everySeconds: REFRESH_MS / 1000, maxHeight: MAX_HEIGHT };
}

/** The playlist URI of the tallest variant of a master playlist, or null before the master exists. */
export function topVariantUri(masterText: string): string | null {
  const variants = parseMasterPlaylist(masterText);
  if (variants.length === 0) return null;
  return variants.reduce((best, v) => (v.height > best.height ? v : best)).uri;
}

/** The URI of the last (newest, finished) segment of a media playlist, or null while it has none. */
export function newestSegmentUri(mediaText: string): string | null {
  return parseMediaPlaylist(mediaText).segments.at(-1)?.uri ?? null;
}

/** Absolute path of the newest segment of the session's top rendition; null while there is none yet. */
export async function newestTopSegment(sessionDir: string): Promise<string | null> {
  const master = await readFile(path.join(sessionDir, MASTER_PLAYLIST), 'utf8').catch(() => null);
  const variant = master ? topVariantUri(master) : null;
  if (!variant) return null;
  const playlistPath = path.join(sessionDir, variant);
  const media = await readFile(playlistPath, 'utf8').catch(() => null);
  const segment = media ? newestSegmentUri(media) : null;
  return segment ? path.join(path.dirname(playlistPath), segment) : null;
}

/** One JPEG of the first frame of `segmentPath`, put in place at `target` once complete. */
export async function writeThumbnail(segmentPath: string, target: string, ffmpegPath?: string): Promise<void> {
  const partial = path.join(path.dirname(target), PARTIAL_FILE);
  // A low-latency session's fMP4 segment decodes after its leg's init segment: both go in, one after the other.
  const init = initPathOf(segmentPath);
  const run = runFfmpeg({
    input: init === null ? createReadStream(segmentPath) : Readable.from(concatFiles([init, segmentPath])),
    inputOptions: ['-loglevel', 'error', '-f', init === null ? 'mpegts' : 'mp4'],
    outputOptions: ['-frames:v', '1', '-an', '-vf', `scale=-2:'min(ih,${MAX_HEIGHT})'`, '-c:v', 'mjpeg', '-q:v', '4', '-f', 'image2', '-update', '1'],
    output: partial,
    ffmpegPath,
  });
  const deadline = setTimeout(() => run.kill('SIGKILL'), FFMPEG_DEADLINE_MS);
  const exit = await run.done.finally(() => clearTimeout(deadline));
  if (exit.code !== 0) {
    await rm(partial, { force: true });
    throw new Error(`ffmpeg ${exit.signal ?? `exited ${exit.code}`}: ${exit.stderrTail.slice(-3).join(' | ')}`);
  }
  await rename(partial, target);
}

async function* concatFiles(files: readonly string[]): AsyncGenerator<Buffer> {
  for (const file of files) for await (const chunk of createReadStream(file)) yield chunk as Buffer;
}

export interface ThumbnailRefresher {
  /** how many thumbnails have been written so far */
  readonly refreshed: number;
  stop(): void;
}

export interface ThumbnailOptions {
  intervalMs?: number;
  /** checked on every tick: once true, the refresher stops by itself */
  isOver?: () => boolean;
  ffmpegPath?: string;
}

/** Refreshes the session's thumbnail whenever a new segment has landed, until stopped or `isOver()`. */
export function refreshThumbnails(sessionDir: string, options: ThumbnailOptions = {}): ThumbnailRefresher {
  let lastSegment: string | null = null;
  let running = false;
  let stopped = false;
  let refreshed = 0;
  let lastError: string | null = null;
  /** mtime of the thumbnail this refresher wrote last */
  let ownMtimeMs = 0;
  const target = path.join(sessionDir, THUMBNAIL_FILE);
  const intervalMs = options.intervalMs ?? REFRESH_MS;

  const tick = async (): Promise<void> => {
    if (stopped || running) return;
    if (options.isOver?.()) return stop();
    running = true;
    try {
      // The ladder's ffmpeg keeps it current (liveThumbnail): no run of our own while its picture is fresh.
      const writtenAt = await stat(target).then((s) => s.mtimeMs, () => 0);
      if (writtenAt !== ownMtimeMs && Date.now() - writtenAt < 2 * intervalMs) return;
      const segment = await newestTopSegment(sessionDir);
      if (segment && segment !== lastSegment) {
        await writeThumbnail(segment, target, options.ffmpegPath);
        ownMtimeMs = await stat(target).then((s) => s.mtimeMs, () => 0);
        lastSegment = segment;
        refreshed += 1;
        lastError = null;
      }
    } catch (error) {
      // Once per distinct failure: a stream whose segments cannot be decoded would otherwise log every few seconds.
      const message = String((error as Error).message ?? error);
      if (message !== lastError) logWarn('thumbnail_failed', { sessionDir, error: message.slice(0, 300) });
      lastError = message;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  function stop(): void {
    stopped = true;
    clearInterval(timer);
  }
  return {
    get refreshed() {
      return refreshed;
    },
    stop,
  };
}
