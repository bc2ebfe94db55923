// A recording's way from STOPPED to watchable, then exportable (issue 11): the StreamObject's recording region.
// Watchable = its VOD HLS plays from the session's durable media in R2 (the origin makes it final, or the edge stops
// waiting for a dead one); the MP4 export then runs as a job on the holding origin if healthy, else any origin with
// capacity, and only that origin may report on it. The decisions are pure functions; the I/O sits in RecordingFlow.
import type { Env } from '../env.ts';
import type { LifecycleInput, OriginLiveness } from '../lifecycle.ts';
import { HEARTBEAT_TIMEOUT_MS } from '../lifecycle.ts';
import type { StreamDocument } from '../live-stream-view.ts';
import type { ExportRecordingCommand, FinalizeCommand, OriginEvent, OriginEventOutcome } from '../../shared/schemas/internal.ts';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { sendOriginCommand } from '../origin-commands.ts';
import { originLiveness, type OriginHeard } from '../origin-liveness.ts';
import { pickOrigin } from '../origin-registry.ts';
import { deleteR2Prefix } from '../media-storage.ts';
import { legacyRecordingKeyPrefix, recordingKeyPrefix, recordingView, sessionMediaPrefix, type RecordingRow, type SessionRow } from '../stream-media-store.ts';
import { log } from '../log.ts';
import { libraryRowStatement } from '../video/library-rows.ts';

/** An export job not heard from (no progress) for this long is lost: handed out again. RECORDING_FINALIZE_TIMEOUT_SECONDS. */
export const EXPORT_JOB_TIMEOUT_MS = 15 * 60_000;
/**
 * While an export runs, the alarm looks at its origin's heartbeat this often (on a fixed grid, so re-arming the alarm
 * does not push the look back): a job on an origin silent for longer than HEARTBEAT_TIMEOUT_MS is handed out again.
 */
export const EXPORT_LIVENESS_CHECK_MS = 5_000;
/**
 * A job's origin heard (edge clock) this long after the dispatch without listing the job in its heartbeat has lost it
 * (it restarted, with or without its disk): the job is handed out again. Longer than a beat's own deadline, so the beat
 * was built after the origin took the job, which it lists from the moment it answers the command.
 */
export const JOB_UNLISTED_AFTER_MS = 10_000;
/** Export jobs handed out per recording before its export counts as failed (each one lost, not refused). */
export const EXPORT_JOBS_MAX = 3;
/** Dispatch attempts (no origin, 429, 5xx) before the export counts as failed; 5 s doubling to 5 min ≈ 10 min. */
export const EXPORT_DISPATCH_ATTEMPTS = 8;
/** A job's media grant lasts this long: an hour of broadcast exports in minutes, so this is ample. */
const EXPORT_GRANT_TTL_MS = 6 * 3600_000;
/** Session media no recording needs is kept this long after the session ended. SESSION_MEDIA_GRACE_SECONDS. */
export const SESSION_MEDIA_GRACE_MS = 24 * 3600_000;
/** Recordings the alarm cleans per pass (the rest on the next pass). */
const CLEAN_BATCH = 20;

export const NO_MEDIA_STORED = 'no media of the session reached storage';
export const NO_ORIGIN_FOR_EXPORT = 'no origin took the export job';
export const EXPORT_TIMED_OUT = 'export timed out: the origin building it went silent';

/** The refusal reason of an event from an origin that does not hold the session or job (CONTRACT.md). */
export const NOT_HOLDER = 'not-session-holder';

// ── pure decisions ──────────────────────────────────────────────────────────────────────────────────

export type JobEvent = Extract<OriginEvent, { type: 'recording_progress' | 'recording_ready' | 'recording_failed' }>;

/** What a job event does to the recording's export: the columns to set, or why it is refused. */
export type JobEventVerdict =
  | { ok: true; set: Partial<RecordingRow> }
  | { ok: true; set: null }
  | { ok: false; reason: string };

/**
 * A job event is the assigned origin's word on its export: from anyone else it is refused, and after the export settled
 * it changes nothing (a late progress report). An export not handed to anyone yet (queued) belongs to the session's
 * holder, which dispatch prefers anyway. `signer` is the origin that signed the batch, `holder` the session's.
 */
