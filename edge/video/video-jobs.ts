// A library video's processing job as its VideoObject sees it (issue 13): which origin has it, how many origins have
// taken it, and when it counts as lost. Dispatch picks the origin with the most free capacity (pickOrigin), sends the
// signed POST /control/vod-jobs with a media grant for `videos/{videoId}/`, and only that origin's events apply. A job
// not heard from (no progress) for VIDEO_JOB_TIMEOUT_SECONDS, on an origin gone silent, or on one whose heartbeat no
// longer lists it (it restarted) is handed to another origin, VIDEO_JOB_ATTEMPTS times at most; then the video fails
// with the reason. A failure the origin says may pass is run again elsewhere the same way. Busy is not failure: when the
// origins answer 429 (full) or 503 (draining), the job stays queued (the video `processing`) and is offered again on a
// backoff capped at VIDEO_BUSY_RETRY_MAX_MS, with jitter, for as long as VIDEO_QUEUE_TIMEOUT_SECONDS (default 24 h);
// only real failures (no origin at all, a refusal that is not "busy", no answer) count toward the dispatch passes.
// Decisions are pure; the I/O sits in VideoJobRunner, its one-row table lives in the object's SQLite and commits with
// the video's state.
import type { VodJobCommand } from '../../shared/schemas/internal.ts';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { sendOriginCommand } from '../origin-commands.ts';
import { originLiveness, type OriginHeard } from '../origin-liveness.ts';
import { listOrigins, pickOrigin } from '../origin-registry.ts';
import { jobOriginSilent, jobUnlisted, secondsSetting } from '../stream/recording-flow.ts';
import { log } from '../log.ts';
import { videoPrefix, type VideoDocument } from './video-document.ts';
import type { VideoJobEvent, VideoJobHost, VideoJobKind, VideoJobs } from './video-job-hooks.ts';

/** A job unheard this long is lost (VIDEO_JOB_TIMEOUT_SECONDS). */
export const VIDEO_JOB_TIMEOUT_MS = 300_000;
/** Origins that may take one video's job before it fails (the first and two re-dispatches). */
export const VIDEO_JOB_ATTEMPTS = 3;
/**
 * Dispatch passes in a row that found no origin to take the job for a real reason (none healthy at all, refusals that
 * are not "busy", no answer) before the video fails. A pass where an origin was busy ends the row.
 */
export const VIDEO_DISPATCH_PASSES = 8;
/** A job waits for busy origins this long at most (VIDEO_QUEUE_TIMEOUT_SECONDS), then the video fails. */
export const VIDEO_QUEUE_TIMEOUT_MS = 24 * 3600_000;
/** After a pass where every origin was busy: offered again after this, doubling per busy pass, up to the cap. */
export const VIDEO_BUSY_RETRY_MS = 5_000;
/** The cap, so a queued video starts within a minute of an origin freeing up (jitter only shortens it). */
export const VIDEO_BUSY_RETRY_MAX_MS = 45_000;
/** Origins asked in one dispatch pass (the next best after a 429/503 or no answer). */
const ORIGINS_PER_PASS = 3;
/** While a job runs, its origin's heartbeat is looked at on this grid (a silent or restarted origin loses it sooner). */
export const VIDEO_LIVENESS_CHECK_MS = 10_000;
/** A job's grant lasts this long: an import may take hours (VIDEO_IMPORT_TIMEOUT_SECONDS default 6 h), then the encode. */
const VIDEO_GRANT_TTL_MS = 24 * 3600_000;

export const NOT_JOB_ORIGIN = 'not-job-origin';
export const NO_ORIGIN_FOR_VIDEO = 'no origin took the video job';
export const ORIGINS_STAYED_BUSY = 'every origin stayed busy for';

export type VideoJobStatus = 'queued' | 'running' | 'over';

