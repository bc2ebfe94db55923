// The one-time upload URL of a video (issue 13): creating it, and the parts, one-shot body, resume listing and completion
// sent to it. The token is the only credential (no access token): only its SHA-256 is stored, it opens exactly one video
// and its key `videos/{videoId}/source` (taken from the stored row, never from the request), and it is spent by the
// completion or expires after 24 h. Bytes stream from the request into R2 multipart parts; D1 keeps the part list (R2's
// API cannot list a multipart upload's parts) and every change of the upload's state is one conditional statement.
import type { Env } from '../env.ts';
import { ApiError } from '../problem.ts';
import { log } from '../log.ts';
import { videoObject } from '../videos.ts';
import type { VideoResult } from '../video-object.ts';
import { videoSourceKey } from './video-document.ts';
import { newId, newPlaybackId, sha256Hex } from '../../shared/identifiers.ts';
import type { CreateUploadRequest, VideoUpload } from '../../shared/schemas/video.ts';
import type { UploadCompleted, UploadPart, UploadStatus } from '../../shared/schemas/video-upload.ts';
import {
  MAX_ONE_SHOT_BYTES,
  UPLOAD_TOKEN_PATTERN,
  UPLOAD_TTL_MS,
  judgeCompletion,
  judgePart,
  maxUploadBytes,
  newUploadToken,
  nextPart,
  planUpload,
  type UploadRefusal,
} from './upload-plan.ts';
import {
  beginCompleting,
  claimMultipart,
  findUpload,
  findUploadOfVideo,
  forgetExpired,
  insertUpload,
  listParts,
  markCompleted,
  markStarted,
  recordPart,
  reopen,
  type UploadRow,
} from './upload-store.ts';

const refused = (refusal: UploadRefusal) =>
  new ApiError(refusal.status, refusal.type, refusal.title, refusal.detail, refusal.field ? { errors: [{ field: refusal.field, message: refusal.detail }] } : {});

const unknownUpload = () => new ApiError(404, 'upload-not-found', 'Upload not found', 'no upload has this URL (check it was copied whole)');

/** Creates the video (waiting) and its upload URL; the token is in the answer only. */
export async function createUpload(env: Env, workspaceId: string, request: CreateUploadRequest, requestUrl: string): Promise<VideoUpload> {
  const maxBytes = maxUploadBytes(env.VIDEO_UPLOAD_MAX_BYTES);
  const planned = planUpload(request.size, maxBytes);
  if (!planned.ok) throw refused(planned.refusal);
  const videoId = newId('vid', 16);
  const now = Date.now();
  const expiresAt = now + UPLOAD_TTL_MS;
  // The video's object holds the upload's deadline from its creation: at expiry an upload not completed fails it.
  const created = (await videoObject(env, videoId).create({
    videoId,
    workspaceId,
    source: 'upload',
    title: request.title ?? null,
    metadata: request.metadata ?? {},
    playbackId: newPlaybackId(),
    accessPolicy: request.accessPolicy,
    uploadExpiresAt: expiresAt,
  })) as VideoResult;
  if (!created.ok) throw new ApiError(500, 'internal-error', 'Internal error', 'the video could not be created');
  const token = newUploadToken();
  await insertUpload(env.DB, { tokenHash: await sha256Hex(token), videoId, workspaceId, plan: planned.plan, maxBytes, expiresAt }, now);
  log('video_upload_created', { videoId, workspaceId, partSize: planned.plan.partSize, maxParts: planned.plan.maxParts });
  return {
    videoId,
    uploadUrl: new URL(`/uploads/${token}`, requestUrl).href,
    expiresAt: new Date(expiresAt).toISOString(),
    partSize: planned.plan.partSize,
    maxParts: planned.plan.maxParts,
  };
}

