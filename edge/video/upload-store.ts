// The D1 rows of one-time upload URLs (migration 0013): found by the token's SHA-256 only, each holding the one video it
// may write. Every change of state is one conditional statement, so concurrent part PUTs and a /complete cannot both win.
import type { ReceivedPart, UploadPlan } from './upload-plan.ts';

export type UploadState = 'open' | 'completing' | 'completed';

export interface UploadRow {
  tokenHash: string;
  videoId: string;
  workspaceId: string;
  plan: UploadPlan;
  maxBytes: number;
  expiresAt: number;
  state: UploadState;
  r2UploadId: string | null;
  startedAt: string | null;
}

interface RawRow {
  token_hash: string;
  video_id: string;
  workspace_id: string;
  part_size: number;
  max_parts: number;
  max_bytes: number;
  expires_at: number;
  state: UploadState;
  r2_upload_id: string | null;
  started_at: string | null;
}

const rowOf = (raw: RawRow): UploadRow => ({
  tokenHash: raw.token_hash,
  videoId: raw.video_id,
  workspaceId: raw.workspace_id,
  plan: { partSize: raw.part_size, maxParts: raw.max_parts },
  maxBytes: raw.max_bytes,
  expiresAt: raw.expires_at,
  state: raw.state,
  r2UploadId: raw.r2_upload_id,
  startedAt: raw.started_at,
});

export async function insertUpload(db: D1Database, row: Omit<UploadRow, 'state' | 'r2UploadId' | 'startedAt'>, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO video_uploads (token_hash, video_id, workspace_id, part_size, max_parts, max_bytes, expires_at, state, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
    )
    .bind(row.tokenHash, row.videoId, row.workspaceId, row.plan.partSize, row.plan.maxParts, row.maxBytes, row.expiresAt, new Date(now).toISOString())
    .run();
}

export async function findUpload(db: D1Database, tokenHash: string): Promise<UploadRow | null> {
  const raw = await db.prepare('SELECT * FROM video_uploads WHERE token_hash = ?').bind(tokenHash).first<RawRow>();
  return raw ? rowOf(raw) : null;
}

/** The upload of a video (one per video), for its object's expiry deadline. */
export async function findUploadOfVideo(db: D1Database, videoId: string): Promise<UploadRow | null> {
  const raw = await db.prepare('SELECT * FROM video_uploads WHERE video_id = ?').bind(videoId).first<RawRow>();
  return raw ? rowOf(raw) : null;
}

export async function listParts(db: D1Database, videoId: string): Promise<ReceivedPart[]> {
  const { results } = await db.prepare('SELECT n, size, etag FROM video_upload_parts WHERE video_id = ? ORDER BY n').bind(videoId).all<ReceivedPart>();
  return results;
}

/** Records the R2 multipart upload unless a concurrent first part did first; the one that counts is returned. */
export async function claimMultipart(db: D1Database, tokenHash: string, uploadId: string): Promise<string | null> {
  const claimed = await db
    .prepare('UPDATE video_uploads SET r2_upload_id = ? WHERE token_hash = ? AND r2_upload_id IS NULL RETURNING r2_upload_id')
    .bind(uploadId, tokenHash)
    .first<{ r2_upload_id: string }>();
  if (claimed) return claimed.r2_upload_id;
  return (await db.prepare('SELECT r2_upload_id FROM video_uploads WHERE token_hash = ?').bind(tokenHash).first<{ r2_upload_id: string | null }>())?.r2_upload_id ?? null;
}

export async function markStarted(db: D1Database, tokenHash: string, now: number): Promise<void> {
  await db.prepare('UPDATE video_uploads SET started_at = ? WHERE token_hash = ? AND started_at IS NULL').bind(new Date(now).toISOString(), tokenHash).run();
}

/**
 * Stores (or replaces) a part's record, only while the upload is still open: a part that lands after /complete began is
 * refused (false) rather than silently left out of the file.
 */
export async function recordPart(db: D1Database, videoId: string, part: ReceivedPart, now: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO video_upload_parts (video_id, n, size, etag, received_at)
       SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM video_uploads WHERE video_id = ? AND state = 'open')
       ON CONFLICT (video_id, n) DO UPDATE SET size = excluded.size, etag = excluded.etag, received_at = excluded.received_at`,
    )
    .bind(videoId, part.n, part.size, part.etag, new Date(now).toISOString(), videoId)
    .run();
  return result.meta.changes > 0;
}

/**
 * open → completing for /complete (also taken again from completing, so a /complete cut short can be retried);
 * `oneShot` additionally needs no part and no multipart upload yet. False when the upload is not in such a state.
 */
export async function beginCompleting(db: D1Database, tokenHash: string, now: number, oneShot: boolean): Promise<boolean> {
  const sql = oneShot
    ? `UPDATE video_uploads SET state = 'completing' WHERE token_hash = ? AND state = 'open' AND expires_at > ? AND r2_upload_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM video_upload_parts WHERE video_upload_parts.video_id = video_uploads.video_id)`
    : `UPDATE video_uploads SET state = 'completing' WHERE token_hash = ? AND state IN ('open', 'completing') AND expires_at > ?`;
  const result = await db.prepare(sql).bind(tokenHash, now).run();
  return result.meta.changes > 0;
}

/** completing → open: the file could not be put together (a part missing or of the wrong size); the client may fix it. */
export async function reopen(db: D1Database, tokenHash: string): Promise<void> {
  await db.prepare(`UPDATE video_uploads SET state = 'open' WHERE token_hash = ? AND state = 'completing'`).bind(tokenHash).run();
}

/** The token is spent: every later use is refused. The part records go (the R2 object holds the bytes now). */
export async function markCompleted(db: D1Database, row: UploadRow, now: number): Promise<void> {
  await db.batch([
    db.prepare(`UPDATE video_uploads SET state = 'completed', completed_at = ? WHERE token_hash = ?`).bind(new Date(now).toISOString(), row.tokenHash),
    db.prepare('DELETE FROM video_upload_parts WHERE video_id = ?').bind(row.videoId),
  ]);
}

/**
 * An expired upload lets go of what it held: its part records (the caller aborts the R2 multipart upload first). Its
 * expiry is brought forward to `now` at the latest, so the token is refused as expired from here on whatever the clocks.
 */
export async function forgetExpired(db: D1Database, row: UploadRow, now: number): Promise<void> {
  await db.batch([
    db
      .prepare(`UPDATE video_uploads SET r2_upload_id = NULL, expires_at = MIN(expires_at, ?) WHERE token_hash = ? AND state != 'completed'`)
      .bind(now, row.tokenHash),
    db.prepare('DELETE FROM video_upload_parts WHERE video_id = ?').bind(row.videoId),
  ]);
}