// A type alias (not an interface) so it fits SqlStorage's row constraint.
export type VideoJobRow = {
  kind: VideoJobKind;
  status: VideoJobStatus;
  origin_id: string | null;
  /** origins that took the job so far */
  attempts: number;
  /** dispatch passes in a row that found no origin */
  passes: number;
  dispatched_at: number | null;
  /** edge clock: the job is lost if not heard from by then */
  deadline: number | null;
  /** why the last origin lost the job, for the video's error once attempts run out */
  last_reason: string | null;
  /** JSON array: origins not to hand the job to again (went silent, or said it may pass) */
  exclude: string;
  /** edge clock: since when the job waits for an origin (null while one has it), for VIDEO_QUEUE_TIMEOUT_SECONDS */
  queued_since: number | null;
  /** dispatch passes in a row where the origins were busy (429/503), for the backoff */
  busy_passes: number;
  /** edge clock: when a job queued behind busy origins is offered again (the object's alarm) */
  retry_at: number | null;
};

/** Columns added after the table first shipped (objects created before get them on construction). */
const LATER_COLUMNS: Record<string, string> = { queued_since: 'INTEGER', busy_passes: 'INTEGER NOT NULL DEFAULT 0', retry_at: 'INTEGER' };
const COLUMNS = 'kind, status, origin_id, attempts, passes, dispatched_at, deadline, last_reason, exclude, queued_since, busy_passes, retry_at';

// ── pure decisions ──────────────────────────────────────────────────────────────────────────────────

export type JobLoss = 'origin-silent' | 'origin-dropped-job' | 'deadline';

/** Whether the running job is lost at `now`, given its origin's latest heartbeat (undefined: unreadable, proves nothing). */
export function videoJobLoss(row: VideoJobRow, heard: OriginHeard | null | undefined, now: number, videoId: string): JobLoss | null {
  if (row.status !== 'running') return null;
  if (row.origin_id !== null && heard !== undefined) {
    if (jobOriginSilent(heard, now)) return 'origin-silent';
    if (jobUnlisted(videoId, row.dispatched_at, heard)) return 'origin-dropped-job';
  }
  return row.deadline !== null && row.deadline <= now ? 'deadline' : null;
}

export const LOSS_REASON: Record<JobLoss, string> = {
  'origin-silent': 'the origin processing it went silent',
  'origin-dropped-job': 'the origin processing it restarted and lost the job',
  deadline: 'the origin processing it reported no progress in time',
};

/** What a lost (or transiently failed) job becomes: queued for another origin, or the video's failure with the reason. */
export function afterLoss(row: VideoJobRow, reason: string, excludeOrigin: boolean): { next: Partial<VideoJobRow>; fail: string | null } {
  const exclude = new Set(JSON.parse(row.exclude) as string[]);
  if (excludeOrigin && row.origin_id) exclude.add(row.origin_id);
  if (row.attempts >= VIDEO_JOB_ATTEMPTS) {
    return { next: { status: 'over', deadline: null, last_reason: reason }, fail: `processing failed after ${row.attempts} attempts: ${reason}` };
  }
  return {
    next: { status: 'queued', origin_id: null, deadline: null, dispatched_at: null, last_reason: reason, exclude: JSON.stringify([...exclude]), queued_since: null, busy_passes: 0, retry_at: null },
    fail: null,
  };
}

/** An origin's answer to the command: taken (2xx), busy for now (429 full, 503 draining), or refused (anything else, none). */
export function answerKind(status: number): 'taken' | 'busy' | 'refused' {
  if (status >= 200 && status < 300) return 'taken';
  return status === 429 || status === 503 ? 'busy' : 'refused';
}

/**
 * How long a job every origin was busy for waits before it is offered again: 5 s doubling per busy pass in a row,
 * at least what the origins' Retry-After asked (the soonest), never above the cap; jitter (`random` in [0, 1)) takes
 * up to a fifth off so queued videos do not all ask at once.
 */
export function busyRetryDelay(busyPasses: number, retryAfterSeconds: number | null, random: number): number {
  const backoff = Math.min(VIDEO_BUSY_RETRY_MAX_MS, VIDEO_BUSY_RETRY_MS * 2 ** Math.min(busyPasses, 20));
  const asked = retryAfterSeconds === null ? 0 : Math.min(VIDEO_BUSY_RETRY_MAX_MS, retryAfterSeconds * 1000);
  return Math.round(Math.max(backoff, asked) * (1 - 0.2 * Math.min(Math.max(random, 0), 1)));
}