/** The upload a token opens, or the problem saying why it opens none: unknown 404, spent or expired 410, busy 409. */
async function openUpload(env: Env, token: string, now: number, options: { allowCompleting: boolean }): Promise<UploadRow> {
  if (!UPLOAD_TOKEN_PATTERN.test(token)) throw unknownUpload();
  const row = await findUpload(env.DB, await sha256Hex(token));
  if (!row) throw unknownUpload();
  if (row.state === 'completed') {
    throw new ApiError(410, 'upload-completed', 'Upload completed', `this upload URL was used up: video ${row.videoId} has its file; create a new upload for another`);
  }
  if (row.expiresAt <= now) {
    // The parts it stored go at its first use after expiry, if its video's alarm has not let them go already.
    if (row.r2UploadId) await letGo(env, row).catch(() => undefined);
    throw new ApiError(410, 'upload-expired', 'Upload expired', `this upload URL expired at ${new Date(row.expiresAt).toISOString()}; create a new upload`);
  }
  if (row.state === 'completing' && !options.allowCompleting) {
    throw new ApiError(409, 'upload-completing', 'Upload completing', 'the upload is being completed; no part can change now (retry /complete if it was cut short)');
  }
  return row;
}

/** R2 says so when the multipart upload is gone already (aborted or completed): nothing is left to abort. */
export const NO_SUCH_UPLOAD = /10024|does not exist|NoSuchUpload/i;

/**
 * An expired upload lets go of what it holds (R2 would drop an abandoned multipart upload only after days): its R2
 * multipart upload aborted, then its part records dropped. Throws when R2 could not abort it, so the caller retries.
 */
async function letGo(env: Env, row: UploadRow): Promise<void> {
  if (row.r2UploadId) {
    try {
      await env.MEDIA.resumeMultipartUpload(videoSourceKey(row.videoId), row.r2UploadId).abort();
    } catch (error) {
      if (!NO_SUCH_UPLOAD.test(String(error))) throw error;
    }
  }
  await forgetExpired(env.DB, row, Date.now());
  log('video_upload_expired', { videoId: row.videoId, multipart: row.r2UploadId !== null });
}

/**
 * The VideoObject's owed effect once the upload's deadline failed the video: the upload (unless it was completed) lets
 * go of its parts. True when done or moot, a throw to be retried.
 */
export async function abandonUpload(env: Env, videoId: string): Promise<boolean> {
  const row = await findUploadOfVideo(env.DB, videoId);
  if (!row || row.state === 'completed') return true;
  await letGo(env, row);
  return true;
}

/** A video call's refusal as the upload's problem: a deleted video closes its upload. */
function videoRefusal(result: Exclude<VideoResult, { ok: true }>, videoId: string): ApiError {
  if (result.code === 'not_found') return new ApiError(410, 'upload-video-deleted', 'Video deleted', `video ${videoId} was deleted; its upload URL is closed`);
  return new ApiError(result.httpStatus, result.type, 'Not allowed in the video\'s status', result.detail);
}

/** The request's announced length: required, as the body streams to R2 (which needs it) and is judged before it is read. */
export function declaredLength(header: string | undefined, limit: number, what: string): number {
  if (header === undefined) throw new ApiError(411, 'length-required', 'Length required', `send ${what} with a Content-Length header`);
  const length = Number(header);
  if (!/^\d{1,15}$/.test(header) || !Number.isSafeInteger(length)) {
    throw new ApiError(400, 'invalid-content-length', 'Invalid Content-Length', 'Content-Length must be a whole number of bytes');
  }
  if (length > limit) throw new ApiError(413, 'body-too-large', 'Request body too large', `${what} is ${length} bytes; at most ${limit} are taken`);
  return length;
}

/** waiting → uploading on the video, once per upload (every part would otherwise ask the video's object). */
async function ensureStarted(env: Env, row: UploadRow, now: number): Promise<void> {
  if (row.startedAt) return;
  const started = (await videoObject(env, row.videoId).uploadStarted()) as VideoResult;
  if (!started.ok) throw videoRefusal(started, row.videoId);
  await markStarted(env.DB, row.tokenHash, now);
}