export function judgeJobEvent(
  row: RecordingRow,
  event: JobEvent,
  signer: string | undefined,
  holder: string,
  now: number,
  jobTimeoutMs: number,
): JobEventVerdict {
  const unassigned = row.export_status === 'queued' && (signer === undefined || signer === holder);
  if (row.export_status !== 'running' && !unassigned) {
    if (row.export_status === 'queued') return { ok: false, reason: NOT_HOLDER };
    return event.type === 'recording_progress' || row.export_status === 'ready' ? { ok: true, set: null } : { ok: false, reason: 'no export job of this recording is running' };
  }
  if (signer !== undefined && !unassigned && row.export_origin !== signer) return { ok: false, reason: NOT_HOLDER };
  const taken: Partial<RecordingRow> = unassigned ? { export_origin: holder, export_jobs: row.export_jobs + 1, export_dispatched_at: now } : {};
  switch (event.type) {
    case 'recording_progress':
      return {
        ok: true,
        set: { ...taken, export_status: 'running', export_progress: Math.max(row.export_progress ?? 0, event.data.progress), export_deadline: now + jobTimeoutMs },
      };
    case 'recording_ready':
      return {
        ok: true,
        set: { ...taken, export_status: 'ready', artifacts: JSON.stringify(event.data), export_progress: 1, export_deadline: null, export_error: null },
      };
    case 'recording_failed':
      return { ok: true, set: { ...taken, export_status: 'failed', export_error: event.data.reason, export_deadline: null } };
  }
}

/** A running job whose deadline passed: hand it out again, or give up after EXPORT_JOBS_MAX jobs. */
export function lostJobOutcome(row: RecordingRow): Partial<RecordingRow> {
  return row.export_jobs >= EXPORT_JOBS_MAX
    ? { export_status: 'failed', export_error: EXPORT_TIMED_OUT, export_deadline: null }
    : { export_status: 'queued', export_origin: null, export_deadline: null, export_dispatched_at: null };
}

/**
 * A running job's origin is gone when the edge has not heard it (its heartbeat, edge clock) for longer than an origin
 * counts as healthy: the same rule as for a session's origin. Its job is then lost at once, not at its silence deadline.
 */
export const jobOriginSilent = (heard: OriginLiveness | null, now: number): boolean => heard === null || now - heard.heardAt > HEARTBEAT_TIMEOUT_MS;

/**
 * Whether the origin a job (export or clip) was handed to at `dispatchedAt` (edge clock) has since dropped it: heard
 * more than JOB_UNLISTED_AFTER_MS after the dispatch, in a beat that lists its jobs and not this one. Nothing is
 * concluded from an origin that does not list jobs, nor for a job whose dispatch time is unknown.
 */
export function jobUnlisted(jobId: string, dispatchedAt: number | null, heard: OriginHeard | null): boolean {
  return heard !== null && heard.jobIds !== null && dispatchedAt !== null && heard.heardAt > dispatchedAt + JOB_UNLISTED_AFTER_MS && !heard.jobIds.includes(jobId);
}

/** Why a running job is lost now: its origin went silent, its origin is heard without it, or its deadline passed. */
export type JobLoss = 'origin-silent' | 'origin-dropped-job' | 'deadline';

/**
 * Whether a running export job is lost at `now`, given its origin's latest heartbeat (undefined: unreadable, which proves
 * nothing). A beat that does not list the job counts only if the origin lists jobs at all and was heard more than
 * JOB_UNLISTED_AFTER_MS after the dispatch — the origin that came back at once after a crash forgot the job.
 */
export function runningJobLoss(row: RecordingRow, heard: OriginHeard | null | undefined, now: number): JobLoss | null {
  if (row.export_origin !== null && heard !== undefined) {
    if (jobOriginSilent(heard, now)) return 'origin-silent';
    if (jobUnlisted(row.id, row.export_dispatched_at, heard)) return 'origin-dropped-job';
  }
  return row.export_deadline !== null && row.export_deadline <= now ? 'deadline' : null;
}