/** Whether the job has waited for an origin longer than the queue bound. */
export const queueTimedOut = (row: VideoJobRow, now: number, timeoutMs: number): boolean => row.queued_since !== null && now - row.queued_since >= timeoutMs;

/** The video's error when the queue bound passed. */
export function queueTimeoutReason(timeoutMs: number): string {
  const s = Math.round(timeoutMs / 1000);
  const span = s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return `${NO_ORIGIN_FOR_VIDEO}: ${ORIGINS_STAYED_BUSY} ${span} (VIDEO_QUEUE_TIMEOUT_SECONDS)`;
}

/** The next look at the running job's origin: the next point of the grid after now. */
export const nextVideoLivenessCheck = (now: number): number => Math.floor(now / VIDEO_LIVENESS_CHECK_MS) * VIDEO_LIVENESS_CHECK_MS + VIDEO_LIVENESS_CHECK_MS;

// ── the shell ───────────────────────────────────────────────────────────────────────────────────────

const FRESH_JOB: VideoJobRow = {
  kind: 'process', status: 'queued', origin_id: null, attempts: 0, passes: 0, dispatched_at: null, deadline: null, last_reason: null, exclude: '[]',
  queued_since: null, busy_passes: 0, retry_at: null,
};

export class VideoJobRunner implements VideoJobs {
  constructor(private readonly host: VideoJobHost) {
    host.sql.exec(`CREATE TABLE IF NOT EXISTS video_job (
      id INTEGER PRIMARY KEY CHECK (id = 1), kind TEXT NOT NULL, status TEXT NOT NULL, origin_id TEXT, attempts INTEGER NOT NULL,
      passes INTEGER NOT NULL, dispatched_at INTEGER, deadline INTEGER, last_reason TEXT, exclude TEXT NOT NULL)`);
    const present = new Set(host.sql.exec('SELECT * FROM video_job LIMIT 0').columnNames);
    for (const [name, type] of Object.entries(LATER_COLUMNS)) {
      if (!present.has(name)) host.sql.exec(`ALTER TABLE video_job ADD COLUMN ${name} ${type}`);
    }
  }

  private get timeoutMs(): number {
    return secondsSetting(this.host.env().VIDEO_JOB_TIMEOUT_SECONDS, VIDEO_JOB_TIMEOUT_MS);
  }

  private get queueTimeoutMs(): number {
    return secondsSetting(this.host.env().VIDEO_QUEUE_TIMEOUT_SECONDS, VIDEO_QUEUE_TIMEOUT_MS);
  }

  row(): VideoJobRow | null {
    return this.host.sql.exec<VideoJobRow>(`SELECT ${COLUMNS} FROM video_job WHERE id = 1`).toArray()[0] ?? null;
  }

  private write(set: Partial<VideoJobRow>): void {
    const current = this.row();
    const next: VideoJobRow = { ...FRESH_JOB, ...current, ...set };
    this.host.sql.exec(
      `INSERT INTO video_job (id, ${COLUMNS}) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, status = excluded.status, origin_id = excluded.origin_id, attempts = excluded.attempts,
         passes = excluded.passes, dispatched_at = excluded.dispatched_at, deadline = excluded.deadline, last_reason = excluded.last_reason, exclude = excluded.exclude,
         queued_since = excluded.queued_since, busy_passes = excluded.busy_passes, retry_at = excluded.retry_at`,
      next.kind, next.status, next.origin_id, next.attempts, next.passes, next.dispatched_at, next.deadline, next.last_reason, next.exclude,
      next.queued_since, next.busy_passes, next.retry_at,
    );
  }

  /** Fails the video (attempts, dispatch passes or the queue bound ran out), in one transaction with the job's end. */
  private fail(reason: string, videoId: string): void {
    this.host.transact(() => {
      this.write({ status: 'over', deadline: null, retry_at: null });
      this.host.apply({ type: 'failed', at: Date.now(), reason });
    });
    log('video_job_failed', { videoId, reason });
  }