/** The R2 multipart upload of this video's source, created by whichever first part gets there first. */
async function multipartOf(env: Env, row: UploadRow): Promise<R2MultipartUpload> {
  const key = videoSourceKey(row.videoId);
  if (row.r2UploadId) return env.MEDIA.resumeMultipartUpload(key, row.r2UploadId);
  const created = await env.MEDIA.createMultipartUpload(key, { httpMetadata: { contentType: 'application/octet-stream' } });
  const winner = await claimMultipart(env.DB, row.tokenHash, created.uploadId);
  if (winner === created.uploadId) return created;
  await created.abort().catch(() => undefined); // a concurrent first part won: its upload is the one
  if (!winner) throw new ApiError(503, 'upload-busy', 'Upload busy', 'the upload changed while this part arrived; send the part again');
  return env.MEDIA.resumeMultipartUpload(key, winner);
}

/** PUT /uploads/{token}/parts/{n}: stores (or replaces) part n, streamed into R2. */
export async function putPart(env: Env, token: string, n: number, lengthHeader: string | undefined, body: ReadableStream | null): Promise<UploadPart> {
  const now = Date.now();
  const row = await openUpload(env, token, now, { allowCompleting: false });
  const size = declaredLength(lengthHeader, Number.MAX_SAFE_INTEGER, `part ${n}`); // a part above partSize: judgePart's 400 names it
  const refusal = judgePart(n, size, row.plan, await listParts(env.DB, row.videoId), row.maxBytes);
  if (refusal) throw refused(refusal);
  if (!body) throw refused({ status: 400, type: 'empty-part', title: 'Empty part', detail: `part ${n} has no bytes` });
  await ensureStarted(env, row, now);
  const multipart = await multipartOf(env, row);
  let etag: string;
  try {
    etag = (await multipart.uploadPart(n, body)).etag;
  } catch (error) {
    // Most often the connection dropped mid-part: nothing of it counts, the part is simply sent again.
    log('video_upload_part_failed', { videoId: row.videoId, part: n, size, error: String(error) });
    throw new ApiError(502, 'part-not-stored', 'Part not stored', `part ${n} was not stored (its bytes did not all arrive, or storage failed): send it again`);
  }
  const part = { n, size, etag };
  if (!(await recordPart(env.DB, row.videoId, part, Date.now()))) {
    throw new ApiError(409, 'upload-completing', 'Upload completing', `part ${n} arrived after the upload began completing; it is not part of the file`);
  }
  log('video_upload_part', { videoId: row.videoId, part: n, size });
  return part;
}

/** GET /uploads/{token}: the parts received, to resume after a dropped connection. */
export async function uploadStatus(env: Env, token: string): Promise<UploadStatus> {
  const row = await openUpload(env, token, Date.now(), { allowCompleting: true });
  const parts = await listParts(env.DB, row.videoId);
  return {
    videoId: row.videoId,
    state: row.state === 'completing' ? 'completing' : 'open',
    partSize: row.plan.partSize,
    maxParts: row.plan.maxParts,
    expiresAt: new Date(row.expiresAt).toISOString(),
    parts,
    receivedParts: parts.length,
    receivedBytes: parts.reduce((sum, part) => sum + part.size, 0),
    nextPart: nextPart(parts),
  };
}

/** The file is whole in R2: the video moves to processing (its job dispatched by its object), the token is spent. */
async function finish(env: Env, row: UploadRow, size: number, parts: number): Promise<UploadCompleted> {
  const completed = (await videoObject(env, row.videoId).uploadCompleted({ size })) as VideoResult;
  if (completed.ok) {
    await markCompleted(env.DB, row, Date.now());
    log('video_upload_completed', { videoId: row.videoId, size, parts });
    return { videoId: row.videoId, status: completed.video.status, size, parts };
  }
  if (completed.code === 'not_found') await env.MEDIA.delete(videoSourceKey(row.videoId)).catch(() => undefined); // deleted meanwhile: leave nothing
  await reopen(env.DB, row.tokenHash);
  throw videoRefusal(completed, row.videoId);
}

