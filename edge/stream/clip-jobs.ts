// Clip jobs their origin lost (issue 11): a clip is dispatched once, when it is asked for, and stays `processing`
// until its origin reports clip_ready or clip_failed. An origin that restarted (SIGKILL, with or without its disk)
// forgot the clip and will never report it; its heartbeat, which lists the jobs it runs or has queued, says so. An
// origin that died for good says so by its silence. The StreamObject's alarm looks every few seconds while clips are
// processing and fails such a clip with a reason, so the API stops showing it as being cut and the clip can be asked
// for again. The decision is pure; the I/O is ClipJobs.
import type { Env } from '../env.ts';
import { originLiveness, type OriginHeard } from '../origin-liveness.ts';
import type { ClipRow } from '../stream-media-store.ts';
import { jobUnlisted, nextLivenessCheck } from './recording-flow.ts';
import { HEARTBEAT_TIMEOUT_MS } from '../lifecycle.ts';
import { log } from '../log.ts';

export const CLIP_JOB_LOST = 'the origin cutting the clip lost the job (it restarted); ask for the clip again';
export const CLIP_ORIGIN_SILENT = 'the origin cutting the clip went silent; ask for the clip again';

/**
 * Why a processing clip is lost, or null: its origin has not been heard for HEARTBEAT_TIMEOUT_MS (gone for good), or,
 * heard more than JOB_UNLISTED_AFTER_MS after it took the job (the row's updated_at, set when the origin accepted it),
 * no longer lists it. Nothing is concluded from an origin never heard, nor for clips cut before jobs were recorded
 * (no origin_id).
 */
export function clipJobLoss(
  clip: Pick<ClipRow, 'id' | 'status' | 'origin_id' | 'updated_at'>,
  heard: OriginHeard | null,
  now: number,
): string | null {
  if (clip.status !== 'processing' || clip.origin_id === null || heard === null) return null;
  if (now - heard.heardAt > HEARTBEAT_TIMEOUT_MS) return CLIP_ORIGIN_SILENT;
  return jobUnlisted(clip.id, clip.updated_at, heard) ? CLIP_JOB_LOST : null;
}

/** What the watch needs of its StreamObject. */
export interface ClipJobsHost {
  readonly sql: SqlStorage;
  env(): Env;
  readonly streamId: () => string | null;
  /** Runs writes in one transaction and re-arms the alarm. */
  transact(writes: () => void): void;
}

export class ClipJobs {
  constructor(private readonly host: ClipJobsHost) {}

  /** The next look at processing clips' origins (on the same grid as export jobs'), or null with none processing. */
  nextDeadline(now = Date.now()): number | null {
    const processing = this.host.sql.exec("SELECT 1 FROM clips WHERE status = 'processing' AND origin_id IS NOT NULL LIMIT 1").toArray().length > 0;
    return processing ? nextLivenessCheck(now) : null;
  }

  /** The alarm: fails the processing clips whose origin's heartbeat no longer lists them. */
  async onAlarm(now: number): Promise<void> {
    const processing = this.host.sql
      .exec<ClipRow>("SELECT * FROM clips WHERE status = 'processing' AND origin_id IS NOT NULL LIMIT 100")
      .toArray();
    if (processing.length === 0) return;
    const heard = new Map<string, OriginHeard | null>();
    for (const originId of new Set(processing.map((c) => c.origin_id!))) {
      // Unreadable liveness proves nothing (left out): the clip stays until the next look.
      const liveness = await originLiveness(this.host.env().DB, originId).catch(() => undefined);
      if (liveness !== undefined) heard.set(originId, liveness);
    }
    const lost = processing
      .map((clip) => ({ clip, reason: heard.has(clip.origin_id!) ? clipJobLoss(clip, heard.get(clip.origin_id!)!, now) : null }))
      .filter((loss): loss is { clip: ClipRow; reason: string } => loss.reason !== null);
    if (lost.length === 0) return;
    this.host.transact(() => {
      for (const { clip, reason } of lost) {
        // Only if nothing changed since it was read (a clip_ready may have landed meanwhile).
        this.host.sql.exec(
          "UPDATE clips SET status = 'failed', error = ?, updated_at = ? WHERE id = ? AND status = 'processing' AND updated_at = ?",
          reason,
          now,
          clip.id,
          clip.updated_at,
        );
      }
    });
    for (const { clip, reason } of lost) log('clip_job_lost', { streamId: this.host.streamId(), clipId: clip.id, originId: clip.origin_id, reason });
  }
}