  async dispatch(doc: VideoDocument, kind: VideoJobKind): Promise<boolean> {
    let row = this.row();
    if (!row || row.status === 'over' || row.kind !== kind) {
      // The first dispatch of this job (or the video moved on to another kind): a fresh count.
      this.host.transact(() => this.write({ ...FRESH_JOB, kind, queued_since: Date.now() }));
      row = this.row()!;
    }
    if (row.status === 'running') return true; // taken already (this effect ran again after a crash)
    if (row.attempts >= VIDEO_JOB_ATTEMPTS) {
      this.fail(`processing failed after ${row.attempts} attempts: ${row.last_reason ?? 'the job was lost'}`, doc.videoId);
      return true;
    }
    if (row.queued_since === null) {
      // Queued again after a loss: the wait for an origin counts from now.
      this.host.transact(() => this.write({ queued_since: Date.now() }));
      row = this.row()!;
    }
    if (queueTimedOut(row, Date.now(), this.queueTimeoutMs)) {
      this.fail(queueTimeoutReason(this.queueTimeoutMs), doc.videoId);
      return true;
    }
    const env = this.host.env();
    const tried: string[] = [];
    const refusals: string[] = [];
    /** The busy origins' Retry-After (s), the soonest, when they said. */
    let busyRetryAfter: number | null = null;
    let busy = 0;
    for (let i = 0; i < ORIGINS_PER_PASS; i++) {
      // Origins excluded for this job are asked only when no other one can take it.
      const excluded = JSON.parse(row.exclude) as string[];
      const target = (await pickOrigin(env, { exclude: [...excluded, ...tried] }).catch(() => null)) ?? (await pickOrigin(env, { exclude: tried }).catch(() => null));
      if (!target) break;
      tried.push(target.originId);
      const attempt = row.attempts + 1;
      const command: VodJobCommand = {
        videoId: doc.videoId,
        workspaceId: doc.workspaceId,
        kind,
        ...(kind === 'import' && doc.sourceUrl ? { sourceUrl: doc.sourceUrl } : {}),
        grant: await issueMediaGrant(env.ORIGIN_SECRET, { originId: target.originId, prefixes: [videoPrefix(doc.videoId)], expiresAt: Date.now() + VIDEO_GRANT_TTL_MS }),
        attempt,
      };
      const answer = await sendOriginCommand(env, target.originId, target.controlUrl, '/control/vod-jobs', command).catch((error: unknown) => ({ status: 0, retryAfterSeconds: null, error: String(error) }));
      log('video_job_dispatched', { videoId: doc.videoId, kind, originId: target.originId, attempt, status: answer.status });
      const kindOfAnswer = answerKind(answer.status);
      if (kindOfAnswer !== 'taken') {
        refusals.push(`${target.originId} answered ${answer.status || 'nothing'}`);
        if (kindOfAnswer === 'busy') {
          busy += 1;
          if (answer.retryAfterSeconds !== null) busyRetryAfter = Math.min(busyRetryAfter ?? Number.POSITIVE_INFINITY, answer.retryAfterSeconds);
        }
        continue;
      }
      let taken = false;
      this.host.transact(() => {
        const fresh = this.row();
        const live = this.host.load();
        if (!fresh || fresh.status !== 'queued' || !live || live.deleted) return;
        const now = Date.now();
        this.write({ status: 'running', origin_id: target.originId, attempts: attempt, passes: 0, dispatched_at: now, deadline: now + this.timeoutMs, queued_since: null, busy_passes: 0, retry_at: null });
        taken = true;
      });
      if (!taken) log('video_job_dispatch_moot', { videoId: doc.videoId, originId: target.originId });
      return true;
    }
    // Nobody took it this pass. An origin that is only draining (not picked, so not asked) is busy as well.
    if (busy === 0 && tried.length === 0) {
      const known = await listOrigins(env.DB, Date.now()).catch(() => []);
      busy = known.filter((o) => o.health === 'healthy' && o.draining).length;
    }
    if (busy > 0) {
      // Busy is not failure: the job waits its turn (the video stays processing), offered again by the object's alarm.
      const delay = busyRetryDelay(row.busy_passes, busyRetryAfter, Math.random());
      const busyPasses = row.busy_passes + 1;
      this.host.transact(() => {
        const fresh = this.row();
        if (fresh?.status === 'queued' && fresh.kind === kind) this.write({ passes: 0, busy_passes: busyPasses, retry_at: Date.now() + delay });
      });
      log('video_job_queued', { videoId: doc.videoId, kind, busyPasses, retryInMs: delay, waitedMs: Date.now() - row.queued_since!, refusals });
      return true;
    }
    // A real failure: the object's effect retry runs the next pass with backoff, a bounded number of times.
    const passes = row.passes + 1;
    if (passes >= VIDEO_DISPATCH_PASSES) {
      this.fail(`${NO_ORIGIN_FOR_VIDEO}${refusals.length ? ` (${refusals.join('; ')})` : ' (no healthy origin with room)'}`, doc.videoId);
      return true;
    }
    this.host.transact(() => this.write({ passes }));
    log('video_job_undispatched', { videoId: doc.videoId, kind, passes, refusals });
    return false;
  }

