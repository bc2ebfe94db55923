// The import step of a video job of kind 'import' (POST /control/vod-jobs): the customer's URL is streamed to a local
// file by the download engine (origin/simulive/source-download.ts: resumed with Range after a dropped connection, a 5xx
// or a 429, with backoff; bounded in size, time and stalls), every connection's addresses judged first
// (origin/vod/import-request.ts), then the file goes to R2 as `videos/{videoId}/source` in parts through the edge's
// media API (MediaUploader). The job's processing then goes on from the local file. Progress 0–100 of the 'importing'
// phase: the download is 0–95, the upload to R2 the rest.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { downloadRanged, PermanentDownloadError } from '../simulive/source-download.ts';
import { UploadFailed, type MediaUploader } from '../media-uploader.ts';
import { log, logWarn } from '../log.ts';
import { describeImportUrl, requestImport } from './import-request.ts';
import { mediaTypeRefusal } from './import-url.ts';

const GiB = 1024 ** 3;

export interface ImportLimits {
  /** VIDEO_IMPORT_MAX_BYTES: the largest source taken (Content-Length first, then counted); default 20 GiB */
  maxBytes: number;
  /** VIDEO_IMPORT_TIMEOUT_SECONDS: the whole download, retries included; default 6 h */
  deadlineMs: number;
  /** VIDEO_IMPORT_STALL_SECONDS: no byte for this long → the request is abandoned and resumed; default 60 s */
  stallTimeoutMs: number;
  /** requests in a row without a byte gained before the import fails; default 5 */
  attempts: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 20 * GiB, deadlineMs: 6 * 3600_000, stallTimeoutMs: 60_000, attempts: 5 };

/** The limits from the environment, or their defaults; a malformed value stops the origin at start. */
export function importLimitsFromEnv(env: NodeJS.ProcessEnv): ImportLimits {
  const read = (name: string, fallback: number, scale: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback * scale;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
    return value * scale;
  };
  return {
    maxBytes: read('VIDEO_IMPORT_MAX_BYTES', DEFAULT_IMPORT_LIMITS.maxBytes, 1),
    deadlineMs: read('VIDEO_IMPORT_TIMEOUT_SECONDS', DEFAULT_IMPORT_LIMITS.deadlineMs / 1000, 1000),
    stallTimeoutMs: read('VIDEO_IMPORT_STALL_SECONDS', DEFAULT_IMPORT_LIMITS.stallTimeoutMs / 1000, 1000),
    attempts: DEFAULT_IMPORT_LIMITS.attempts,
  };
}

/** Where an imported (or uploaded) video's bytes live in R2. */
export const videoSourceKey = (videoId: string): string => `videos/${videoId}/source`;

/** The import did not happen; `reason` is for the video's error (no secret: the URL's query is never in it). */
export class ImportFailed extends Error {
  override name = 'ImportFailed';
  constructor(
    readonly reason: string,
    /** another attempt will not change it (a 4xx, not a video, too big, an address refused) */
    readonly permanent: boolean,
  ) {
    super(reason);
  }
}

export interface VideoImportOrder {
  videoId: string;
  sourceUrl: string;
  /** media grant covering `videos/{videoId}/` */
  grant: string;
}

export interface ImportContext {
  /** the job's folder; the source is written to {workDir}/source */
  workDir: string;
  uploader: Pick<MediaUploader, 'uploadFile'>;
  limits: ImportLimits;
  /** the local-development switch (import-url.ts importLoopbackAllowed) */
  allowLoopback: boolean;
  /** bytes the disk keeps free besides the source (the disk guard's minimum); default 0 */
  reserveBytes?: number;
  /** the 'importing' phase's progress, 0–100, called when the whole percent changes */
  onProgress?: (progress: number) => void;
  /** stops the import (the job was cancelled, the origin is shutting down) */
  signal?: AbortSignal;
}

export interface ImportedSource {
  /** the local copy, for the job's processing */
  file: string;
  bytes: number;
  /** requests made (retries included) */
  requests: number;
  ms: number;
}

/** Fetches the URL to {workDir}/source and stores it in R2; throws ImportFailed (or the abort, when stopped). */
export async function importSource(order: VideoImportOrder, ctx: ImportContext): Promise<ImportedSource> {
  const started = Date.now();
  const file = path.join(ctx.workDir, 'source');
  const where = describeImportUrl(order.sourceUrl);
  await mkdir(ctx.workDir, { recursive: true });
  let reported = -1;
  const report = (progress: number) => {
    if (progress <= reported) return;
    reported = progress;
    ctx.onProgress?.(progress);
  };
  report(0);
  let downloaded;
  try {
    downloaded = await downloadRanged({
      describe: `GET ${where}`,
      sizeRole: 'an imported video (VIDEO_IMPORT_MAX_BYTES)',
      request: (range, signal) => requestImport(order.sourceUrl, range, signal, { allowLoopback: ctx.allowLoopback }),
      file,
      rangeBytes: 'open',
      attemptTimeoutMs: null,
      stallTimeoutMs: ctx.limits.stallTimeoutMs,
      deadlineMs: ctx.limits.deadlineMs,
      attempts: ctx.limits.attempts,
      maxBytes: ctx.limits.maxBytes,
      reserveBytes: ctx.reserveBytes ?? 0,
      allowUnknownLength: true,
      refuseAnswer: (response) => mediaTypeRefusal(response.headers.get('content-type')),
      onProgress: (bytes, size) => {
        if (size) report(Math.floor((Math.min(bytes, size) / size) * 95));
      },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    const message = error instanceof Error ? error.message : String(error);
    logWarn('video_import_failed', { videoId: order.videoId, source: where, phase: 'download', permanent: error instanceof PermanentDownloadError, error: message.slice(0, 300) });
    const said = message.includes(where) ? message : `${where}: ${message}`;
    if (error instanceof PermanentDownloadError) throw new ImportFailed(`import failed: ${said}`, true);
    throw new ImportFailed(`import failed after ${ctx.limits.attempts} attempts without progress: ${said}`, false);
  }
  report(95);
  log('video_import_downloaded', { videoId: order.videoId, source: where, bytes: downloaded.bytes, requests: downloaded.attempts, ms: Date.now() - started });
  if (downloaded.bytes === 0) throw new ImportFailed(`import failed: ${where} answered with an empty body`, true);
  try {
    await ctx.uploader.uploadFile(videoSourceKey(order.videoId), file, order.grant);
  } catch (error) {
    const permanent = error instanceof UploadFailed && error.permanent;
    logWarn('video_import_failed', { videoId: order.videoId, phase: 'store', permanent, error: String(error).slice(0, 300) });
    throw new ImportFailed(`the imported source could not be stored: ${error instanceof Error ? error.message : String(error)}`, permanent);
  }
  report(100);
  const ms = Date.now() - started;
  log('video_import_stored', { videoId: order.videoId, key: videoSourceKey(order.videoId), bytes: downloaded.bytes, ms });
  return { file, bytes: downloaded.bytes, requests: downloaded.attempts, ms };
}
