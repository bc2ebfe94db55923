// VideoObject: one Durable Object per uploaded or imported video (issue 13), the single source of truth for its status.
// It stores the video's document, a webhook outbox numbered per video from 1 and the side effects it owes (D1 index,
// webhook flush, the origin job's dispatch, deleting its R2 prefix) in its SQLite storage, runs the pure status machine
// (edge/video/video-machine.ts) and carries the effects out.
//
// Crash safety, as in StreamObject: a state change, its webhook events, the effects it owes (pending_effects rows) and
// the alarm are written in one synchronous block, so they commit together; effects are then carried out, and whatever
// failed (or never ran, because the object died) is redone by the alarm. No await separates reading the state from
// writing it. Recording and clip videos have no VideoObject: they are views of their stream's object.
//
// An uploaded video holds its upload URL's deadline from creation: the alarm at the URL's expiry fails a video whose
// upload was not completed (its multipart upload let go of as an owed effect); completing the upload cancels it.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.ts';
import type { Video, UpdateVideoRequest } from '../shared/schemas/video.ts';
import type { VideoAssetWebhook, WebhookEvent } from '../shared/schemas/webhook-event.ts';
import type { VideoWebhookType } from '../shared/video-vocabulary.ts';
import { newId } from '../shared/identifiers.ts';
import { deleteR2Prefix } from './media-storage.ts';
import { planBatches } from './webhook-outbox-batches.ts';
import { log } from './log.ts';
import { initialVideoState, videoTransition, type VideoEffect, type VideoInput } from './video/video-machine.ts';
import { videoHlsPrefix, videoPrefix, videoView, type VideoDocument } from './video/video-document.ts';
import type { VideoJobEvent, VideoJobHost, VideoJobKind, VideoJobs } from './video/video-job-hooks.ts';
import { VideoJobRunner } from './video/video-jobs.ts';
import { abandonUpload } from './video/uploads.ts';
import { findUploadOfVideo } from './video/upload-store.ts';
import { OwedEffects } from './owed-effects.ts';
import { armEarliestAlarm } from './object-alarm.ts';

/** Origin event ids are remembered this long; the origin's signature window is 60 s, so a day is ample. */
const SEEN_EVENT_TTL_MS = 24 * 3600_000;
/**
 * A /complete begun just before the upload URL expired may still be putting the file together at the deadline: the
 * deadline waits for it (checked every UPLOAD_COMPLETING_RECHECK_MS) this long past the expiry, then fails the video.
 */
const UPLOAD_COMPLETING_GRACE_MS = 5 * 60_000;
const UPLOAD_COMPLETING_RECHECK_MS = 30_000;

export type VideoResult =
  | { ok: true; video: Video }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'refused'; httpStatus: 400 | 409; type: string; detail: string };

/** What creating a video takes: the document's own fields, with the import's source URL optional. */
export interface CreateVideoInput
  extends Pick<VideoDocument, 'videoId' | 'workspaceId' | 'source' | 'title' | 'metadata' | 'playbackId' | 'accessPolicy'> {
  /** An import's source URL (kept for its job, never shown). */
  sourceUrl?: VideoDocument['sourceUrl'];
  /** An upload's URL expiry (epoch ms): the video fails at it unless the upload was completed. */
  uploadExpiresAt?: number;
}

export type VideoEventOutcome = { id: string; outcome: 'applied' | 'duplicate' | 'refused'; reason?: string };

/**
 * The side effects a commit owes, one row each (the key de-duplicates). Keys sort in the order a pass carries them out:
 * the D1 index before the webhook flush, so a receiver that reads the API finds what its webhook says.
 */
type PendingEffect =
  | { kind: 'video_index' }
  | { kind: 'webhook_flush' }
  | { kind: 'video_job'; job: VideoJobKind }
  | { kind: 'media_delete'; prefix: string }
  | { kind: 'upload_abort' };

const effectKey = (effect: PendingEffect): string => effect.kind;
/** Effects that reach outside our platform (an origin that may be gone, R2 bulk deletes): never awaited by an answer. */
const BACKGROUND_EFFECTS: ReadonlySet<PendingEffect['kind']> = new Set(['video_job', 'media_delete', 'upload_abort']);

