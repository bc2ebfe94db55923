// Origin liveness in D1: the latest heartbeat of each origin, stamped with the edge's clock, read by a StreamObject
// before it counts a silent stream's encoder lost (edge/lifecycle.ts statsOverdue); and, with it, what the origin
// announced about itself (region's ingest host, ports, HLS URL, capacity, load, draining) for the registry, and the
// jobs it runs or has queued (so a StreamObject sees a job an origin lost without waiting for its deadline).
import type { OriginLiveness } from './lifecycle.ts';
import type { OriginHeartbeat } from '../shared/schemas/origin-heartbeat.ts';
import type { Announcement } from './origin-registry.ts';

/**
 * Records one heartbeat of a known origin (the signer: `heartbeat.originId` was checked against it). Both rows are
 * written in one batch so the listing never shows an announcement without its liveness.
 */
export async function recordOriginHeartbeat(db: D1Database, heartbeat: OriginHeartbeat, heardAt: number): Promise<void> {
  const announced: Announcement = {
    ingestHost: heartbeat.ingestHost,
    ports: heartbeat.ports,
    hlsUrl: heartbeat.hlsUrl,
    controlUrl: heartbeat.originUrl,
    capacity: heartbeat.capacity,
    load: heartbeat.load,
    draining: heartbeat.draining,
  };
  await db.batch([
    db
      .prepare(
        `INSERT INTO origin_heartbeats (origin_id, heard_at, origin_url, session_ids, job_ids) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (origin_id) DO UPDATE SET heard_at = excluded.heard_at, origin_url = excluded.origin_url,
           session_ids = excluded.session_ids, job_ids = excluded.job_ids`,
      )
      .bind(
        heartbeat.originId,
        heardAt,
        heartbeat.originUrl,
        JSON.stringify(heartbeat.sessions.map((s) => s.sessionId)),
        heartbeat.jobs === undefined ? null : JSON.stringify(heartbeat.jobs),
      ),
    db.prepare('UPDATE origins SET announced = ?, announced_at = ? WHERE id = ?').bind(JSON.stringify(announced), heardAt, heartbeat.originId),
  ]);
}

/** An origin's latest heartbeat: when (edge clock), the sessions it holds, and the jobs it runs or has queued. */
export interface OriginHeard extends OriginLiveness {
  /** null: the origin does not list its jobs (it predates the list), so its beats say nothing about them */
  jobIds: readonly string[] | null;
}

/** The origin's latest heartbeat, or null if it never sent one (an origin without heartbeats counts as silent). */
export async function originLiveness(db: D1Database, originId: string): Promise<OriginHeard | null> {
  const row = await db
    .prepare('SELECT heard_at, session_ids, job_ids FROM origin_heartbeats WHERE origin_id = ?')
    .bind(originId)
    .first<{ heard_at: number; session_ids: string; job_ids: string | null }>();
  if (!row) return null;
  return {
    heardAt: row.heard_at,
    sessionIds: JSON.parse(row.session_ids) as string[],
    jobIds: row.job_ids === null ? null : (JSON.parse(row.job_ids) as string[]),
  };
}
