// Recording retention across workspaces: the scheduled sweep (wrangler.toml cron) finds recordings past their
// workspace's recordingRetentionDays in the D1 index and has each one's StreamObject clean it (media deleted, the
// recording kept as `cleaned`). Each object also cleans its own on its alarm, so `wrangler dev` needs no cron; the sweep
// catches what an object cannot know alone: a policy shortened after its recordings were made.
import type { Env } from './env.ts';
import { log } from './log.ts';

/** Recordings looked at per sweep; the rest wait for the next one (every few minutes). */
const SWEEP_LIMIT = 500;
export const DAY_MS = 86_400_000;

export interface SweepResult {
  expired: number;
  cleaned: number;
  failedStreams: number;
}

export async function sweepExpiredRecordings(env: Env, now = Date.now()): Promise<SweepResult> {
  const { results } = await env.DB.prepare(
    'SELECT id, stream_id FROM recordings WHERE cleaned = 0 AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?',
  )
    .bind(now, SWEEP_LIMIT)
    .all<{ id: string; stream_id: string }>();
  const byStream = new Map<string, string[]>();
  for (const row of results) byStream.set(row.stream_id, [...(byStream.get(row.stream_id) ?? []), row.id]);
  let cleaned = 0;
  let failedStreams = 0;
  for (const [streamId, ids] of byStream) {
    try {
      cleaned += await env.STREAMS.get(env.STREAMS.idFromName(streamId)).cleanExpiredRecordings(ids);
    } catch (error) {
      failedStreams += 1;
      log('retention_sweep_stream_failed', { streamId, recordings: ids.length, error: String(error) });
    }
  }
  const result = { expired: results.length, cleaned, failedStreams };
  if (results.length > 0) log('retention_swept', { ...result });
  return result;
}

/**
 * Sets a workspace's recording retention (null = keep forever) and moves the expiry of its recordings with it: a
 * shorter policy applies to recordings already made, a lifted one spares those not cleaned yet. False: no workspace.
 */
export async function setRecordingRetention(db: D1Database, workspaceId: string, days: number | null): Promise<boolean> {
  const [updated] = await db.batch([
    db.prepare('UPDATE workspaces SET recording_retention_days = ? WHERE id = ?').bind(days, workspaceId),
    db
      .prepare('UPDATE recordings SET expires_at = CASE WHEN ?1 IS NULL OR ended_at IS NULL THEN NULL ELSE ended_at + ?1 * ?2 END WHERE workspace_id = ?3 AND cleaned = 0')
      .bind(days, DAY_MS, workspaceId),
  ]);
  return (updated?.meta.changes ?? 0) > 0;
}
