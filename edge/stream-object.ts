// StreamObject: one Durable Object per live stream, the single source of truth for its lifecycle.
// It persists the stream document, activities, sessions and a webhook outbox in its SQLite storage, runs the pure
// lifecycle transition, and carries out the effects: activities, webhook events, D1 index updates, kicks, alarms.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.ts';
import {
  transition,
  initialLifecycle,
  nextDeadline,
  type LifecycleInput,
  type LifecycleEffect,
  type Refusal,
} from './lifecycle.ts';
import { liveStreamView, type StreamDocument, type StreamSettings } from './live-stream-view.ts';
import { activityLabel, WEBHOOK_TYPE_OF_EVENT, type LifecycleEventName } from '../shared/lifecycle-vocabulary.ts';
import type { Activity, LiveStream, UpdateLiveStreamRequest } from '../shared/schemas/live-stream.ts';
import type {
  AuthorizeIngestResponse,
  OriginEvent,
  OriginEventOutcome,
  SessionStats,
  IngestProtocol,
  KickCommand,
  FinalizeCommand,
  ClipCommand,
  RecordingArtifacts,
} from '../shared/schemas/internal.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { validateClipRange } from '../shared/clip-range.ts';
import {
  type Session,
  type Recording,
  type Clip,
  type CreateClipRequest,
} from '../shared/schemas/recording.ts';
import { deleteR2Prefix } from './media-storage.ts';
import { newId, newPlaybackId } from '../shared/identifiers.ts';
import { commandOrigin } from './origin-commands.ts';
import {
  MEDIA_TABLES,
  recordingIdFor,
  recordingKeyPrefix,
  clipKeyPrefix,
  recordingView,
  sessionView,
  clipView,
  type SessionRow,
  type RecordingRow,
  type ClipRow,
} from './stream-media-store.ts';
import { log } from './log.ts';

/** A failed Queue send is retried by the alarm after this long; nothing is lost meanwhile, it stays in the outbox. */
const WEBHOOK_RETRY_MS = 5_000;
/** Origin event ids are remembered this long; the origin's signature window is 60 s, so a day is ample. */
const SEEN_EVENT_TTL_MS = 24 * 3600_000;

export type StreamCommandResult =
  | { ok: true; stream: LiveStream }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'refused'; refusal: Refusal; detail: string };

export type AuthorizeResult =
  | { ok: true; grant: AuthorizeIngestResponse }
  | { ok: false; refusal: Refusal; detail: string };

export interface CreateStreamInput {
  streamId: string;
  workspaceId: string;
  keyHash: string;
  srtSecret: string;
  playbackId: string;
  accessPolicy: 'public' | 'private';
  settings: StreamSettings;
}

export type ClipResult =
  | { ok: true; clip: Clip }
  | { ok: false; code: 'not_found' | 'origin_unavailable'; detail: string }
  | { ok: false; code: 'invalid'; field: string; detail: string };