/** The next look at running jobs' origins: the next point of the check grid after now. */
export const nextLivenessCheck = (now: number): number => Math.floor(now / EXPORT_LIVENESS_CHECK_MS) * EXPORT_LIVENESS_CHECK_MS + EXPORT_LIVENESS_CHECK_MS;

/** When a session's media may go, once no recording needs it: the grace after its end, and never before now. */
export const sessionMediaDeleteAt = (endedAt: number | null, now: number, graceMs: number): number => Math.max(now, (endedAt ?? now) + graceMs);

export function secondsSetting(value: string | undefined, fallbackMs: number): number {
  const seconds = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : fallbackMs;
}

// ── the shell ───────────────────────────────────────────────────────────────────────────────────────

/** The owed effects of the recording flow (rows of the StreamObject's pending_effects). */
export type RecordingEffect =
  | { kind: 'recording_finalize'; recordingId: string }
  | { kind: 'recording_settle'; recordingId: string }
  /** `exclude`: origins not to hand the job to (one whose job was lost because it went silent). */
  | { kind: 'recording_export'; recordingId: string; exclude?: string[] };

/** What the flow needs of its StreamObject. */
export interface RecordingHost {
  readonly sql: SqlStorage;
  /** The object's bindings now (a test may swap them). */
  env(): Env;
  readonly streamId: () => string | null;
  load(): StreamDocument | null;
  /** A lifecycle input with writes of ours in the same transaction (the alarm re-armed with it). */
  commit(doc: StreamDocument, input: LifecycleInput, also: () => void): void;
  /** Runs writes in one transaction and re-arms the alarm. */
  transact(writes: () => void): void;
  owe(effect: RecordingEffect | { kind: 'recording_index'; recordingId: string }): void;
}

export class RecordingFlow {
  constructor(private readonly host: RecordingHost) {}

  private get sql() {
    return this.host.sql;
  }

  private get env(): Env {
    return this.host.env();
  }

  private row(recordingId: string): RecordingRow | undefined {
    return this.sql.exec<RecordingRow>('SELECT * FROM recordings WHERE id = ?', recordingId).toArray()[0];
  }

  private session(sessionId: string): SessionRow | undefined {
    return this.sql.exec<SessionRow>('SELECT * FROM sessions WHERE id = ?', sessionId).toArray()[0];
  }