/** POST /uploads/{token}/complete: the parts put together into videos/{videoId}/source. */
export async function completeUpload(env: Env, token: string): Promise<UploadCompleted> {
  const now = Date.now();
  const row = await openUpload(env, token, now, { allowCompleting: true });
  if (!(await beginCompleting(env.DB, row.tokenHash, now, false))) {
    await openUpload(env, token, Date.now(), { allowCompleting: true }); // completed or expired meanwhile: that problem
    throw new ApiError(409, 'upload-completing', 'Upload completing', 'the upload changed while it was being completed; retry /complete');
  }
  const judged = judgeCompletion(await listParts(env.DB, row.videoId), row.plan);
  if (!judged.ok || !row.r2UploadId) {
    await reopen(env.DB, row.tokenHash);
    throw refused(judged.ok ? { status: 400, type: 'empty-upload', title: 'Empty upload', detail: 'no part was received' } : judged.refusal);
  }
  const key = videoSourceKey(row.videoId);
  try {
    await env.MEDIA.resumeMultipartUpload(key, row.r2UploadId).complete(judged.parts.map((part) => ({ partNumber: part.n, etag: part.etag })));
  } catch (error) {
    // A /complete cut short after R2 put the file together: the multipart is gone, the object is there.
    const stored = await env.MEDIA.head(key);
    if (!stored || stored.size !== judged.size) {
      await reopen(env.DB, row.tokenHash);
      log('video_upload_complete_failed', { videoId: row.videoId, parts: judged.parts.length, error: String(error) });
      throw new ApiError(409, 'parts-not-stored', 'Parts not stored', 'the parts listed could not be put together (a part may have been replaced at the same moment): send the parts again and retry');
    }
  }
  return finish(env, row, judged.size, judged.parts.length);
}

/** PUT /uploads/{token}: a whole file of at most MAX_ONE_SHOT_BYTES in one body, completed at once. */
export async function putWhole(env: Env, token: string, lengthHeader: string | undefined, body: ReadableStream | null): Promise<UploadCompleted> {
  const now = Date.now();
  const row = await openUpload(env, token, now, { allowCompleting: false });
  const size = declaredLength(lengthHeader, Math.min(MAX_ONE_SHOT_BYTES, row.maxBytes), 'the file');
  if (size === 0 || !body) throw refused({ status: 400, type: 'empty-upload', title: 'Empty upload', detail: 'the file has no bytes' });
  if (!(await beginCompleting(env.DB, row.tokenHash, now, true))) {
    throw new ApiError(409, 'upload-in-parts', 'Upload in parts', 'parts were already sent to this upload: send the rest as parts and POST /complete');
  }
  try {
    await ensureStarted(env, row, now);
    const stored = await env.MEDIA.put(videoSourceKey(row.videoId), body, { httpMetadata: { contentType: 'application/octet-stream' } });
    if (stored.size !== size) throw new Error(`stored ${stored.size} of ${size} bytes`);
  } catch (error) {
    await reopen(env.DB, row.tokenHash);
    if (error instanceof ApiError) throw error;
    log('video_upload_put_failed', { videoId: row.videoId, error: String(error) });
    throw new ApiError(502, 'upload-not-stored', 'Upload not stored', 'the file could not be stored; send it again');
  }
  return finish(env, row, size, 1);
}

/** Part numbers as the path gives them: digits only, else the refusal names the part. */
export function partNumberOf(text: string): number {
  if (!/^\d{1,6}$/.test(text)) throw new ApiError(400, 'invalid-part-number', 'Invalid part number', `part numbers are whole numbers from 1 (got ${JSON.stringify(text.slice(0, 20))})`, { errors: [{ field: 'n', message: 'a whole number from 1' }] });
  return Number(text);
}
