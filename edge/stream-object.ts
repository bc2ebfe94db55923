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
} from '../shared/schemas/internal.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { newId } from '../shared/identifiers.ts';
import { signRequest } from '../shared/request-signing.ts';
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

export interface SessionRecord {
  id: string;
  startedAt: number;
  endedAt: number | null;
  reconnects: number;
  originId: string;
  lastSeen: number | null;
  record: boolean;
  stats: SessionStats | null;
}

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
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, reconnects INTEGER NOT NULL,
        origin_id TEXT NOT NULL, last_seen INTEGER, record INTEGER NOT NULL, stats TEXT);
      CREATE TABLE IF NOT EXISTS seen_origin_events (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
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
          data: { ...data, status: effect.status },
        };
        this.sql.exec('INSERT INTO webhook_outbox (sequence, body) VALUES (?, ?)', sequence, JSON.stringify(event));
        return;
      }
      case 'open_session':
        this.sql.exec(
          `INSERT INTO sessions (id, started_at, reconnects, origin_id, last_seen, record) VALUES (?, ?, 0, ?, ?, ?)`,
          effect.session.id,
          effect.session.startedAt,
          effect.session.originId,
          effect.session.lastSeen,
          doc.settings.record ? 1 : 0,
        );
        return;
      case 'end_session':
        this.sql.exec('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL', effect.sessionId, effect.at);
        return;
      case 'kick_encoder':
        return; // carried out after commit
    }
  }

  private async afterCommit(doc: StreamDocument, effects: LifecycleEffect[]): Promise<void> {
    const session = doc.lifecycle.session;
    if (session) {
      this.sql.exec(
        'UPDATE sessions SET reconnects = ?, origin_id = ?, last_seen = ? WHERE id = ?',
        session.reconnects,
        session.originId,
        session.lastSeen,
        session.id,
      );
    }
    for (const effect of effects) {
      if (effect.kind === 'kick_encoder') this.ctx.waitUntil(this.kickEncoder(doc.streamId, effect));
    }
    if (effects.some((e) => e.kind === 'emit')) await this.syncIndex(doc);
    await this.flushWebhookOutbox();
    await this.scheduleAlarm(doc);
  }

  /** Keeps D1's workspace index in step with this object, so lists and status filters read what just happened. */
  private async syncIndex(doc: StreamDocument): Promise<void> {
    if (doc.lifecycle.deleted) {
      await this.env.DB.batch([
        this.env.DB.prepare('DELETE FROM stream_keys WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare('DELETE FROM playback_ids WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare('DELETE FROM streams WHERE id = ?').bind(doc.streamId),
      ]);
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
    const path = '/control/kick';
    const command: KickCommand = { streamId, sessionId: effect.sessionId, reason: effect.reason, final: effect.final };
    const body = JSON.stringify(command);
    try {
      const headers = await signRequest(this.env.ORIGIN_SECRET, 'POST', path, body);
      const response = await fetch(new URL(path, effect.originUrl), {
        method: 'POST',
        body,
        headers: { ...headers, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(3000),
      });
      log('encoder_kicked', { streamId, sessionId: effect.sessionId, status: response.status });
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

  async sessions(workspaceId: string): Promise<SessionRecord[] | null> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return null;
    return this.sql
      .exec<{
        id: string; started_at: number; ended_at: number | null; reconnects: number; origin_id: string;
        last_seen: number | null; record: number; stats: string | null;
      }>('SELECT * FROM sessions ORDER BY started_at DESC')
      .toArray()
      .map((row) => ({
        id: row.id,
        startedAt: row.started_at,
        endedAt: row.ended_at,
        reconnects: row.reconnects,
        originId: row.origin_id,
        lastSeen: row.last_seen,
        record: row.record === 1,
        stats: row.stats ? (JSON.parse(row.stats) as SessionStats) : null,
      }));
  }

  // ── origin-facing API ───────────────────────────────────────────────────────────────────────────

  /** Decides whether an encoder may publish; accepting it is the ON_PUBLISH transition (one publisher at a time). */
  async authorize(request: {
    keyHash: string;
    protocol: IngestProtocol;
    originId: string;
    originUrl: string;
  }): Promise<AuthorizeResult> {
    const doc = this.load();
    if (!doc || doc.keyHash !== request.keyHash) {
      return { ok: false, refusal: 'unknown_stream_key', detail: 'no stream has this key' };
    }
    const result = await this.apply(doc, {
      type: 'publish',
      at: Date.now(),
      newSessionId: newId('ses', 16),
      originId: request.originId,
      originUrl: request.originUrl,
    });
    if (!result.ok) return result;
    const { settings, lifecycle } = result.doc;
    return {
      ok: true,
      grant: {
        streamId: doc.streamId,
        sessionId: lifecycle.session!.id,
        resume: result.resumed,
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