export class VideoObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The side effects its commits owe (edge/owed-effects.ts): pending_effects, passes, retries with backoff. */
  private readonly effects: OwedEffects<PendingEffect>;
  /** The video's processing job (edge/video/video-jobs.ts): dispatch, its origin's word only, silence deadlines, re-dispatch. */
  private readonly jobs: VideoJobs;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS video (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL, alarm_at INTEGER);
      CREATE TABLE IF NOT EXISTS webhook_outbox (sequence INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS webhook_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS seen_origin_events (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS upload_deadline (
        id INTEGER PRIMARY KEY CHECK (id = 1), expires_at INTEGER NOT NULL, due_at INTEGER NOT NULL);
    `);
    this.effects = new OwedEffects<PendingEffect>({
      sql: this.sql,
      ctx,
      key: effectKey,
      background: BACKGROUND_EFFECTS,
      rounds: 3,
      carryOut: (effect) => this.carryOut(effect),
      transact: (writes) => this.transact(writes),
      logContext: () => ({ videoId: this.load()?.videoId }),
    });
    this.jobs = this.hostJobs();
  }

  /** The jobs module and its view of this object (edge/video/video-job-hooks.ts). */
  private hostJobs(): VideoJobs {
    const host: VideoJobHost = {
      sql: this.sql,
      env: () => this.env,
      load: () => this.load(),
      apply: (input) => {
        const doc = this.loadLive();
        return doc ? this.commitWrites(doc, input).ok : false;
      },
      redispatch: (job) => this.owe({ kind: 'video_job', job }),
      transact: (writes) => this.transact(writes),
    };
    return new VideoJobRunner(host);
  }

  // ── storage ─────────────────────────────────────────────────────────────────────────────────────

  private load(): VideoDocument | null {
    const row = this.sql.exec<{ doc: string }>('SELECT doc FROM video WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.doc) as VideoDocument) : null;
  }

  private loadLive(): VideoDocument | null {
    const doc = this.load();
    return doc && !doc.deleted ? doc : null;
  }

  private loadOwned(workspaceId: string): VideoDocument | null {
    const doc = this.loadLive();
    return doc && doc.workspaceId === workspaceId ? doc : null;
  }

  private save(doc: VideoDocument): void {
    this.sql.exec('INSERT INTO video (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', JSON.stringify(doc));
  }

  /** The upload URL's deadline while the upload may still come (waiting or uploading), else null. */
  private uploadDeadline(): { expires_at: number; due_at: number } | null {
    return this.sql.exec<{ expires_at: number; due_at: number }>('SELECT expires_at, due_at FROM upload_deadline WHERE id = 1').toArray()[0] ?? null;
  }

  /** Writes in one synchronous transaction that ends by arming the alarm for what they owe. */
  private transact(writes: () => void): void {
    this.ctx.storage.transactionSync(() => {
      writes();
      this.armAlarm();
    });
  }

  // ── the status shell: commit synchronously, then carry out what the commit owes ─────────────────

  /** One machine input on `doc` (loaded in this synchronous turn); the caller holds the transaction. */
  private commitWrites(
    doc: VideoDocument,
    input: VideoInput,
  ): { ok: true; doc: VideoDocument } | { ok: false; httpStatus: 409; type: string; detail: string } {
    const result = videoTransition(doc.state, input);
    if (!result.ok) return result;
    const next: VideoDocument = { ...doc, state: result.state, updatedAt: new Date(input.at).toISOString() };
    this.save(next);
    if (result.state.status !== doc.state.status) this.owe({ kind: 'video_index' });
    // Past waiting/uploading (the upload completed, or the video failed) no upload can come: its deadline goes.
    if (result.state.status !== 'waiting' && result.state.status !== 'uploading') this.sql.exec('DELETE FROM upload_deadline');
    for (const effect of result.effects) this.recordEffect(next, effect, input.at);
    return { ok: true, doc: next };
  }

  private recordEffect(doc: VideoDocument, effect: VideoEffect, at: number): void {
    switch (effect.kind) {
      case 'emit':
        this.emit(doc, effect.type, effect.reason, at);
        return;
      case 'dispatch_job':
        this.owe({ kind: 'video_job', job: effect.job });
        return;
      case 'job_over':
        this.jobs.over();
        this.effects.forget('video_job');
        return;
      case 'abort_upload':
        this.owe({ kind: 'upload_abort' });
        return;
    }
  }

  /** Queues one webhook event, numbered by this video's counter (1, 2, 3… without gaps), in the caller's transaction. */
  private emit(doc: VideoDocument, type: VideoWebhookType, reason: string | null, at: number): void {
    const sequence = this.sql
      .exec<{ last: number }>(
        'INSERT INTO webhook_sequence (id, last) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET last = last + 1 RETURNING last',
      )
      .one().last;
    const event: VideoAssetWebhook = {
      id: newId('evt'),
      type,
      event: 'VIDEO_ASSET',
      sequence,
      timestamp: new Date(at).toISOString(),
      workspaceId: doc.workspaceId,
      streamId: doc.videoId,
      videoId: doc.videoId,
      status: doc.state.status,
      reason,
      sessionId: null,
      subject: null,
      data: videoView(doc),
    };
    this.sql.exec('INSERT INTO webhook_outbox (sequence, body) VALUES (?, ?)', sequence, JSON.stringify(event));
    this.owe({ kind: 'webhook_flush' });
  }

  /** Notes a side effect the commit owes; carried out by settle() now, or by the alarm if that fails. */
  private owe(effect: PendingEffect): void {
    this.effects.owe(effect);
  }

  /**
   * The alarm: the earliest of the owed effects' retry times, the job's deadline and the upload URL's. Inside the
   * caller's transaction.
   */
  private armAlarm(): void {
    if (!this.load()) return;
    const live = this.loadLive() !== null;
    const deadlines = [
      this.effects.nextRetryAt(),
      live ? this.jobs.nextDeadline() : null,
      live ? (this.uploadDeadline()?.due_at ?? null) : null,
    ];
    armEarliestAlarm(this.ctx, this.sql, 'video', deadlines);
  }

  /** Carries out every owed effect that is due; a caller waits for a pass that starts after its commit (at most two). */
  private settle(): Promise<void> {
    return this.effects.settle();
  }

  /** One side effect; true when it is done (or moot), false or a throw to try again later. */
  private async carryOut(effect: PendingEffect): Promise<boolean> {
    const doc = this.load();
    if (!doc) return true;
    switch (effect.kind) {
      case 'video_index':
        await this.syncIndex(doc);
        return true;
      case 'webhook_flush':
        return this.flushWebhookOutbox(doc.videoId);
      case 'video_job':
        return doc.deleted || !['importing', 'processing'].includes(doc.state.status) ? true : this.dispatchJob(doc, effect.job);
      case 'media_delete': {
        const deleted = await deleteR2Prefix(this.env.MEDIA, effect.prefix);
        log('video_media_deleted', { videoId: doc.videoId, objects: deleted });
        return true;
      }
      case 'upload_abort':
        return abandonUpload(this.env, doc.videoId);
    }
  }

  /**
   * Hands the video's job to an origin (edge/video/video-jobs.ts picks it, signs the command, keeps the attempt); false
   * when none took it this pass, retried with backoff (the jobs module fails the video after its passes run out).
   */
  private dispatchJob(doc: VideoDocument, kind: VideoJobKind): Promise<boolean> {
    return this.jobs.dispatch(doc, kind);
  }

  /** Keeps D1's workspace index in step (status, title, and the playback ID's media once ready; gone once deleted). */
  private async syncIndex(doc: VideoDocument): Promise<void> {
    const db = this.env.DB;
    if (doc.deleted) {
      await db.batch([
        db.prepare("DELETE FROM playback_ids WHERE kind = 'video' AND target_id = ?").bind(doc.videoId),
        db.prepare('DELETE FROM videos WHERE id = ?').bind(doc.videoId),
      ]);
      return;
    }
    await db.batch([
      db.prepare('UPDATE videos SET status = ?, title = ? WHERE id = ?').bind(doc.state.status, doc.title, doc.videoId),
      db
        .prepare("UPDATE playback_ids SET media_prefix = ? WHERE kind = 'video' AND target_id = ?")
        .bind(doc.state.status === 'ready' ? videoHlsPrefix(doc.videoId) : null, doc.videoId),
    ]);
  }

  /**
   * Sends every queued webhook event in sequence order, in batches within the Queue's limits; true once the outbox is
   * empty. A batch is deleted only after the Queue took it, so a crash resends it with the same ids.
   */
  private async flushWebhookOutbox(videoId: string): Promise<boolean> {
    for (;;) {
      const pending = this.sql
        .exec<{ sequence: number; body: string }>('SELECT sequence, body FROM webhook_outbox ORDER BY sequence LIMIT 500')
        .toArray();
      if (pending.length === 0) return true;
      for (const batch of planBatches(pending)) {
        const trimmed = batch.filter((m) => m.trimmed).map((m) => m.sequence);
        if (trimmed.length) log('webhook_body_trimmed', { videoId, sequences: trimmed });
        try {
          await this.env.WEBHOOKS.sendBatch(batch.map((m) => ({ body: m.body as WebhookEvent })));
        } catch (error) {
          log('webhook_enqueue_failed', { videoId, messages: batch.length, error: String(error) });
          return false;
        }
        this.sql.exec('DELETE FROM webhook_outbox WHERE sequence <= ?', batch[batch.length - 1]!.sequence);
      }
    }
  }

  /**
   * An alarm: owed effects are due (the alarm is their retry), the job's deadline passed (V4's hook decides), or the
   * upload URL's.
   */
  override async alarm(): Promise<void> {
    const doc = this.load();
    if (!doc) return;
    const scheduledAt = this.sql.exec<{ alarm_at: number | null }>('SELECT alarm_at FROM video WHERE id = 1').one().alarm_at;
    const at = Math.max(Date.now(), scheduledAt ?? 0);
    if (!doc.deleted) await this.reachUploadDeadline(doc.videoId, at);
    if (!doc.deleted) await this.jobs.onAlarm(at);
    this.effects.dueNow();
    await this.settle(); // ends by arming the alarm for what is left
  }

  /**
   * The upload URL expired (`at` is the alarm's time): a video still waiting for or receiving its upload fails, and its
   * multipart upload is let go of (owed). A /complete still putting the file together gets UPLOAD_COMPLETING_GRACE_MS.
   */
  private async reachUploadDeadline(videoId: string, at: number): Promise<void> {
    const before = this.uploadDeadline();
    if (!before || before.due_at > at) return;
    // Read before the transaction; an unreadable upload row proves nothing (the deadline counts).
    const upload = await findUploadOfVideo(this.env.DB, videoId).catch(() => null);
    this.transact(() => {
      const doc = this.loadLive();
      const deadline = this.uploadDeadline();
      if (!doc || !deadline || deadline.due_at > at) return;
      const graceEnds = deadline.expires_at + UPLOAD_COMPLETING_GRACE_MS;
      if (upload?.state === 'completing' && at < graceEnds) {
        this.sql.exec('UPDATE upload_deadline SET due_at = ? WHERE id = 1', Math.min(at + UPLOAD_COMPLETING_RECHECK_MS, graceEnds));
        return;
      }
      this.sql.exec('DELETE FROM upload_deadline');
      const result = this.commitWrites(doc, { type: 'upload_expired', at: Date.now() });
      if (result.ok && result.doc.state.status === 'failed') log('video_upload_deadline_reached', { videoId, expiredAt: new Date(deadline.expires_at).toISOString() });
    });
  }

  // ── public API (RPC from the Worker's routes) ────────────────────────────────────────────────────

  /** Creates the video (waiting): its index rows first, so it is listed when the caller hears of it. */
  async create(input: CreateVideoInput): Promise<VideoResult> {
    const exists = (): VideoResult | null =>
      this.load() ? { ok: false, code: 'refused', httpStatus: 409, type: 'video-exists', detail: `video ${input.videoId} already exists` } : null;
    const before = exists();
    if (before) return before;
    const at = Date.now();
    const now = new Date(at).toISOString();
    const doc: VideoDocument = {
      videoId: input.videoId,
      workspaceId: input.workspaceId,
      source: input.source,
      title: input.title,
      metadata: input.metadata,
      playbackId: input.playbackId,
      accessPolicy: input.accessPolicy,
      state: initialVideoState(),
      sourceUrl: input.sourceUrl ?? null,
      deleted: false,
      createdAt: now,
      updatedAt: now,
    };
    const db = this.env.DB;
    await db.batch([
      db
        .prepare('INSERT INTO videos (id, workspace_id, source, status, created_at, title) VALUES (?, ?, ?, ?, ?, ?)')
        .bind(doc.videoId, doc.workspaceId, doc.source, doc.state.status, now, doc.title),
      db
        .prepare("INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id) VALUES (?, ?, ?, ?, 'video', ?)")
        .bind(doc.playbackId, doc.videoId, doc.workspaceId, doc.accessPolicy, doc.videoId),
    ]);
    const meanwhile = exists();
    if (meanwhile) return meanwhile;
    this.transact(() => {
      this.save(doc);
      if (doc.source === 'upload' && input.uploadExpiresAt !== undefined) {
        this.sql.exec('INSERT INTO upload_deadline (id, expires_at, due_at) VALUES (1, ?, ?)', input.uploadExpiresAt, input.uploadExpiresAt);
      }
      this.emit(doc, 'video.asset.created', null, at);
    });
    await this.settle();
    return { ok: true, video: videoView(doc) };
  }

  async get(workspaceId: string): Promise<VideoResult> {
    const doc = this.loadOwned(workspaceId);
    return doc ? { ok: true, video: videoView(doc) } : { ok: false, code: 'not_found' };
  }

  /** PATCH: title (null clears it) and metadata (replaced whole). */
  async update(workspaceId: string, patch: UpdateVideoRequest): Promise<VideoResult> {
    const doc = this.loadOwned(workspaceId);
    if (!doc) return { ok: false, code: 'not_found' };
    const next: VideoDocument = {
      ...doc,
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
      updatedAt: new Date().toISOString(),
    };
    this.transact(() => {
      this.save(next);
      if (next.title !== doc.title) this.owe({ kind: 'video_index' });
    });
    await this.settle();
    return { ok: true, video: videoView(next) };
  }

  /**
   * Deletes the video: it stops being listed and playable before the answer (its D1 rows go in this pass), its R2
   * prefix goes in the background, and a running job's later reports are refused (the object keeps a tombstone).
   */
  async delete(workspaceId: string): Promise<VideoResult> {
    const doc = this.loadOwned(workspaceId);
    if (!doc) return { ok: false, code: 'not_found' };
    const at = Date.now();
    const next: VideoDocument = { ...doc, deleted: true, updatedAt: new Date(at).toISOString() };
    this.transact(() => {
      this.save(next);
      this.jobs.over();
      this.effects.forget('video_job');
      this.sql.exec('DELETE FROM upload_deadline');
      this.emit(next, 'video.asset.deleted', null, at);
      this.owe({ kind: 'video_index' });
      this.owe({ kind: 'media_delete', prefix: videoPrefix(doc.videoId) });
    });
    await this.settle();
    return { ok: true, video: videoView(next) };
  }

  /** The bytes of an upload started arriving (V2: the first part PUT): waiting → uploading. */
  uploadStarted(): Promise<VideoResult> {
    return this.input(() => ({ type: 'upload_started', at: Date.now() }), 'upload');
  }

  /** The upload is whole in R2 at videos/{id}/source (V2: /complete): → processing, its job owed. */
  uploadCompleted(input: { size: number }): Promise<VideoResult> {
    return this.input(() => ({ type: 'upload_completed', at: Date.now(), size: input.size }), 'upload');
  }

  /** The import route accepted the URL (V3): → importing, its job (fetch, then process) owed. */
  importStarted(): Promise<VideoResult> {
    return this.input(() => ({ type: 'import_started', at: Date.now() }), 'import');
  }

  /** One input for an upload or import video, answered after the pass that carries out what it owes. */
  private async input(make: () => VideoInput, source: VideoDocument['source']): Promise<VideoResult> {
    const doc = this.loadLive();
    if (!doc) return { ok: false, code: 'not_found' };
    if (doc.source !== source) {
      return { ok: false, code: 'refused', httpStatus: 409, type: 'video-state-conflict', detail: `the video is an ${doc.source}, not an ${source}` };
    }
    let result!: ReturnType<VideoObject['commitWrites']>;
    this.transact(() => {
      result = this.commitWrites(doc, make());
    });
    if (!result.ok) return { ok: false, code: 'refused', httpStatus: result.httpStatus, type: result.type, detail: result.detail };
    await this.settle();
    return { ok: true, video: videoView(this.load()!) };
  }

  /**
   * The origin's job events for this video, in order; an id seen before changes nothing. Each event's de-dup check,
   * its writes and its state change are one synchronous transaction.
   */
  async applyVideoEvents(events: VideoJobEvent[], signer?: string): Promise<VideoEventOutcome[]> {
    const outcomes: VideoEventOutcome[] = [];
    for (const event of events) {
      this.transact(() => {
        if (this.sql.exec('SELECT 1 FROM seen_origin_events WHERE id = ?', event.id).toArray().length > 0) {
          outcomes.push({ id: event.id, outcome: 'duplicate' });
          return;
        }
        const outcome = this.applyVideoEvent(event, signer);
        // A refused event is not remembered: the same report may apply once its cause is gone (it never is for these).
        if (outcome.outcome === 'applied') this.sql.exec('INSERT INTO seen_origin_events (id, seen_at) VALUES (?, ?)', event.id, Date.now());
        outcomes.push(outcome);
      });
    }
    this.sql.exec('DELETE FROM seen_origin_events WHERE seen_at < ?', Date.now() - SEEN_EVENT_TTL_MS);
    await this.settle();
    return outcomes;
  }

  /** One job event, inside the caller's transaction; deadlines from the edge's clock, the event's `at` kept as data. */
  private applyVideoEvent(event: VideoJobEvent, signer: string | undefined): VideoEventOutcome {
    const doc = this.loadLive();
    if (!doc || doc.videoId !== event.data.videoId) return { id: event.id, outcome: 'refused', reason: 'unknown video' };
    const refusal = this.jobs.refuseSigner(event, signer);
    if (refusal) return { id: event.id, outcome: 'refused', reason: refusal };
    const at = Date.now();
    let input: VideoInput;
    switch (event.type) {
      case 'video_progress':
        input = { type: 'progress', at, phase: event.data.phase, progress: event.data.progress };
        break;
      case 'video_ready':
        input = { type: 'ready', at, duration: event.data.duration, size: event.data.size, mediaInfo: event.data.mediaInfo, renditions: event.data.renditions };
        break;
      case 'video_failed':
        // A failure that may pass runs the job again while attempts are left (V4 decides); else the video fails.
        if (!event.data.permanent && this.jobs.retryAfterFailure(doc, event.data.reason, at)) {
          this.jobs.heard(event, at);
          return { id: event.id, outcome: 'applied' };
        }
        input = { type: 'failed', at, reason: event.data.reason };
        break;
    }
    const result = this.commitWrites(doc, input);
    if (!result.ok) return { id: event.id, outcome: 'refused', reason: result.detail };
    if (event.type === 'video_progress') this.jobs.heard(event, at);
    return { id: event.id, outcome: 'applied' };
  }

  /** The stored document for the jobs and upload modules' routes (V2/V3/V4), tombstone excluded. */
  async document(): Promise<VideoDocument | null> {
    return this.loadLive();
  }
}