  refuseSigner(_event: VideoJobEvent, signer: string | undefined): string | null {
    if (signer === undefined) return null;
    const row = this.row();
    if (!row || row.status !== 'running' || row.origin_id !== signer) return NOT_JOB_ORIGIN;
    return null;
  }

  heard(_event: VideoJobEvent, at: number): void {
    const row = this.row();
    if (row?.status === 'running') this.write({ deadline: at + this.timeoutMs });
  }

  retryAfterFailure(doc: VideoDocument, reason: string, _at: number): boolean {
    const row = this.row();
    if (!row || row.status !== 'running') return false;
    const { next, fail } = afterLoss(row, reason, true);
    if (fail !== null) {
      this.write(next);
      return false;
    }
    this.write(next);
    this.host.redispatch(row.kind);
    log('video_job_retried', { videoId: doc.videoId, originId: row.origin_id, attempts: row.attempts, reason: reason.slice(0, 200) });
    return true;
  }

  over(): void {
    if (this.row()) this.write({ status: 'over', deadline: null, retry_at: null });
  }

  nextDeadline(): number | null {
    const row = this.row();
    if (row?.status === 'queued') return row.retry_at; // waiting behind busy origins
    if (row?.status !== 'running') return null;
    return Math.min(row.deadline ?? Number.POSITIVE_INFINITY, nextVideoLivenessCheck(Date.now()));
  }

  async onAlarm(at: number): Promise<void> {
    const before = this.row();
    if (before?.status === 'queued' && before.retry_at !== null && before.retry_at <= at) {
      // Its turn to ask the busy origins again: the dispatch is owed anew (run by the object's settle after the alarm).
      this.host.transact(() => {
        const row = this.row();
        const doc = this.host.load();
        if (row?.status !== 'queued' || row.retry_at === null || row.retry_at > at || !doc || doc.deleted) return;
        this.write({ retry_at: null });
        this.host.redispatch(row.kind);
      });
      return;
    }
    if (before?.status !== 'running' || before.origin_id === null) return;
    // Read before the transaction; an unreadable heartbeat proves nothing (the deadline still counts).
    const heard = await originLiveness(this.host.env().DB, before.origin_id).catch(() => undefined);
    this.host.transact(() => {
      const row = this.row();
      const doc = this.host.load();
      if (!row || !doc || doc.deleted || row.origin_id !== before.origin_id) return;
      const loss = videoJobLoss(row, heard, at, doc.videoId);
      if (loss === null) return;
      const reason = LOSS_REASON[loss];
      // A silent or slow origin is not asked again; one that restarted and forgot the job may well take it again.
      const { next, fail } = afterLoss(row, reason, loss !== 'origin-dropped-job');
      this.write(next);
      if (fail !== null) this.host.apply({ type: 'failed', at, reason: fail });
      else this.host.redispatch(row.kind);
      log('video_job_lost', { videoId: doc.videoId, originId: row.origin_id, attempts: row.attempts, cause: loss, next: fail === null ? 'redispatch' : 'failed' });
    });
  }
}