  /** Sets columns of a recording (inside the caller's transaction), with updated_at. */
  private update(recordingId: string, set: Partial<RecordingRow>, now = Date.now()): void {
    const entries = Object.entries({ ...set, updated_at: now });
    this.sql.exec(`UPDATE recordings SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, ...entries.map(([, v]) => v ?? null), recordingId);
  }

  private get jobTimeoutMs(): number {
    return secondsSetting(this.env.RECORDING_FINALIZE_TIMEOUT_SECONDS, EXPORT_JOB_TIMEOUT_MS);
  }

  private get graceMs(): number {
    return secondsSetting(this.env.SESSION_MEDIA_GRACE_SECONDS, SESSION_MEDIA_GRACE_MS);
  }

  // ── inside a commit (synchronous) ───────────────────────────────────────────────────────────────

  /** The lifecycle asked the holding origin to make the session's media final. */
  finalizeOwed(sessionId: string): void {
    const row = this.sql.exec<RecordingRow>('SELECT * FROM recordings WHERE session_id = ?', sessionId).toArray()[0];
    if (row) this.host.owe({ kind: 'recording_finalize', recordingId: row.id });
  }

  /** The lifecycle stopped waiting for the origin: the recording is what R2 holds. */
  settleOwed(sessionId: string): void {
    const row = this.sql.exec<RecordingRow>('SELECT * FROM recordings WHERE session_id = ?', sessionId).toArray()[0];
    if (row?.status === 'processing') this.host.owe({ kind: 'recording_settle', recordingId: row.id });
  }

  /** A session ended: with no recording to need it, its durable media goes after the grace. */
  sessionEnded(sessionId: string, endedAt: number): void {
    const recorded = this.sql.exec('SELECT 1 FROM recordings WHERE session_id = ?', sessionId).toArray().length > 0;
    if (!recorded) this.scheduleMediaDeletion(this.sessionPrefix(sessionId), sessionMediaDeleteAt(endedAt, Date.now(), this.graceMs));
  }

  private sessionPrefix(sessionId: string): string {
    return `${sessionMediaPrefix(this.host.streamId() ?? '', sessionId)}/`;
  }

  scheduleMediaDeletion(prefix: string, at: number): void {
    this.sql.exec(
      'INSERT INTO media_retention (prefix, delete_at) VALUES (?, ?) ON CONFLICT (prefix) DO UPDATE SET delete_at = excluded.delete_at',
      prefix,
      at,
    );
  }

  /** `media_durable` from the session's origin: final media makes the waiting recording watchable now. */
  onMediaDurable(event: Extract<OriginEvent, { type: 'media_durable' }>): OriginEventOutcome {
    const row = this.sql.exec<RecordingRow>('SELECT * FROM recordings WHERE session_id = ?', event.sessionId).toArray()[0];
    if (row && row.watchable_at === null) this.update(row.id, { durable_duration: event.data.duration });
    if (row && event.data.final && row.status === 'processing') this.host.owe({ kind: 'recording_settle', recordingId: row.id });
    return { id: event.id, outcome: 'applied' };
  }

  /** recording_progress / recording_ready / recording_failed from the origin the export job went to. */
  onJobEvent(event: JobEvent, signer: string | undefined): OriginEventOutcome {
    const row =
      event.type === 'recording_progress'
        ? this.row(event.data.recordingId)
        : this.sql.exec<RecordingRow>('SELECT * FROM recordings WHERE session_id = ?', event.sessionId).toArray()[0];
    if (!row || row.session_id !== event.sessionId) return { id: event.id, outcome: 'refused', reason: 'the session has no such recording' };
    const now = Date.now();
    const verdict = judgeJobEvent(row, event, signer, this.session(row.session_id)!.origin_id, now, this.jobTimeoutMs);
    if (!verdict.ok) {
      log('recording_job_event_refused', { streamId: this.host.streamId(), recordingId: row.id, type: event.type, signer: signer ?? null, reason: verdict.reason });
      return { id: event.id, outcome: 'refused', reason: verdict.reason };
    }
    if (verdict.set) {
      this.update(row.id, verdict.set, now);
      if (event.type !== 'recording_progress') {
        this.host.owe({ kind: 'recording_index', recordingId: row.id });
        log(event.type === 'recording_ready' ? 'recording_exported' : 'recording_export_failed', {
          streamId: this.host.streamId(), recordingId: row.id, originId: row.export_origin, reason: event.type === 'recording_failed' ? event.data.reason : null,
        });
      }
    }
    return { id: event.id, outcome: 'applied' };
  }

  /**
   * The D1 rows that list a recording in its workspace and resolve its playback ID (to the session's durable media
   * while watchable). D1 computes the expiry from the workspace's retention policy, and the object keeps what it says.
   */
  async index(doc: StreamDocument, row: RecordingRow): Promise<void> {
    const view = recordingView(row, doc.streamId);
    const endedAt = this.session(row.session_id)?.ended_at ?? null;
    const [upsert] = await this.env.DB.batch([
      this.env.DB.prepare(
        `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at, watchable, exportable, cleaned, ended_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
           CASE WHEN ?11 IS NULL THEN NULL ELSE ?11 + (SELECT recording_retention_days FROM workspaces WHERE id = ?2) * 86400000 END)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, watchable = excluded.watchable,
           exportable = excluded.exportable, cleaned = excluded.cleaned, ended_at = excluded.ended_at, expires_at = excluded.expires_at
         RETURNING expires_at`,
      ).bind(
        row.id, doc.workspaceId, doc.streamId, row.session_id, row.status, new Date(row.created_at).toISOString(), new Date(row.updated_at).toISOString(),
        view.watchable ? 1 : 0, view.exportable ? 1 : 0, view.cleaned ? 1 : 0, endedAt,
      ),
      this.env.DB.prepare(
        `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
         VALUES (?, ?, ?, ?, 'recording', ?, ?)
         ON CONFLICT (id) DO UPDATE SET media_prefix = excluded.media_prefix`,
      ).bind(row.playback_id, doc.streamId, doc.workspaceId, doc.playbackIds[0]!.accessPolicy, row.id, view.watchable ? row.media_prefix : null),
      // In the video library while it plays (edge/video/library-rows.ts).
      libraryRowStatement(this.env.DB, doc.workspaceId, { source: 'recording', recording: view, streamId: doc.streamId, accessPolicy: doc.playbackIds[0]!.accessPolicy }),
    ]);
    const expiresAt = (upsert?.results[0] as { expires_at: number | null } | undefined)?.expires_at ?? null;
    if (expiresAt !== row.expires_at) {
      this.host.transact(() => this.sql.exec('UPDATE recordings SET expires_at = ? WHERE id = ?', expiresAt, row.id));
    }
  }

  // ── owed effects (asynchronous; true = done) ────────────────────────────────────────────────────

  async carryOut(effect: RecordingEffect): Promise<boolean> {
    switch (effect.kind) {
      case 'recording_finalize':
        return this.finalize(effect.recordingId);
      case 'recording_settle':
        return this.settle(effect.recordingId);
      case 'recording_export':
        return this.dispatchExport(effect.recordingId, effect.exclude ?? []);
    }
  }

  /**
   * Asks the holding origin to flush and close the session's durable media (it answers with media_durable final). A
   * silent origin, or one that will not take the command, is not waited for: the recording settles from R2 now.
   */
  private async finalize(recordingId: string): Promise<boolean> {
    const row = this.row(recordingId);
    const doc = this.host.load();
    if (!row || !doc || row.status !== 'processing') return true;
    const session = this.session(row.session_id)!;
    const heard = await originLiveness(this.env.DB, session.origin_id).catch(() => null);
    let asked = false;
    if (heard !== null && Date.now() - heard.heardAt <= HEARTBEAT_TIMEOUT_MS) {
      const command: FinalizeCommand = { streamId: doc.streamId, sessionId: row.session_id };
      const answer = await sendOriginCommand(this.env, session.origin_id, session.origin_url, '/control/finalize', command).catch(() => null);
      asked = answer !== null && answer.status >= 200 && answer.status < 300;
    }
    log('recording_finalize_asked', { streamId: doc.streamId, recordingId, originId: session.origin_id, originHeard: heard?.heardAt ?? null, asked });
    if (!asked) this.host.transact(() => this.settleOwed(row.session_id));
    return true;
  }

  /** The recording is watchable from the session's durable media if R2 holds any; failed if it holds none. */
  private async settle(recordingId: string): Promise<boolean> {
    const first = this.row(recordingId);
    if (!first || first.status !== 'processing') return true;
    const prefix = sessionMediaPrefix(this.host.streamId()!, first.session_id);
    const stored = (await this.env.MEDIA.list({ prefix: `${prefix}/`, limit: 1 })).objects.length > 0;
    const doc = this.host.load();
    const row = this.row(recordingId);
    if (!doc || !row || row.status !== 'processing') return true;
    const now = Date.now();
    if (stored) {
      this.host.commit(doc, { type: 'recording_ready', at: now, sessionId: row.session_id, recordingId }, () => {
        this.update(recordingId, { status: 'ready', media_prefix: prefix, watchable_at: now, source_ready_at: now, error: null, export_status: 'queued', export_jobs: 0 }, now);
        this.host.owe({ kind: 'recording_index', recordingId });
        this.host.owe({ kind: 'recording_export', recordingId });
      });
      log('recording_watchable', { streamId: doc.streamId, recordingId, afterStopMs: now - (this.session(row.session_id)?.ended_at ?? now) });
    } else {
      this.host.commit(doc, { type: 'recording_failed', at: now, sessionId: row.session_id, recordingId, reason: NO_MEDIA_STORED }, () => {
        this.update(recordingId, { status: 'failed', error: NO_MEDIA_STORED }, now);
        this.host.owe({ kind: 'recording_index', recordingId });
      });
      log('recording_failed', { streamId: doc.streamId, recordingId, reason: NO_MEDIA_STORED });
    }
    return true;
  }

  /**
   * Hands the MP4 export to the holding origin if it is healthy, else to the origin with the most free capacity; false
   * (retried with backoff by the caller) when none takes it.
   */
  private async dispatchExport(recordingId: string, exclude: string[]): Promise<boolean> {
    const row = this.row(recordingId);
    const doc = this.host.load();
    if (!row || !doc || row.export_status !== 'queued' || row.cleaned_at !== null) return true;
    const session = this.session(row.session_id)!;
    const durablePrefix = sessionMediaPrefix(doc.streamId, row.session_id);
    const outputPrefix = recordingKeyPrefix(recordingId);
    const heard = await originLiveness(this.env.DB, session.origin_id).catch(() => null);
    const holderHealthy = heard !== null && Date.now() - heard.heardAt <= HEARTBEAT_TIMEOUT_MS && !exclude.includes(session.origin_id);
    const candidates: { originId: string; controlUrl: string }[] = holderHealthy ? [{ originId: session.origin_id, controlUrl: session.origin_url }] : [];
    const other = await pickOrigin(this.env, { exclude: [session.origin_id, ...exclude] }).catch(() => null);
    if (other) candidates.push(other);
    for (const target of candidates) {
      const command: ExportRecordingCommand = {
        recordingId,
        streamId: doc.streamId,
        sessionId: row.session_id,
        durablePrefix,
        outputPrefix,
        mediaGrant: await issueMediaGrant(this.env.ORIGIN_SECRET, {
          originId: target.originId,
          prefixes: [`${outputPrefix}/`, `${durablePrefix}/`],
          expiresAt: Date.now() + EXPORT_GRANT_TTL_MS,
        }),
      };
      const answer = await sendOriginCommand(this.env, target.originId, target.controlUrl, '/control/export-recording', command).catch(
        (error: unknown) => ({ status: 0, error: String(error) }),
      );
      log('recording_export_dispatched', { streamId: doc.streamId, recordingId, originId: target.originId, status: answer.status });
      if (answer.status < 200 || answer.status >= 300) continue;
      this.host.transact(() => {
        const fresh = this.row(recordingId);
        if (fresh?.export_status !== 'queued') return;
        this.update(recordingId, {
          export_status: 'running',
          export_origin: target.originId,
          export_jobs: fresh.export_jobs + 1,
          export_progress: 0,
          export_deadline: Date.now() + this.jobTimeoutMs,
          export_dispatched_at: Date.now(),
          export_error: null,
        });
        this.host.owe({ kind: 'recording_index', recordingId });
      });
      return true;
    }
    return false;
  }

  /** Dispatch attempts ran out: the export fails, the recording stays watchable. */
  exportAbandoned(recordingId: string): void {
    this.host.transact(() => {
      if (this.row(recordingId)?.export_status !== 'queued') return;
      this.update(recordingId, { export_status: 'failed', export_error: NO_ORIGIN_FOR_EXPORT });
      this.host.owe({ kind: 'recording_index', recordingId });
    });
    log('recording_export_failed', { streamId: this.host.streamId(), recordingId, reason: NO_ORIGIN_FOR_EXPORT });
  }

  // ── the API's requests ──────────────────────────────────────────────────────────────────────────

  /** Runs a failed recording's step again: the settle from R2 (no media found) or the export. */
  retry(recordingId: string): 'not_found' | 'not_failed' | 'retried' {
    const row = this.row(recordingId);
    const doc = this.host.load();
    if (!row || !doc) return 'not_found';
    if (row.cleaned_at !== null) return 'not_failed';
    if (row.status === 'failed') {
      this.host.commit(doc, { type: 'recording_retried', at: Date.now(), sessionId: row.session_id }, () => {
        this.update(recordingId, { status: 'processing', error: null });
        this.host.owe({ kind: 'recording_index', recordingId });
        this.host.owe({ kind: 'recording_settle', recordingId });
      });
      return 'retried';
    }
    if (row.export_status === 'failed') {
      this.host.transact(() => {
        this.update(recordingId, { export_status: 'queued', export_jobs: 0, export_error: null, export_origin: null, export_progress: null, export_dispatched_at: null });
        this.host.owe({ kind: 'recording_index', recordingId });
        this.host.owe({ kind: 'recording_export', recordingId });
      });
      return 'retried';
    }
    return 'not_failed';
  }

  /**
   * A recording deleted through the API (its row already gone): its own objects go now; the session's media after
   * the grace, since nothing needs it any more.
   */
  async forget(row: RecordingRow): Promise<void> {
    const streamId = this.host.streamId()!;
    const session = this.session(row.session_id);
    this.host.transact(() =>
      this.scheduleMediaDeletion(this.sessionPrefix(row.session_id), sessionMediaDeleteAt(session?.ended_at ?? null, Date.now(), this.graceMs)),
    );
    await Promise.all([
      deleteR2Prefix(this.env.MEDIA, `${recordingKeyPrefix(row.id)}/`),
      deleteR2Prefix(this.env.MEDIA, `${legacyRecordingKeyPrefix(streamId, row.session_id)}/`),
    ]);
  }

  /** Every recording and session of a deleted stream: recordings' objects go now, session media after the grace. */
  forgetAll(): string[] {
    const streamId = this.host.streamId()!;
    const now = Date.now();
    for (const session of this.sql.exec<SessionRow>('SELECT * FROM sessions').toArray()) {
      this.scheduleMediaDeletion(this.sessionPrefix(session.id), sessionMediaDeleteAt(session.ended_at ?? now, now, this.graceMs));
    }
    const own = this.sql.exec<{ id: string }>('SELECT id FROM recordings').toArray().map((r) => `${recordingKeyPrefix(r.id)}/`);
    return [`recordings/${streamId}/`, ...own];
  }

  // ── deadlines (the object's alarm) ──────────────────────────────────────────────────────────────

  /** The earliest moment the flow must run again: a running job's deadline, a media deletion, a recording's expiry. */
  nextDeadline(): number | null {
    const at = this.sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(export_deadline) AS at FROM recordings WHERE export_status = 'running'
           UNION ALL SELECT ? FROM recordings WHERE export_status = 'running' AND export_origin IS NOT NULL
           UNION ALL SELECT MIN(delete_at) FROM media_retention
           UNION ALL SELECT MIN(expires_at) FROM recordings WHERE cleaned_at IS NULL)`,
        nextLivenessCheck(Date.now()),
      )
      .one().at;
    return at ?? null;
  }

  /** The alarm: lost export jobs handed out again, due media deleted, expired recordings cleaned. */
  async onAlarm(now: number): Promise<void> {
    const heardOrigins = await this.jobOriginsHeard();
    this.host.transact(() => {
      const running = this.sql.exec<RecordingRow>("SELECT * FROM recordings WHERE export_status = 'running'").toArray();
      for (const row of running) {
        const cause = runningJobLoss(row, row.export_origin === null ? undefined : heardOrigins.get(row.export_origin), now);
        if (cause === null) continue;
        // A silent origin is not asked again; one that is heard but forgot the job (a restart) may well take it again.
        const silent = cause === 'origin-silent';
        const outcome = lostJobOutcome(row);
        this.update(row.id, outcome, now);
        this.host.owe({ kind: 'recording_index', recordingId: row.id });
        if (outcome.export_status === 'queued') {
          this.host.owe({ kind: 'recording_export', recordingId: row.id, ...(silent ? { exclude: [row.export_origin!] } : {}) });
        }
        log('recording_export_lost', {
          streamId: this.host.streamId(), recordingId: row.id, originId: row.export_origin, jobs: row.export_jobs, next: outcome.export_status,
          cause,
        });
      }
    });
    await this.cleanExpired(now);
    await this.deleteDueMedia(now);
  }

  /** The latest heartbeat of each running export job's origin (read from D1 before the transaction; null = never heard). */
  private async jobOriginsHeard(): Promise<Map<string, OriginHeard | null>> {
    const origins = this.sql
      .exec<{ export_origin: string }>("SELECT DISTINCT export_origin FROM recordings WHERE export_status = 'running' AND export_origin IS NOT NULL")
      .toArray()
      .map((r) => r.export_origin);
    const heard = new Map<string, OriginHeard | null>();
    for (const originId of origins) {
      // Unreadable liveness proves nothing (left out): the job keeps its origin until the next look (or its deadline).
      const liveness = await originLiveness(this.env.DB, originId).catch(() => undefined);
      if (liveness !== undefined) heard.set(originId, liveness);
    }
    return heard;
  }

  private async deleteDueMedia(now: number): Promise<void> {
    const due = this.sql.exec<{ prefix: string; delete_at: number }>('SELECT prefix, delete_at FROM media_retention WHERE delete_at <= ? ORDER BY delete_at LIMIT 20', now).toArray();
    for (const { prefix, delete_at } of due) {
      // A recording made of this session since (it cannot be, but a bug must not cost a recording its media) keeps it.
      const needed = this.sql.exec("SELECT 1 FROM recordings WHERE ? LIKE 'live/%/' || session_id || '/' AND cleaned_at IS NULL", prefix).toArray().length > 0;
      const deleted = needed ? 0 : await deleteR2Prefix(this.env.MEDIA, prefix);
      this.host.transact(() => this.sql.exec('DELETE FROM media_retention WHERE prefix = ? AND delete_at = ?', prefix, delete_at));
      log('session_media_deleted', { streamId: this.host.streamId(), prefix, objects: deleted, kept: needed });
    }
  }

  /**
   * Cleans this stream's recordings whose retention ran out: the D1 index decides (a policy changed since may have
   * moved or lifted the expiry), then the recording's objects and its session's media go and it stays listed, cleaned.
   */
  async cleanExpired(now: number, ids?: string[]): Promise<number> {
    // The sweep names recordings D1 says expired (this object may not have heard of a policy change yet).
    const candidates = ids
      ? ids.slice(0, CLEAN_BATCH).map((id) => this.row(id)).filter((row): row is RecordingRow => row !== undefined && row.cleaned_at === null)
      : this.sql
          .exec<RecordingRow>('SELECT * FROM recordings WHERE cleaned_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?', now, CLEAN_BATCH)
          .toArray();
    let cleaned = 0;
    for (const candidate of candidates) {
      const indexed = await this.env.DB.prepare('SELECT expires_at FROM recordings WHERE id = ?').bind(candidate.id).first<{ expires_at: number | null }>();
      const expiresAt = indexed?.expires_at ?? null;
      if (expiresAt === null || expiresAt > now) {
        this.host.transact(() => this.update(candidate.id, { expires_at: expiresAt }, candidate.updated_at));
        continue;
      }
      if (await this.clean(candidate.id, now)) cleaned += 1;
    }
    return cleaned;
  }

  /** Cleans one recording now (retention): objects deleted, the row kept with cleaned_at, its playback ID stops. */
  async clean(recordingId: string, now: number): Promise<boolean> {
    const row = this.row(recordingId);
    const streamId = this.host.streamId();
    if (!row || !streamId || row.cleaned_at !== null) return false;
    const session = this.session(row.session_id);
    const sessionPrefix = this.sessionPrefix(row.session_id);
    const sessionDue = sessionMediaDeleteAt(session?.ended_at ?? null, now, this.graceMs) <= now;
    this.host.transact(() => {
      this.update(recordingId, { cleaned_at: now, export_deadline: null }, now);
      this.host.owe({ kind: 'recording_index', recordingId });
      if (!sessionDue) this.scheduleMediaDeletion(sessionPrefix, sessionMediaDeleteAt(session?.ended_at ?? null, now, this.graceMs));
    });
    const deleted = await Promise.all([
      deleteR2Prefix(this.env.MEDIA, `${recordingKeyPrefix(recordingId)}/`),
      deleteR2Prefix(this.env.MEDIA, `${legacyRecordingKeyPrefix(streamId, row.session_id)}/`),
      sessionDue ? deleteR2Prefix(this.env.MEDIA, sessionPrefix) : Promise.resolve(0),
    ]);
    log('recording_cleaned', { streamId, recordingId, objects: deleted.reduce((a, b) => a + b, 0) });
    return true;
  }
}