export class StreamObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS stream (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL, alarm_at INTEGER);
      CREATE TABLE IF NOT EXISTS activities (
        sequence INTEGER PRIMARY KEY, event TEXT NOT NULL, stream_status TEXT NOT NULL,
        at TEXT NOT NULL, session_id TEXT, reason TEXT);
      CREATE TABLE IF NOT EXISTS webhook_outbox (sequence INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS seen_origin_events (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
      ${MEDIA_TABLES}
    `);
  }

  // ── storage ─────────────────────────────────────────────────────────────────────────────────────

  private load(): StreamDocument | null {
    const row = this.sql.exec<{ doc: string }>('SELECT doc FROM stream WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.doc) as StreamDocument) : null;
  }

  private loadLive(): StreamDocument | null {
    const doc = this.load();
    return doc && !doc.lifecycle.deleted ? doc : null;
  }

  private save(doc: StreamDocument): void {
    this.sql.exec(
      'INSERT INTO stream (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc',
      JSON.stringify(doc),
    );
  }

  private activities(): Activity[] {
    return this.sql
      .exec<{ event: string; stream_status: string; at: string; session_id: string | null; reason: string | null }>(
        'SELECT event, stream_status, at, session_id, reason FROM activities ORDER BY sequence',
      )
      .toArray()
      .map((row) => ({
        event: row.event as Activity['event'],
        status: activityLabel(row.event as LifecycleEventName),
        streamStatus: row.stream_status as Activity['streamStatus'],
        timestamp: row.at,
        sessionId: row.session_id,
        reason: row.reason,
      }));
  }

  private view(doc: StreamDocument, withActivities = false): LiveStream {
    return liveStreamView(doc, this.env, withActivities ? { activities: this.activities() } : {});
  }

  // ── the lifecycle shell ─────────────────────────────────────────────────────────────────────────

  /**
   * Runs one lifecycle input: the new state, its activities and webhook events are written in one storage
   * transaction, then the effects that leave the object (D1, Queue, kicks, alarm) are carried out.
   */
  private async apply(
    doc: StreamDocument,
    input: LifecycleInput,
    mutate?: (doc: StreamDocument) => void,
  ): Promise<{ ok: true; doc: StreamDocument; resumed: boolean } | { ok: false; refusal: Refusal; detail: string }> {
    const result = transition(doc.lifecycle, input);
    if (!result.ok) return result;
    const next: StreamDocument = { ...doc, lifecycle: result.state, updatedAt: new Date(input.at).toISOString() };
    mutate?.(next);
    this.ctx.storage.transactionSync(() => {
      this.save(next);
      for (const effect of result.effects) this.recordEffect(next, effect, input.at);
    });
    await this.afterCommit(next, result.effects);
    return { ok: true, doc: next, resumed: result.resumed ?? false };
  }

  private recordEffect(doc: StreamDocument, effect: LifecycleEffect, at: number): void {
    switch (effect.kind) {
      case 'emit': {
        const timestamp = new Date(at).toISOString();
        const cursor = this.sql.exec<{ sequence: number }>(
          `INSERT INTO activities (sequence, event, stream_status, at, session_id, reason)
           VALUES ((SELECT COALESCE(MAX(sequence), 0) + 1 FROM activities), ?, ?, ?, ?, ?) RETURNING sequence`,
          effect.event,
          effect.status,
          timestamp,
          effect.sessionId,
          effect.reason,
        );
        const sequence = cursor.one().sequence;
        const { activities: _omit, streamKey: _k, srtSecret: _s, ...data } = this.view(doc);
        const event: WebhookEvent = {
          id: newId('evt'),
          type: WEBHOOK_TYPE_OF_EVENT[effect.event],
          event: effect.event,
          sequence,
          timestamp,
          workspaceId: doc.workspaceId,
          streamId: doc.streamId,
          status: effect.status,
          sessionId: effect.sessionId,
          reason: effect.reason,
          subject: effect.subject ?? null,
          data: { ...data, status: effect.status },
        };
        this.sql.exec('INSERT INTO webhook_outbox (sequence, body) VALUES (?, ?)', sequence, JSON.stringify(event));
        return;
      }
      case 'open_session':
        this.sql.exec(
          `INSERT INTO sessions (id, started_at, reconnects, origin_id, origin_url, last_seen, record)
           VALUES (?, ?, 0, ?, ?, ?, ?)`,
          effect.session.id,
          effect.session.startedAt,
          effect.session.originId,
          effect.session.originUrl,
          effect.session.lastSeen,
          doc.settings.record ? 1 : 0,
        );
        if (doc.settings.record) {
          this.sql.exec(
            `INSERT INTO recordings (id, session_id, playback_id, status, created_at, updated_at)
             VALUES (?, ?, ?, 'waiting', ?, ?)`,
            recordingIdFor(effect.session.id),
            effect.session.id,
            newPlaybackId(),
            effect.session.startedAt,
            at,
          );
        }
        return;
      case 'end_session':
        this.sql.exec('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL', effect.sessionId, effect.at);
        // The origin builds the recording once the session is over; until it reports, the recording is processing.
        this.sql.exec(
          "UPDATE recordings SET status = 'processing', updated_at = ? WHERE session_id = ? AND status = 'waiting'",
          at,
          effect.sessionId,
        );
        return;
      case 'kick_encoder':
        return; // carried out after commit
    }
  }

  private async afterCommit(doc: StreamDocument, effects: LifecycleEffect[]): Promise<void> {
    const session = doc.lifecycle.session;
    if (session) {
      this.sql.exec(
        'UPDATE sessions SET reconnects = ?, origin_id = ?, origin_url = ?, last_seen = ? WHERE id = ?',
        session.reconnects,
        session.originId,
        session.originUrl,
        session.lastSeen,
        session.id,
      );
    }
    for (const effect of effects) {
      if (effect.kind === 'kick_encoder') this.ctx.waitUntil(this.kickEncoder(doc.streamId, effect));
      if (effect.kind === 'open_session' || effect.kind === 'end_session') {
        const sessionId = effect.kind === 'open_session' ? effect.session.id : effect.sessionId;
        const recording = this.recordingRow('session_id', sessionId);
        if (recording) await this.indexRecording(doc, recording);
      }
    }
    if (effects.some((e) => e.kind === 'emit')) await this.syncIndex(doc);
    await this.flushWebhookOutbox();
    await this.scheduleAlarm(doc);
  }

  /** Keeps D1's workspace index in step with this object, so lists and status filters read what just happened. */
  private async syncIndex(doc: StreamDocument): Promise<void> {
    if (doc.lifecycle.deleted) {
      // A deleted stream takes its recordings and clips with it: nothing of it plays any more.
      await this.env.DB.batch([
        this.env.DB.prepare('DELETE FROM stream_keys WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare('DELETE FROM playback_ids WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare('DELETE FROM recordings WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare('DELETE FROM streams WHERE id = ?').bind(doc.streamId),
      ]);
      const clipPrefixes = this.sql.exec<{ id: string }>('SELECT id FROM clips').toArray().map((c) => clipKeyPrefix(c.id) + '/');
      this.sql.exec('DELETE FROM recordings');
      this.sql.exec('DELETE FROM clips');
      this.ctx.waitUntil(
        Promise.all(
          [`recordings/${doc.streamId}/`, ...clipPrefixes].map((prefix) => deleteR2Prefix(this.env.MEDIA, prefix)),
        ).catch((error: unknown) => log('media_delete_failed', { streamId: doc.streamId, error: String(error) })),
      );
      return;
    }
    await this.env.DB.prepare('UPDATE streams SET status = ?, updated_at = ? WHERE id = ?')
      .bind(doc.lifecycle.status, doc.updatedAt, doc.streamId)
      .run();
  }

  /** Sends every queued webhook event in sequence order; what fails stays for the alarm to retry. */
  private async flushWebhookOutbox(): Promise<void> {
    const pending = this.sql
      .exec<{ sequence: number; body: string }>('SELECT sequence, body FROM webhook_outbox ORDER BY sequence LIMIT 100')
      .toArray();
    if (pending.length === 0) return;
    try {
      await this.env.WEBHOOKS.sendBatch(pending.map((row) => ({ body: JSON.parse(row.body) as WebhookEvent })));
      this.sql.exec('DELETE FROM webhook_outbox WHERE sequence <= ?', pending[pending.length - 1]!.sequence);
    } catch (error) {
      log('webhook_enqueue_failed', { streamId: this.load()?.streamId, error: String(error) });
    }
  }

  private async scheduleAlarm(doc: StreamDocument): Promise<void> {
    const outboxWaiting = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM webhook_outbox').one().n > 0;
    const deadlines = [nextDeadline(doc.lifecycle), outboxWaiting ? Date.now() + WEBHOOK_RETRY_MS : null].filter(
      (d): d is number => d !== null,
    );
    const at = deadlines.length ? Math.min(...deadlines) : null;
    this.sql.exec('UPDATE stream SET alarm_at = ? WHERE id = 1', at);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  private async kickEncoder(streamId: string, effect: Extract<LifecycleEffect, { kind: 'kick_encoder' }>) {
    const command: KickCommand = { streamId, sessionId: effect.sessionId, reason: effect.reason, final: effect.final };
    try {
      const status = await commandOrigin(this.env.ORIGIN_SECRET, effect.originUrl, '/control/kick', command);
      log('encoder_kicked', { streamId, sessionId: effect.sessionId, status });
    } catch (error) {
      // The origin's own heartbeat check or the encoder's disconnect will end the session anyway.
      log('encoder_kick_failed', { streamId, sessionId: effect.sessionId, error: String(error) });
    }
  }

  /** An alarm means the earliest deadline arrived: heartbeat loss, reconnect window expiry, or an outbox retry. */
  override async alarm(): Promise<void> {
    let doc = this.load();
    if (!doc) return;
    const scheduledAt = this.sql.exec<{ alarm_at: number | null }>('SELECT alarm_at FROM stream WHERE id = 1').one()
      .alarm_at;
    const due = Math.max(Date.now(), scheduledAt ?? 0);
    const now = Date.now();
    if (doc.lifecycle.heartbeatDeadline !== null && doc.lifecycle.heartbeatDeadline <= due) {
      const result = await this.apply(doc, { type: 'heartbeat_lost', at: now });
      if (result.ok) doc = result.doc;
    }
    if (doc.lifecycle.reconnectDeadline !== null && doc.lifecycle.reconnectDeadline <= due) {
      const result = await this.apply(doc, { type: 'reconnect_window_expired', at: now });
      if (result.ok) doc = result.doc;
    }
    await this.flushWebhookOutbox();
    await this.scheduleAlarm(doc);
  }

  // ── public API (RPC from the Worker's routes) ────────────────────────────────────────────────────

  async create(input: CreateStreamInput): Promise<LiveStream> {
    if (this.load()) throw new Error(`stream ${input.streamId} already exists`);
    const now = new Date().toISOString();
    const doc: StreamDocument = {
      streamId: input.streamId,
      workspaceId: input.workspaceId,
      keyHash: input.keyHash,
      srtSecret: input.srtSecret,
      playbackIds: [{ id: input.playbackId, accessPolicy: input.accessPolicy }],
      settings: input.settings,
      lifecycle: initialLifecycle({
        record: input.settings.record,
        reconnectWindowSeconds: input.settings.reconnectWindow,
      }),
      createdAt: now,
      updatedAt: now,
    };
    // The index rows exist before the caller hears of the stream: listable and publishable at once.
    await this.env.DB.batch([
      this.env.DB.prepare(
        'INSERT INTO streams (id, workspace_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).bind(doc.streamId, doc.workspaceId, doc.lifecycle.status, now, now),
      this.env.DB.prepare('INSERT INTO stream_keys (key_hash, stream_id) VALUES (?, ?)').bind(input.keyHash, doc.streamId),
      this.env.DB.prepare(
        'INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy) VALUES (?, ?, ?, ?)',
      ).bind(input.playbackId, doc.streamId, doc.workspaceId, input.accessPolicy),
    ]);
    this.ctx.storage.transactionSync(() => {
      this.save(doc);
      this.recordEffect(doc, { kind: 'emit', event: 'CREATED', status: 'NOT_STARTED', sessionId: null, reason: null }, Date.now());
    });
    await this.flushWebhookOutbox();
    await this.scheduleAlarm(doc);
    return this.view(doc, true);
  }

  async get(workspaceId: string): Promise<LiveStream | null> {
    const doc = this.loadLive();
    return doc && doc.workspaceId === workspaceId ? this.view(doc, true) : null;
  }

  private async command(
    workspaceId: string,
    input: (doc: StreamDocument) => LifecycleInput,
    mutate?: (doc: StreamDocument) => void,
  ): Promise<StreamCommandResult> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return { ok: false, code: 'not_found' };
    const result = await this.apply(doc, input(doc), mutate);
    if (!result.ok) return { ok: false, code: 'refused', refusal: result.refusal, detail: result.detail };
    return { ok: true, stream: this.view(result.doc, true) };
  }

  enable(workspaceId: string) {
    return this.command(workspaceId, () => ({ type: 'enable', at: Date.now() }));
  }

  disable(workspaceId: string) {
    return this.command(workspaceId, () => ({ type: 'disable', at: Date.now() }));
  }

  complete(workspaceId: string) {
    return this.command(workspaceId, () => ({ type: 'complete', at: Date.now() }));
  }

  remove(workspaceId: string) {
    return this.command(workspaceId, () => ({ type: 'delete', at: Date.now() }));
  }

  update(workspaceId: string, patch: UpdateLiveStreamRequest) {
    return this.command(
      workspaceId,
      () => ({ type: 'update', at: Date.now(), record: patch.record, reconnectWindowSeconds: patch.reconnectWindow }),
      (doc) => {
        const { accessPolicy, ...settings } = patch;
        for (const [key, value] of Object.entries(settings)) {
          if (value !== undefined) (doc.settings as unknown as Record<string, unknown>)[key] = value;
        }
        if (accessPolicy) doc.playbackIds = doc.playbackIds.map((p) => ({ ...p, accessPolicy }));
      },
    );
  }

  /**
   * A new stream key (and SRT secret): the old key stops authorizing at once, here and in D1,
   * and an encoder publishing with it is disconnected.
   */
  async resetStreamKey(
    workspaceId: string,
    keys: { keyHash: string; srtSecret: string },
  ): Promise<StreamCommandResult> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return { ok: false, code: 'not_found' };
    const session = doc.lifecycle.session;
    if (session?.publisherConnected) {
      // The running broadcast loses its encoder like any disconnect: the window lets it return with the new key.
      const lost = await this.apply(doc, { type: 'publish_done', at: Date.now(), sessionId: session.id, reason: 'stream key reset' });
      if (lost.ok) {
        this.ctx.waitUntil(
          this.kickEncoder(doc.streamId, {
            kind: 'kick_encoder',
            sessionId: session.id,
            originUrl: session.originUrl,
            reason: 'stream key reset',
            final: false,
          }),
        );
      }
    }
    const current = this.load()!;
    const next = { ...current, keyHash: keys.keyHash, srtSecret: keys.srtSecret, updatedAt: new Date().toISOString() };
    this.save(next);
    await this.env.DB.batch([
      this.env.DB.prepare('DELETE FROM stream_keys WHERE stream_id = ?').bind(doc.streamId),
      this.env.DB.prepare('INSERT INTO stream_keys (key_hash, stream_id) VALUES (?, ?)').bind(keys.keyHash, doc.streamId),
    ]);
    return { ok: true, stream: this.view(next, true) };
  }

  async sessions(workspaceId: string, recordedOnly: boolean): Promise<Session[] | null> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return null;
    const recordings = new Map(this.sql.exec<RecordingRow>('SELECT * FROM recordings').toArray().map((r) => [r.session_id, r]));
    return this.sql
      .exec<SessionRow>(`SELECT * FROM sessions ${recordedOnly ? 'WHERE record = 1' : ''} ORDER BY started_at DESC`)
      .toArray()
      .map((row) => sessionView(row, doc, recordings.get(row.id)));
  }

  // ── recordings ──────────────────────────────────────────────────────────────────────────────────

  private recordingRow(column: 'id' | 'session_id', value: string): RecordingRow | undefined {
    return this.sql.exec<RecordingRow>(`SELECT * FROM recordings WHERE ${column} = ?`, value).toArray()[0];
  }

  /** The D1 rows that list a recording in its workspace and resolve its playback ID. */
  private async indexRecording(doc: StreamDocument, row: RecordingRow): Promise<void> {
    const artifacts = row.artifacts ? (JSON.parse(row.artifacts) as RecordingArtifacts) : null;
    await this.env.DB.batch([
      this.env.DB.prepare(
        `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
      ).bind(row.id, doc.workspaceId, doc.streamId, row.session_id, row.status, new Date(row.created_at).toISOString(), new Date(row.updated_at).toISOString()),
      this.env.DB.prepare(
        `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
         VALUES (?, ?, ?, ?, 'recording', ?, ?)
         ON CONFLICT (id) DO UPDATE SET media_prefix = excluded.media_prefix`,
      ).bind(row.playback_id, doc.streamId, doc.workspaceId, doc.playbackIds[0]!.accessPolicy, row.id, row.status === 'ready' ? (artifacts?.hlsPrefix ?? null) : null),
    ]);
  }

  async recordings(workspaceId: string, ids: string[]): Promise<Recording[]> {
    const doc = this.load();
    if (!doc || doc.workspaceId !== workspaceId) return [];
    return ids
      .map((id) => this.recordingRow('id', id))
      .filter((row): row is RecordingRow => row !== undefined)
      .map((row) => recordingView(row, doc.streamId));
  }

  async recording(workspaceId: string, recordingId: string): Promise<Recording | null> {
    return (await this.recordings(workspaceId, [recordingId]))[0] ?? null;
  }

  /** Deletes a recording and its media in R2; its playback ID stops working at once. */
  async deleteRecording(workspaceId: string, recordingId: string): Promise<boolean> {
    const doc = this.load();
    const row = this.recordingRow('id', recordingId);
    if (!doc || doc.workspaceId !== workspaceId || !row) return false;
    this.sql.exec('DELETE FROM recordings WHERE id = ?', recordingId);
    await this.env.DB.batch([
      this.env.DB.prepare('DELETE FROM recordings WHERE id = ?').bind(recordingId),
      this.env.DB.prepare('DELETE FROM playback_ids WHERE id = ?').bind(row.playback_id),
    ]);
    await deleteR2Prefix(this.env.MEDIA, recordingKeyPrefix(doc.streamId, row.session_id) + '/');
    return true;
  }

  /** Asks the origin that holds the session to build the recording again (after a failure). */
  async retryRecording(workspaceId: string, recordingId: string): Promise<{ ok: true; recording: Recording } | { ok: false; code: 'not_found' | 'not_failed' | 'origin_unavailable'; detail: string }> {
    const doc = this.load();
    const row = this.recordingRow('id', recordingId);
    if (!doc || doc.workspaceId !== workspaceId || !row) return { ok: false, code: 'not_found', detail: 'no such recording' };
    if (row.status !== 'failed') return { ok: false, code: 'not_failed', detail: `the recording is ${row.status}; only a failed one can be retried` };
    const session = this.sql.exec<SessionRow>('SELECT * FROM sessions WHERE id = ?', row.session_id).one();
    const command: FinalizeCommand = { streamId: doc.streamId, sessionId: row.session_id };
    const status = await commandOrigin(this.env.ORIGIN_SECRET, session.origin_url, '/control/finalize', command).catch(() => 0);
    if (status !== 200) return { ok: false, code: 'origin_unavailable', detail: 'the origin holding this session did not accept the job' };
    this.sql.exec("UPDATE recordings SET status = 'processing', error = NULL, updated_at = ? WHERE id = ?", Date.now(), recordingId);
    const updated = this.recordingRow('id', recordingId)!;
    await this.indexRecording(doc, updated);
    return { ok: true, recording: recordingView(updated, doc.streamId) };
  }

  // ── clips ───────────────────────────────────────────────────────────────────────────────────────

  /** Cuts a clip from a session (the current one by default): validated here, cut by the origin that holds it. */
  async createClip(workspaceId: string, request: CreateClipRequest): Promise<ClipResult> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return { ok: false, code: 'not_found', detail: 'no such live stream' };
    const session = request.sessionId
      ? this.sql.exec<SessionRow>('SELECT * FROM sessions WHERE id = ?', request.sessionId).toArray()[0]
      : this.sql.exec<SessionRow>('SELECT * FROM sessions ORDER BY started_at DESC LIMIT 1').toArray()[0];
    if (!session) {
      return { ok: false, code: 'invalid', field: request.sessionId ? 'sessionId' : '(body)', detail: request.sessionId ? 'no such session on this stream' : 'the stream has no session to clip from yet' };
    }
    const recording = this.recordingRow('session_id', session.id);
    const recorded = recording?.status === 'ready' && recording.artifacts ? (JSON.parse(recording.artifacts) as RecordingArtifacts).duration : null;
    const live = session.stats ? (JSON.parse(session.stats) as SessionStats).sourceSegmentsDuration : 0;
    // Live stats trail the media by up to one report, so a live range may reach a little past them.
    const problem = validateClipRange({ ...request, available: recorded ?? live, tolerance: recorded === null ? 2 : 0.001 });
    if (problem) return { ok: false, code: 'invalid', field: problem.field, detail: problem.message };

    const now = Date.now();
    const row: ClipRow = {
      id: newId('clip', 16),
      session_id: session.id,
      playback_id: newPlaybackId(),
      name: request.name ?? null,
      status: 'processing',
      start_time: request.startTime,
      end_time: request.endTime,
      accurate: request.accurate ? 1 : 0,
      artifacts: null,
      error: null,
      created_at: now,
      updated_at: now,
    };
    const command: ClipCommand = {
      clipId: row.id,
      streamId: doc.streamId,
      sessionId: session.id,
      startTime: request.startTime,
      endTime: request.endTime,
      accurate: request.accurate,
    };
    const status = await commandOrigin(this.env.ORIGIN_SECRET, session.origin_url, '/control/clips', command).catch(() => 0);
    if (status !== 202 && status !== 200) {
      return { ok: false, code: 'origin_unavailable', detail: 'the origin holding this session did not accept the clip job' };
    }
    this.sql.exec(
      `INSERT INTO clips (id, session_id, playback_id, name, status, start_time, end_time, accurate, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id, row.session_id, row.playback_id, row.name, row.status, row.start_time, row.end_time, row.accurate, now, now,
    );
    await this.env.DB.prepare(
      `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id) VALUES (?, ?, ?, ?, 'clip', ?)`,
    )
      .bind(row.playback_id, doc.streamId, doc.workspaceId, doc.playbackIds[0]!.accessPolicy, row.id)
      .run();
    return { ok: true, clip: clipView(row, doc.streamId) };
  }

  /** The stream's clips, newest first, `limit` at a time after the cursor (a clip id). */
  async clips(workspaceId: string, limit: number, after: string | null): Promise<{ clips: Clip[]; more: boolean } | null> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return null;
    const anchor = after ? this.sql.exec<ClipRow>('SELECT * FROM clips WHERE id = ?', after).toArray()[0] : undefined;
    const rows = anchor
      ? this.sql
          .exec<ClipRow>(
            'SELECT * FROM clips WHERE created_at < ? OR (created_at = ? AND id < ?) ORDER BY created_at DESC, id DESC LIMIT ?',
            anchor.created_at, anchor.created_at, anchor.id, limit + 1,
          )
          .toArray()
      : this.sql.exec<ClipRow>('SELECT * FROM clips ORDER BY created_at DESC, id DESC LIMIT ?', limit + 1).toArray();
    return { clips: rows.slice(0, limit).map((row) => clipView(row, doc.streamId)), more: rows.length > limit };
  }

  // ── origin-facing API ───────────────────────────────────────────────────────────────────────────

  /** Decides whether an encoder may publish; accepting it is the ON_PUBLISH transition (one publisher at a time). */
  async authorize(request: {
    keyHash: string;
    protocol: IngestProtocol;
    originId: string;
    originUrl: string;
    /** Only ask: the verdict and connection settings, with no transition (SRT, before its handshake completes). */
    check?: boolean;
  }): Promise<AuthorizeResult> {
    const doc = this.load();
    if (!doc || doc.keyHash !== request.keyHash) {
      return { ok: false, refusal: 'unknown_stream_key', detail: 'no stream has this key' };
    }
    const input: LifecycleInput = {
      type: 'publish',
      at: Date.now(),
      newSessionId: newId('ses', 16),
      originId: request.originId,
      originUrl: request.originUrl,
    };
    let granted: { doc: StreamDocument; resumed: boolean };
    if (request.check) {
      const verdict = transition(doc.lifecycle, input);
      if (!verdict.ok) return verdict;
      granted = { doc: { ...doc, lifecycle: verdict.state }, resumed: verdict.resumed ?? false };
    } else {
      const result = await this.apply(doc, input);
      if (!result.ok) return result;
      granted = result;
    }
    const { settings, lifecycle } = granted.doc;
    return {
      ok: true,
      grant: {
        streamId: doc.streamId,
        sessionId: lifecycle.session!.id,
        resume: granted.resumed,
        profiles: settings.profiles,
        maxResolution: settings.maxResolution,
        record: settings.record,
        reconnectWindow: settings.reconnectWindow,
        simulcast: [],
        srtLatency: settings.srtLatency,
        ...(request.protocol === 'srt' ? { srtPassphrase: doc.srtSecret } : {}),
      },
    };
  }

  /** Applies the origin's events in the order given; an id seen before changes nothing. */
  async applyOriginEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]> {
    const outcomes: OriginEventOutcome[] = [];
    for (const event of events) {
      const seen = this.sql.exec('SELECT 1 FROM seen_origin_events WHERE id = ?', event.id).toArray().length > 0;
      if (seen) {
        outcomes.push({ id: event.id, outcome: 'duplicate' });
        continue;
      }
      outcomes.push(await this.applyOriginEvent(event));
      this.sql.exec('INSERT INTO seen_origin_events (id, seen_at) VALUES (?, ?)', event.id, Date.now());
    }
    this.sql.exec('DELETE FROM seen_origin_events WHERE seen_at < ?', Date.now() - SEEN_EVENT_TTL_MS);
    return outcomes;
  }

  private async applyOriginEvent(event: OriginEvent): Promise<OriginEventOutcome> {
    const doc = this.load();
    if (!doc || doc.streamId !== event.streamId) return { id: event.id, outcome: 'refused', reason: 'unknown stream' };
    const at = Date.parse(event.at);
    let input: LifecycleInput;
    switch (event.type) {
      case 'publish':
        // The lease was taken at authorize time; this confirms the media started, and refreshes the heartbeat.
        input = { type: 'heartbeat', at, sessionId: event.sessionId };
        break;
      case 'stats':
        input = { type: 'heartbeat', at, sessionId: event.sessionId };
        this.sql.exec('UPDATE sessions SET stats = ? WHERE id = ?', JSON.stringify(event.data), event.sessionId);
        break;
      case 'publish_done':
        input = { type: 'publish_done', at, sessionId: event.sessionId, reason: event.data.reason };
        break;
      case 'recording_started':
        input = { type: 'recording_started', at, sessionId: event.sessionId };
        break;
      case 'error':
        if (doc.lifecycle.session?.id !== event.sessionId) {
          return { id: event.id, outcome: 'refused', reason: 'not the current session' };
        }
        input = { type: 'error', at, reason: event.data.reason };
        break;
      case 'recording_ready':
      case 'recording_failed': {
        const row = this.recordingRow('session_id', event.sessionId);
        if (!row) return { id: event.id, outcome: 'refused', reason: 'the session has no recording' };
        const ready = event.type === 'recording_ready';
        this.sql.exec(
          'UPDATE recordings SET status = ?, artifacts = ?, error = ?, source_ready_at = ?, updated_at = ? WHERE id = ?',
          ready ? 'ready' : 'failed',
          ready ? JSON.stringify(event.data) : row.artifacts,
          ready ? null : event.data.reason,
          ready ? at : row.source_ready_at,
          Date.now(),
          row.id,
        );
        await this.indexRecording(doc, this.recordingRow('id', row.id)!);
        input = ready
          ? { type: 'recording_ready', at, sessionId: event.sessionId, recordingId: row.id }
          : { type: 'recording_failed', at, sessionId: event.sessionId, recordingId: row.id, reason: event.data.reason };
        break;
      }
      case 'clip_ready':
      case 'clip_failed': {
        const clip = this.sql.exec<ClipRow>('SELECT * FROM clips WHERE id = ?', event.data.clipId).toArray()[0];
        if (!clip) return { id: event.id, outcome: 'refused', reason: 'no such clip' };
        const ready = event.type === 'clip_ready';
        this.sql.exec(
          'UPDATE clips SET status = ?, artifacts = ?, error = ?, updated_at = ? WHERE id = ?',
          ready ? 'ready' : 'failed',
          ready ? JSON.stringify(event.data) : null,
          ready ? null : event.data.reason,
          Date.now(),
          clip.id,
        );
        if (!ready) return { id: event.id, outcome: 'applied' };
        await this.env.DB.prepare('UPDATE playback_ids SET media_prefix = ? WHERE id = ?')
          .bind(event.data.hlsPrefix, clip.playback_id)
          .run();
        input = { type: 'clip_ready', at, clipId: clip.id };
        break;
      }
    }
    const result = await this.apply(doc, input);
    return result.ok
      ? { id: event.id, outcome: 'applied' }
      : { id: event.id, outcome: 'refused', reason: `${result.refusal}: ${result.detail}` };
  }

  /** Where the edge fetches this stream's live HLS from, if anywhere. */
  async liveOrigin(): Promise<{ originUrl: string; sessionId: string } | null> {
    const session = this.loadLive()?.lifecycle.session;
    return session ? { originUrl: session.originUrl, sessionId: session.id } : null;
  }
}
