// StreamObject: one Durable Object per live stream, the single source of truth for its lifecycle.
// It persists the stream document, activities, sessions, a webhook outbox and its pending side effects in its SQLite
// storage, runs the pure lifecycle transition, and carries out the effects: D1 index updates, Queue sends, kicks.
//
// Crash safety (issue 10 #6): a state change, its activities and webhook events, the side effects it owes (rows in
// pending_effects) and the alarm are written in one synchronous block, so they commit together. Side effects are then
// carried out, and whatever fails (or never ran, because the object died) is redone by the alarm. No await separates
// reading the state from writing it, so concurrent requests cannot both act on the same state or event id.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.ts';
import {
  transition,
  initialLifecycle,
  nextDeadline,
  statsOverdue,
  reconnectWindowOver,
  DEFAULT_LIFECYCLE_CONFIG,
  HEARTBEAT_TIMEOUT_MS,
  type OriginLiveness,
  type LifecycleConfig,
  type LifecycleInput,
  type LifecycleEffect,
  type Refusal,
} from './lifecycle.ts';
import { liveStreamView, type StreamDocument, type StreamSettings } from './live-stream-view.ts';
import { latencyModeLock } from './low-latency/latency-mode-lock.ts';
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
  HoldsQuery,
} from '../shared/schemas/internal.ts';
import { HoldsAnswer } from '../shared/schemas/internal.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { validateClipRange } from '../shared/clip-range.ts';
import {
  type Session,
  type Recording,
  type Clip,
  type CreateClipRequest,
} from '../shared/schemas/recording.ts';
import { deleteR2Prefix, durableSessionPrefix } from './media-storage.ts';
import { issueMediaGrant } from '../shared/media-grant.ts';
import { newId, newPlaybackId } from '../shared/identifiers.ts';
import { commandOrigin, sendOriginCommand } from './origin-commands.ts';
import {
  MEDIA_TABLES,
  migrateMediaTables,
  recordingIdFor,
  clipKeyPrefix,
  recordingView,
  sessionView,
  clipView,
  type SessionRow,
  type RecordingRow,
  type ClipRow,
} from './stream-media-store.ts';
import { forgetLibraryRowStatement, libraryRowStatement, type LibrarySource } from './video/library-rows.ts';
import { planBatches } from './webhook-outbox-batches.ts';
import { heldElsewhere, decideTakeover, reclaimableHere, HOLDER_PROBE_TIMEOUT_MS, type HeldSession, type HolderAnswer } from './takeover.ts';
import { signedOriginFetch } from './origin-fetch.ts';
import { originLiveness } from './origin-liveness.ts';
import { log } from './log.ts';
import { OwedEffects } from './owed-effects.ts';
import { armEarliestAlarm } from './object-alarm.ts';
import { pickOrigin } from './origin-registry.ts';
import { RecordingFlow, NOT_HOLDER, EXPORT_DISPATCH_ATTEMPTS, secondsSetting, type RecordingEffect, type JobEvent } from './stream/recording-flow.ts';
import { ClipJobs } from './stream/clip-jobs.ts';
import type { LivePlayback } from './playback-cache.ts';
import { EventFlow, simuliveSourcePrefixOf, type EventCommandResult, type EventCreation, type EventOwedEffect } from './event/event-flow.ts';
import type { LiveEvent, UpdateLiveEventRequest } from '../shared/schemas/live-event.ts';
import type { LiveEventOperation } from '../shared/live-event-vocabulary.ts';
import { consumeSimuliveTicket, issueSimuliveTicket } from './event/simulive-ticket.ts';
import { Destinations, type DestinationHostRules, type DestinationsEffect, type DestinationResult } from './stream/destinations.ts';
import type { CreateDestinationRequest, Destination, UpdateDestinationRequest } from '../shared/schemas/destination.ts';

/** A kick nobody answers is given up after this many attempts: the origin's own deadlines end the session. */
const KICK_ATTEMPTS = 5;
/** A clip job's media grant lasts this long (a clip is at most minutes of media). */
const CLIP_GRANT_TTL_MS = 3600_000;
/** Effects that reach outside our platform (an origin that may be gone, R2 bulk deletes): never awaited by an answer. */
const BACKGROUND_EFFECTS: ReadonlySet<string> = new Set(['kick', 'media_delete', 'recording_finalize', 'recording_export', 'destinations_sync', 'event_simulive']);
/** Events only the origin holding their session may send (issue 11); job events are the job's origin's. */
const SESSION_HOLDER_EVENTS: ReadonlySet<OriginEvent['type']> = new Set(['publish', 'stats', 'publish_done', 'recording_started', 'error', 'media_durable', 'destination_status']);
/** Origin event ids are remembered this long; the origin's signature window is 60 s, so a day is ample. */
const SEEN_EVENT_TTL_MS = 24 * 3600_000;
/** How long a media grant lets an origin write its session's prefix; every authorize (a reconnect) issues a fresh one. */
const MEDIA_GRANT_TTL_MS = 24 * 3600_000;

export type StreamCommandResult =
  | { ok: true; stream: LiveStream }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'refused'; refusal: Refusal; detail: string }
  /** A setting that cannot change in the stream's state (latencyMode while live): 409 naming the field. */
  | { ok: false; code: 'locked'; field: string; detail: string };

export type AuthorizeResult =
  | { ok: true; grant: AuthorizeIngestResponse }
  | { ok: false; refusal: Refusal; detail: string };

/** A live event and the stream it owns, created together (issue 12): `playbackId` is the stream's, the event's preview. */
export type CreateEventInput = CreateStreamInput & EventCreation;

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
  | { ok: false; code: 'invalid'; field: string; detail: string }
  | { ok: false; code: 'busy'; detail: string; retryAfterSeconds: number };

type Committed = { ok: true; doc: StreamDocument; resumed: boolean } | { ok: false; refusal: Refusal; detail: string };

/**
 * The side effects a commit owes, one row each (the key de-duplicates: a second index sync owed is the same row).
 * Keys sort in the order they are carried out: kicks first, the webhook flush last.
 */
type PendingEffect =
  | { kind: 'kick'; command: KickCommand; originId: string; originUrl: string }
  | { kind: 'media_delete'; prefixes: string[] }
  | { kind: 'recording_index'; recordingId: string }
  | { kind: 'clip_index'; playbackId: string; hlsPrefix: string }
  | { kind: 'stream_index' }
  | { kind: 'stream_keys'; keyHash: string }
  | { kind: 'webhook_flush' }
  | DestinationsEffect
  | EventOwedEffect
  | RecordingEffect;

function effectKey(effect: PendingEffect): string {
  switch (effect.kind) {
    case 'kick':
      return `kick:${effect.command.sessionId}`;
    case 'media_delete':
      return 'media_delete';
    case 'recording_index':
      return `recording_index:${effect.recordingId}`;
    case 'clip_index':
      return `recording_index~clip:${effect.playbackId}`;
    case 'stream_index':
      return 'stream_index';
    case 'stream_keys':
      return 'stream_keys';
    case 'webhook_flush':
      return 'webhook_flush';
    case 'destinations_sync':
      return 'destinations_sync';
    case 'event_index':
      return `event_index:${effect.eventId}`;
    case 'event_simulive':
      return `event_simulive:${effect.eventId}`;
    case 'event_playback_purge':
      return `event_playback_purge:${effect.eventId}`;
    case 'recording_finalize':
    case 'recording_settle':
    case 'recording_export':
      return `${effect.kind}:${effect.recordingId}`;
  }
}

export class StreamObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The side effects its commits owe (edge/owed-effects.ts): pending_effects, passes, retries with backoff. */
  private readonly effects: OwedEffects<PendingEffect>;
  /** The recording region: watchable, export jobs, retention (edge/stream/recording-flow.ts). */
  private readonly recordingFlow: RecordingFlow;
  /** Processing clips whose origin's heartbeat no longer lists them (it restarted) are failed from the alarm. */
  private readonly clipJobs: ClipJobs;
  /** Simulcast destinations: their API, targets for the holder, status from it (edge/stream/destinations.ts). */
  private readonly destinations: Destinations;
  /** The stream's live event, if it was created with one (edge/event/event-flow.ts). */
  private readonly eventFlow: EventFlow;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.eventFlow = this.hostEvent();
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS stream (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL, alarm_at INTEGER);
      CREATE TABLE IF NOT EXISTS activities (
        sequence INTEGER PRIMARY KEY, event TEXT NOT NULL, stream_status TEXT NOT NULL,
        at TEXT NOT NULL, session_id TEXT, reason TEXT);
      CREATE TABLE IF NOT EXISTS webhook_outbox (sequence INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS webhook_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS seen_origin_events (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS media_durable (session_id TEXT PRIMARY KEY, figures TEXT NOT NULL, final INTEGER NOT NULL, at INTEGER NOT NULL);
      ${MEDIA_TABLES}
    `);
    migrateMediaTables(this.sql);
    this.effects = new OwedEffects<PendingEffect>({
      sql: this.sql,
      ctx,
      key: effectKey,
      background: BACKGROUND_EFFECTS,
      // Effects owed by an effect of a pass (a recording made watchable owes its index and webhook) are due now too.
      rounds: 4,
      carryOut: (effect) => this.carryOut(effect),
      giveUp: (effect, attempts) => this.giveUp(effect, attempts),
      transact: (writes) => {
        writes();
        const doc = this.load();
        if (doc) this.armAlarm(doc);
      },
      logContext: () => ({ streamId: this.load()?.streamId }),
    });
    this.recordingFlow = new RecordingFlow({
      sql: this.sql,
      env: () => this.env,
      streamId: () => this.load()?.streamId ?? null,
      load: () => this.load(),
      commit: (doc, input, also) => void this.commit(doc, input, { also }),
      transact: (writes) =>
        this.ctx.storage.transactionSync(() => {
          writes();
          const doc = this.load();
          if (doc) this.armAlarm(doc);
        }),
      owe: (effect) => this.owe(effect),
    });
    this.clipJobs = new ClipJobs({
      sql: this.sql,
      env: () => this.env,
      streamId: () => this.load()?.streamId ?? null,
      transact: (writes) =>
        this.ctx.storage.transactionSync(() => {
          writes();
          const doc = this.load();
          if (doc) this.armAlarm(doc);
        }),
    });
    this.destinations = new Destinations({
      sql: this.sql,
      env: () => this.env,
      owe: (effect) => this.owe(effect),
      emit: (event, sessionId, reason, destinationId) => {
        const doc = this.load();
        if (doc) this.recordEffect(doc, { kind: 'emit', event, status: doc.lifecycle.status, sessionId, reason, subject: { kind: 'destination', id: destinationId } }, Date.now());
      },
    });
  }

  /** The event flow's view of this object: the stream's inputs run inside the caller's transaction, hooks included. */
  private hostEvent(): EventFlow {
    return new EventFlow({
      sql: this.sql,
      env: () => this.env,
      load: () => this.load(),
      streamInput: (input, mutate) => {
        const doc = this.load();
        return doc ? this.commitWrites(doc, input, mutate).ok : false;
      },
      owe: (effect) => this.owe(effect),
      nextWebhookSequence: () => this.nextWebhookSequence(),
      streamView: (doc) => this.view(doc),
      transact: (writes) =>
        this.ctx.storage.transactionSync(() => {
          writes();
          const doc = this.load();
          if (doc) this.armAlarm(doc);
        }),
    });
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

  private lifecycleConfig(): LifecycleConfig {
    return {
      recordingWatchableTimeoutMs: secondsSetting(this.env.RECORDING_WATCHABLE_TIMEOUT_SECONDS, DEFAULT_LIFECYCLE_CONFIG.recordingWatchableTimeoutMs),
    };
  }

  // ── the lifecycle shell: commit synchronously, then carry out what the commit owes ──────────────

  /**
   * Runs one lifecycle input on `doc`, which the caller loaded in the same synchronous turn. The new state, its
   * activities, webhook events, owed side effects and the alarm are written together; nothing leaves the object here.
   * `also` adds writes of the caller's to the same transaction (they happen whether or not the input is refused).
   */
  private commit(
    doc: StreamDocument,
    input: LifecycleInput,
    options: { mutate?: (doc: StreamDocument) => void; also?: () => void; then?: () => void } = {},
  ): Committed {
    let outcome: Committed = { ok: false, refusal: 'stale_session', detail: 'not run' };
    this.ctx.storage.transactionSync(() => {
      options.also?.();
      outcome = this.commitWrites(doc, input, options.mutate);
      if (outcome.ok) options.then?.();
      this.armAlarm(outcome.ok ? outcome.doc : doc);
    });
    return outcome;
  }

  /** The writes of a commit; the caller holds the transaction. */
  private commitWrites(doc: StreamDocument, input: LifecycleInput, mutate?: (doc: StreamDocument) => void): Committed {
    const result = transition(doc.lifecycle, input, this.lifecycleConfig());
    if (!result.ok) return result;
    const next: StreamDocument = { ...doc, lifecycle: result.state, updatedAt: new Date(input.at).toISOString() };
    mutate?.(next);
    this.save(next);
    const session = next.lifecycle.session;
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
    for (const effect of result.effects) this.recordEffect(next, effect, input.at);
    if (next.lifecycle.deleted && !doc.lifecycle.deleted) {
      // Recordings and clips outlive their stream (issue 13) unless asked: remove({ deleteMedia }) forgets them.
      this.keepMedia();
      this.destinations.forgetAll();
    }
    if (result.effects.some((e) => e.kind === 'emit')) this.owe({ kind: 'stream_index' });
    // The stream's live event hears what happened (stop, new session, recording settled); it may act on the stream.
    const after = this.eventFlow.afterStream(doc, next, input, result.effects) ? this.load()! : next;
    return { ok: true, doc: after, resumed: result.resumed ?? false };
  }

  /** Notes a side effect the commit owes; carried out by settle() now, or by the alarm if that fails. */
  private owe(effect: PendingEffect): void {
    this.effects.owe(effect);
  }

  private recordEffect(doc: StreamDocument, effect: LifecycleEffect, at: number): void {
    switch (effect.kind) {
      case 'emit': {
        const timestamp = new Date(at).toISOString();
        // The activity's number is its webhook's: one counter for the stream's and its event's webhooks.
        const sequence = this.nextWebhookSequence();
        this.sql.exec(
          'INSERT INTO activities (sequence, event, stream_status, at, session_id, reason) VALUES (?, ?, ?, ?, ?, ?)',
          sequence,
          effect.event,
          effect.status,
          timestamp,
          effect.sessionId,
          effect.reason,
        );
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
        this.owe({ kind: 'webhook_flush' });
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
          this.owe({ kind: 'recording_index', recordingId: recordingIdFor(effect.session.id) });
        }
        return;
      case 'end_session':
        this.sql.exec('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL', effect.at, effect.sessionId);
        // The origin makes the session's media final once it is over; until then the recording is processing.
        this.sql.exec(
          "UPDATE recordings SET status = 'processing', updated_at = ? WHERE session_id = ? AND status = 'waiting'",
          at,
          effect.sessionId,
        );
        this.oweRecordingIndex(effect.sessionId);
        this.recordingFlow.sessionEnded(effect.sessionId, effect.at);
        return;
      case 'finalize_recording':
        this.recordingFlow.finalizeOwed(effect.sessionId);
        return;
      case 'settle_recording':
        this.recordingFlow.settleOwed(effect.sessionId);
        return;
      case 'kick_encoder':
        this.owe({
          kind: 'kick',
          originId: effect.originId,
          originUrl: effect.originUrl,
          command: { streamId: doc.streamId, sessionId: effect.sessionId, reason: effect.reason, final: effect.final },
        });
        return;
    }
  }

  /**
   * The next webhook sequence number of this stream, inside the caller's transaction. The stream's webhooks and its
   * event's take from this one counter (D1 webhook_events is UNIQUE(stream_id, sequence)), so together they run 1, 2, 3…
   * without gaps. An object older than the counter starts after its last activity (each had its webhook's number).
   */
  private nextWebhookSequence(): number {
    return this.sql
      .exec<{ last: number }>(
        `INSERT INTO webhook_sequence (id, last) VALUES (1, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM activities))
         ON CONFLICT (id) DO UPDATE SET last = last + 1 RETURNING last`,
      )
      .one().last;
  }

  /**
   * A stream deleted with ?deleteMedia=true takes its recordings and clips with it: their rows go now (the D1 index
   * follows in stream_index), their media in R2 as an owed effect.
   */
  private forgetMedia(): void {
    const clipPrefixes = this.sql.exec<{ id: string }>('SELECT id FROM clips').toArray().map((c) => clipKeyPrefix(c.id) + '/');
    // Recordings' own objects go now; the sessions' durable media after its grace (edge/stream/recording-flow.ts).
    const recordingPrefixes = this.recordingFlow.forgetAll();
    this.sql.exec('DELETE FROM recordings');
    this.sql.exec('DELETE FROM clips');
    this.owe({ kind: 'media_delete', prefixes: [...recordingPrefixes, ...clipPrefixes] });
  }

  /**
   * A deleted stream keeps its recordings and clips (issue 13). A recording its deletion stopped would wait for a
   * lifecycle that no longer runs (a deleted stream takes no inputs): it settles from what R2 holds now, and its
   * playlists, read from R2 as they are, still list what the origin ships after.
   */
  private keepMedia(): void {
    for (const { id } of this.sql.exec<{ id: string }>("SELECT id FROM recordings WHERE status IN ('waiting', 'processing')").toArray()) {
      this.owe({ kind: 'recording_settle', recordingId: id });
    }
  }

  private oweRecordingIndex(sessionId: string): void {
    const recording = this.recordingRow('session_id', sessionId);
    if (recording) this.owe({ kind: 'recording_index', recordingId: recording.id });
  }

  /**
   * Sets the alarm to the earliest of the lifecycle's deadlines and the owed side effects' retry times. Called inside
   * the commit's synchronous block: storage writes with no await between them commit atomically, the alarm included,
   * so no state that waits on a deadline is ever stored without its alarm.
   */
  private armAlarm(doc: StreamDocument): void {
    const deadlines = [
      nextDeadline(doc.lifecycle),
      this.effects.nextRetryAt(),
      this.recordingFlow.nextDeadline(),
      this.clipJobs.nextDeadline(),
      this.eventFlow.nextDeadline(Date.now()),
    ];
    armEarliestAlarm(this.ctx, this.sql, 'stream', deadlines);
  }

  /**
   * Carries out every owed side effect that is due (edge/owed-effects.ts). Those a caller's answer depends on (D1
   * indexes, the webhook flush) are awaited; kicks and R2 deletes run in the background. An answer waits at most two
   * passes, however many requests keep arriving.
   */
  private settle(): Promise<void> {
    return this.effects.settle();
  }

  /** After a failed attempt: true when the effect is given up (a kick nobody answers, an export no origin takes). */
  private giveUp(effect: PendingEffect, attempts: number): boolean {
    if (effect.kind === 'kick' && attempts >= KICK_ATTEMPTS) {
      log('encoder_kick_abandoned', { streamId: effect.command.streamId, sessionId: effect.command.sessionId, attempts });
      return true; // the origin's own deadlines end the session
    }
    if (effect.kind === 'recording_export' && attempts >= EXPORT_DISPATCH_ATTEMPTS) {
      this.recordingFlow.exportAbandoned(effect.recordingId);
      return true;
    }
    return false;
  }

  /** One side effect; true when it is done (or moot), false or a throw to try again later. */
  private async carryOut(effect: PendingEffect): Promise<boolean> {
    const doc = this.load();
    if (!doc) return true;
    switch (effect.kind) {
      case 'kick':
        return this.kickEncoder(effect.originId, effect.originUrl, effect.command);
      case 'media_delete':
        await Promise.all(effect.prefixes.map((prefix) => deleteR2Prefix(this.env.MEDIA, prefix)));
        return true;
      case 'recording_index': {
        // A deleted stream's kept recordings too (retention still cleans them); a forgotten one has no row.
        const row = this.recordingRow('id', effect.recordingId);
        if (row) await this.recordingFlow.index(doc, row);
        return true;
      }
      case 'recording_finalize':
      case 'recording_settle':
      case 'recording_export':
        return this.recordingFlow.carryOut(effect);
      case 'clip_index': {
        // The clip plays, and is a video of the library (edge/video/library-rows.ts).
        const clip = this.sql.exec<ClipRow>('SELECT * FROM clips WHERE playback_id = ?', effect.playbackId).toArray()[0];
        await this.env.DB.batch([
          this.env.DB.prepare('UPDATE playback_ids SET media_prefix = ? WHERE id = ?').bind(effect.hlsPrefix, effect.playbackId),
          ...(clip ? [libraryRowStatement(this.env.DB, doc.workspaceId, this.librarySource(doc, { clip: clipView(clip, doc.streamId) }))] : []),
        ]);
        return true;
      }
      case 'stream_index':
        await this.syncIndex(doc);
        return true;
      case 'stream_keys':
        await this.env.DB.batch([
          this.env.DB.prepare('DELETE FROM stream_keys WHERE stream_id = ?').bind(doc.streamId),
          this.env.DB.prepare('INSERT INTO stream_keys (key_hash, stream_id) VALUES (?, ?)').bind(effect.keyHash, doc.streamId),
        ]);
        return true;
      case 'webhook_flush':
        return this.flushWebhookOutbox(doc.streamId);
      case 'destinations_sync':
        return this.destinations.send(doc);
      case 'event_index':
      case 'event_simulive':
      case 'event_playback_purge':
        return this.eventFlow.carryOut(effect);
    }
  }

  /** Keeps D1's workspace index in step with this object, so lists and status filters read what just happened. */
  private async syncIndex(doc: StreamDocument): Promise<void> {
    if (doc.lifecycle.deleted) {
      // The stream's live playback stops; its recordings and clips still in this object stay indexed and playable
      // (issue 13), those it forgot (?deleteMedia=true) go from the index with their playback IDs and videos.
      const kept = JSON.stringify([
        ...this.sql.exec<{ id: string }>('SELECT id FROM recordings').toArray().map((r) => r.id),
        ...this.sql.exec<{ id: string }>('SELECT id FROM clips').toArray().map((c) => c.id),
      ]);
      const gone = 'NOT IN (SELECT value FROM json_each(?))';
      await this.env.DB.batch([
        this.env.DB.prepare('DELETE FROM stream_keys WHERE stream_id = ?').bind(doc.streamId),
        this.env.DB.prepare(`DELETE FROM playback_ids WHERE stream_id = ? AND (kind = 'live' OR target_id IS NULL OR target_id ${gone})`).bind(doc.streamId, kept),
        this.env.DB.prepare(`DELETE FROM recordings WHERE stream_id = ? AND id ${gone}`).bind(doc.streamId, kept),
        this.env.DB.prepare(`DELETE FROM videos WHERE stream_id = ? AND source IN ('recording', 'clip') AND COALESCE(recording_id, clip_id) ${gone}`).bind(doc.streamId, kept),
        this.env.DB.prepare('DELETE FROM streams WHERE id = ?').bind(doc.streamId),
      ]);
      return;
    }
    await this.env.DB.prepare('UPDATE streams SET status = ?, updated_at = ? WHERE id = ?')
      .bind(doc.lifecycle.status, doc.updatedAt, doc.streamId)
      .run();
  }

  /**
   * Sends every queued webhook event in sequence order, in batches within the Queue's limits; true once the outbox is
   * empty. A batch is deleted only after the Queue took it, so a crash resends it with the same ids (the consumer
   * records each id once).
   */
  private async flushWebhookOutbox(streamId: string): Promise<boolean> {
    for (;;) {
      const pending = this.sql
        .exec<{ sequence: number; body: string }>('SELECT sequence, body FROM webhook_outbox ORDER BY sequence LIMIT 500')
        .toArray();
      if (pending.length === 0) return true;
      for (const batch of planBatches(pending)) {
        const trimmed = batch.filter((m) => m.trimmed).map((m) => m.sequence);
        if (trimmed.length) log('webhook_body_trimmed', { streamId, sequences: trimmed });
        try {
          await this.env.WEBHOOKS.sendBatch(batch.map((m) => ({ body: m.body })));
        } catch (error) {
          log('webhook_enqueue_failed', { streamId, messages: batch.length, error: String(error) });
          return false;
        }
        this.sql.exec('DELETE FROM webhook_outbox WHERE sequence <= ?', batch[batch.length - 1]!.sequence);
      }
    }
  }

  /** True when the origin answered (whatever it said); false to try again. */
  private async kickEncoder(originId: string, originUrl: string, command: KickCommand): Promise<boolean> {
    const status = await commandOrigin(this.env, originId, originUrl, '/control/kick', command);
    log('encoder_kicked', { streamId: command.streamId, sessionId: command.sessionId, status });
    return status < 500;
  }

  /** The origin's latest heartbeat; unreadable counts as not heard (the session then waits out its window). */
  private originOf(streamId: string, originId: string): Promise<OriginLiveness | null> {
    return originLiveness(this.env.DB, originId).catch((error: unknown) => {
      log('origin_liveness_unreadable', { streamId, error: String(error) });
      return null;
    });
  }

  /**
   * An alarm means a deadline arrived (stats, reconnect window, recording finalization) or owed side effects are due.
   * Every deadline is compared with the edge's clock; an alarm run early (tests) counts as run at its scheduled time.
   */
  override async alarm(): Promise<void> {
    const first = this.load();
    if (!first) return;
    const scheduledAt = this.sql.exec<{ alarm_at: number | null }>('SELECT alarm_at FROM stream WHERE id = 1').one()
      .alarm_at;
    const due = (deadline: number | null) => deadline !== null && deadline <= Math.max(Date.now(), scheduledAt ?? 0);

    if (due(first.lifecycle.heartbeatDeadline) && first.lifecycle.session?.publisherConnected) {
      // Before counting the encoder lost, ask whether its origin is alive and still holds the session.
      const origin = await this.originOf(first.streamId, first.lifecycle.session.originId);
      const doc = this.load()!; // fresh: stats may have arrived while D1 answered
      if (due(doc.lifecycle.heartbeatDeadline) && doc.lifecycle.session?.publisherConnected) {
        const input = statsOverdue(doc.lifecycle, origin, Date.now());
        this.commit(doc, input);
        if (input.type === 'heartbeat_lost') {
          log('stream_heartbeat_lost', { streamId: doc.streamId, sessionId: doc.lifecycle.session.id, originSilent: input.originSilent });
        }
      }
    }
    let doc = this.load()!;
    if (due(doc.lifecycle.reconnectDeadline)) {
      const session = doc.lifecycle.session;
      // A session lost to silence may only be unheard: its origin's heartbeat decides before the broadcast ends.
      const origin = session?.silent ? await this.originOf(doc.streamId, session.originId) : null;
      doc = this.load()!;
      if (due(doc.lifecycle.reconnectDeadline)) {
        const input = reconnectWindowOver(doc.lifecycle, origin, Date.now());
        this.commit(doc, input);
        if (input.type === 'origin_unheard') {
          // The window is over but the origin has not been heard: the encoder may be live behind an outage.
          const since = doc.lifecycle.session?.silentSince;
          log('stream_origin_unheard', { streamId: doc.streamId, sessionId: session?.id ?? null, silentForMs: since ? Date.now() - since : 0 });
        }
      }
      doc = this.load()!;
    }
    if ((doc.lifecycle.finalizing ?? []).some((f) => due(f.deadline))) {
      this.commit(doc, { type: 'recording_deadline_passed', at: Math.max(Date.now(), scheduledAt ?? 0) });
    }
    await this.eventFlow.onAlarm(Math.max(Date.now(), scheduledAt ?? 0));
    await this.recordingFlow.onAlarm(Math.max(Date.now(), scheduledAt ?? 0));
    await this.clipJobs.onAlarm(Math.max(Date.now(), scheduledAt ?? 0));
    // Owed side effects are due now, whatever their retry time: the alarm is their retry.
    this.effects.dueNow();
    await this.settle(); // ends by arming the alarm for what is left
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
    if (this.load()) throw new Error(`stream ${input.streamId} already exists`); // created meanwhile
    this.ctx.storage.transactionSync(() => {
      this.save(doc);
      this.recordEffect(doc, { kind: 'emit', event: 'CREATED', status: 'NOT_STARTED', sessionId: null, reason: null }, Date.now());
      this.armAlarm(doc);
    });
    await this.settle();
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
    /** writes of the caller's, in the same transaction, once the input is taken */
    then?: () => void,
  ): Promise<StreamCommandResult> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return { ok: false, code: 'not_found' };
    const result = this.commit(doc, input(doc), { mutate, then });
    if (!result.ok) return { ok: false, code: 'refused', refusal: result.refusal, detail: result.detail };
    await this.settle();
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

  /** Deletes the stream; its recordings and clips stay (playable, in the library) unless `deleteMedia` (issue 13). */
  remove(workspaceId: string, options: { deleteMedia?: boolean } = {}) {
    return this.command(workspaceId, () => ({ type: 'delete', at: Date.now() }), undefined, options.deleteMedia ? () => this.forgetMedia() : undefined);
  }

  /** `zoneIngestHost` comes with a zone change: the route resolved it (GET /v1/zones) for the ingest URLs. */
  async update(workspaceId: string, patch: UpdateLiveStreamRequest & { zoneIngestHost?: string | null }): Promise<StreamCommandResult> {
    // Checked in the same turn as the command's own load (no await between): the stream cannot go live in between.
    const current = this.loadLive();
    const locked = current && current.workspaceId === workspaceId
      ? latencyModeLock(current.lifecycle, current.settings.latencyMode, patch.latencyMode, 'latencyMode')
      : null;
    if (locked) return { ok: false, code: 'locked', ...locked };
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
    const at = Date.now();
    const rekey = (d: StreamDocument) => {
      d.keyHash = keys.keyHash;
      d.srtSecret = keys.srtSecret;
      d.updatedAt = new Date(at).toISOString();
    };
    let next: StreamDocument;
    this.ctx.storage.transactionSync(() => {
      // The running broadcast loses its encoder like any disconnect: the window lets it return with the new key.
      const lost = session?.publisherConnected
        ? this.commitWrites(doc, { type: 'publish_done', at, sessionId: session.id, reason: 'stream key reset' }, rekey)
        : null;
      if (lost?.ok && session) {
        next = lost.doc;
        this.owe({
          kind: 'kick',
          originId: session.originId,
          originUrl: session.originUrl,
          command: { streamId: doc.streamId, sessionId: session.id, reason: 'stream key reset', final: false },
        });
      } else {
        next = { ...doc };
        rekey(next);
        this.save(next);
      }
      this.owe({ kind: 'stream_keys', keyHash: keys.keyHash });
      this.armAlarm(next);
    });
    // The new key must be publishable when the caller hears of it: D1's key index is written before we answer.
    await this.settle();
    return { ok: true, stream: this.view(next!, true) };
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

  // ── destinations (issue 14) ─────────────────────────────────────────────────────────────────────

  async listDestinations(workspaceId: string): Promise<Destination[] | null> {
    const doc = this.loadLive();
    return doc && doc.workspaceId === workspaceId ? this.destinations.list(doc) : null;
  }

  async getDestination(workspaceId: string, destinationId: string): Promise<Destination | null> {
    const doc = this.loadLive();
    return doc && doc.workspaceId === workspaceId ? this.destinations.get(doc, destinationId) : null;
  }

  async createDestination(workspaceId: string, request: CreateDestinationRequest, hostRules: DestinationHostRules): Promise<DestinationResult> {
    // The key is sealed before the transaction (WebCrypto is asynchronous); it is stored only sealed.
    const sealed = await this.destinations.sealKey(request.streamKey);
    return this.changeDestinations(workspaceId, (doc) => this.destinations.create(doc, request, sealed, hostRules, Date.now()));
  }

  async updateDestination(workspaceId: string, destinationId: string, patch: UpdateDestinationRequest, hostRules: DestinationHostRules): Promise<DestinationResult> {
    await this.destinations.openKeys();
    const sealed = patch.streamKey === undefined ? null : await this.destinations.sealKey(patch.streamKey, destinationId);
    return this.changeDestinations(workspaceId, (doc) => this.destinations.update(doc, destinationId, patch, sealed, hostRules, Date.now()));
  }

  async deleteDestination(workspaceId: string, destinationId: string): Promise<boolean> {
    const result = await this.changeDestinations(workspaceId, (doc) =>
      this.destinations.remove(doc, destinationId) ? { ok: true, destination: null } : { ok: false, code: 'not_found' },
    );
    return result.ok;
  }

  /**
   * One destination change in one transaction (with the sync to the holder it owes while live, and its webhooks);
   * the sync runs in the background, so an unreachable origin never holds up the answer.
   */
  private async changeDestinations<T extends { ok: boolean }>(workspaceId: string, change: (doc: StreamDocument) => T): Promise<T | { ok: false; code: 'not_found' }> {
    const doc = this.loadLive();
    if (!doc || doc.workspaceId !== workspaceId) return { ok: false, code: 'not_found' };
    let result!: T;
    this.ctx.storage.transactionSync(() => {
      result = change(doc);
      this.armAlarm(this.load()!);
    });
    await this.settle();
    return result;
  }

  // ── live events (issue 12): the event lives in its stream's object ─────────────────────────────

  /** Creates the stream (record: true, maxResolution = the event's resolution) and its event in one commit. */
  async createEvent(input: CreateEventInput): Promise<LiveEvent> {
    if (this.load()) throw new Error(`stream ${input.streamId} already exists`);
    const { request } = input;
    const now = Date.now();
    const at = new Date(now).toISOString();
    const accessPolicy = request.security.accessPolicy;
    const settings: StreamSettings = { ...input.settings, record: true, maxResolution: request.resolution };
    const doc: StreamDocument = {
      streamId: input.streamId,
      workspaceId: input.workspaceId,
      keyHash: input.keyHash,
      srtSecret: input.srtSecret,
      playbackIds: [{ id: input.playbackId, accessPolicy }],
      settings,
      lifecycle: initialLifecycle({ record: true, reconnectWindowSeconds: settings.reconnectWindow }),
      createdAt: at,
      updatedAt: at,
    };
    const simuliveSourcePrefix = request.simulive ? await simuliveSourcePrefixOf(this.env, input.workspaceId, request.simulive) : null;
    const infrastructureReady = await this.eventFlow.infrastructureReady(doc);
    // The index rows exist before the caller hears of the event (the event's own row follows as an owed effect).
    await this.env.DB.batch([
      this.env.DB.prepare('INSERT INTO streams (id, workspace_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').bind(
        doc.streamId, doc.workspaceId, doc.lifecycle.status, at, at,
      ),
      this.env.DB.prepare('INSERT INTO stream_keys (key_hash, stream_id) VALUES (?, ?)').bind(input.keyHash, doc.streamId),
      ...[input.playbackId, input.publicPlaybackId].map((id) =>
        this.env.DB.prepare('INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy) VALUES (?, ?, ?, ?)').bind(id, doc.streamId, doc.workspaceId, accessPolicy),
      ),
    ]);
    if (this.load()) throw new Error(`stream ${input.streamId} already exists`); // created meanwhile
    this.ctx.storage.transactionSync(() => {
      this.save(doc);
      this.recordEffect(doc, { kind: 'emit', event: 'CREATED', status: 'NOT_STARTED', sessionId: null, reason: null }, now);
      this.eventFlow.create(doc, { ...input, previewPlaybackId: input.playbackId, simuliveSourcePrefix }, infrastructureReady, now);
      this.armAlarm(this.load()!);
    });
    await this.settle();
    return this.eventFlow.view()!;
  }

  async getEvent(workspaceId: string, eventId: string): Promise<LiveEvent | null> {
    return this.loadLive() ? this.eventFlow.view(workspaceId, eventId) : null;
  }

  updateEvent(workspaceId: string, eventId: string, patch: UpdateLiveEventRequest): Promise<EventCommandResult> {
    return this.eventCommand(workspaceId, eventId, (at) => this.eventFlow.update(patch, at));
  }

  /** A control operation; /reopen (which may go straight to WAIT_FOR_PREVIEW) looks at the infrastructure first. */
  async eventOperation(workspaceId: string, eventId: string, op: LiveEventOperation, body: { scheduledStartAt?: string }): Promise<EventCommandResult> {
    const doc = this.loadLive();
    const infrastructureReady = op === 'reopen' && doc ? await this.eventFlow.infrastructureReady(doc) : false;
    const reopenAt = body.scheduledStartAt ? Date.parse(body.scheduledStartAt) : null;
    return this.eventCommand(workspaceId, eventId, (at) => this.eventFlow.operation(op, at, { infrastructureReady, reopenAt }));
  }

  /** Deletes the event and its stream; refused (409) while PREVIEW or LIVE. */
  deleteEvent(workspaceId: string, eventId: string): Promise<EventCommandResult> {
    return this.eventCommand(workspaceId, eventId, (at) => this.eventFlow.remove(at), false);
  }

  /** One event command in one transaction with everything it causes; answered after the owed effects' pass. */
  private async eventCommand(workspaceId: string, eventId: string, run: (at: number) => EventCommandResult, fresh = true): Promise<EventCommandResult> {
    if (!this.loadLive() || !this.eventFlow.view(workspaceId, eventId)) return { ok: false, code: 'not_found' };
    let result!: EventCommandResult;
    this.ctx.storage.transactionSync(() => {
      result = run(Date.now());
      this.armAlarm(this.load()!);
    });
    await this.settle();
    return result.ok && fresh ? { ok: true, event: this.eventFlow.view() ?? result.event } : result;
  }

  // ── recordings ──────────────────────────────────────────────────────────────────────────────────

  private recordingRow(column: 'id' | 'session_id', value: string): RecordingRow | undefined {
    return this.sql.exec<RecordingRow>(`SELECT * FROM recordings WHERE ${column} = ?`, value).toArray()[0];
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

  /**
   * Deletes a recording: its playback ID stops working at once, its own objects in R2 go now, and the session's
   * durable media after its grace (nothing needs it any more).
   */
  async deleteRecording(workspaceId: string, recordingId: string): Promise<boolean> {
    const doc = this.load();
    const row = this.recordingRow('id', recordingId);
    if (!doc || doc.workspaceId !== workspaceId || !row) return false;
    this.sql.exec('DELETE FROM recordings WHERE id = ?', recordingId);
    await this.env.DB.batch([
      this.env.DB.prepare('DELETE FROM recordings WHERE id = ?').bind(recordingId),
      this.env.DB.prepare('DELETE FROM playback_ids WHERE id = ?').bind(row.playback_id),
      forgetLibraryRowStatement(this.env.DB, recordingId),
    ]);
    await this.recordingFlow.forget(row);
    return true;
  }

  /** Runs a failed recording's failed step again: made watchable from R2, or its MP4 exported (on any origin). */
  async retryRecording(workspaceId: string, recordingId: string): Promise<{ ok: true; recording: Recording } | { ok: false; code: 'not_found' | 'not_failed'; detail: string }> {
    const doc = this.load();
    const row = this.recordingRow('id', recordingId);
    if (!doc || doc.workspaceId !== workspaceId || !row) return { ok: false, code: 'not_found', detail: 'no such recording' };
    const verdict = this.recordingFlow.retry(recordingId);
    if (verdict === 'not_found') return { ok: false, code: 'not_found', detail: 'no such recording' };
    if (verdict === 'not_failed') {
      const state = row.cleaned_at !== null ? 'cleaned' : `${row.status}, its export ${row.export_status ?? 'not started'}`;
      return { ok: false, code: 'not_failed', detail: `the recording is ${state}; only a failed one (or a failed export) can be retried` };
    }
    await this.settle();
    return { ok: true, recording: recordingView(this.recordingRow('id', recordingId)!, doc.streamId) };
  }

  /** Cleans the named recordings of this stream if their retention ran out (the scheduled sweep); how many it cleaned. */
  async cleanExpiredRecordings(recordingIds: string[]): Promise<number> {
    if (!this.load()) return 0;
    const cleaned = await this.recordingFlow.cleanExpired(Date.now(), recordingIds);
    await this.settle();
    return cleaned;
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
    const recorded =
      recording?.status === 'ready'
        ? (recording.artifacts ? (JSON.parse(recording.artifacts) as RecordingArtifacts).duration : recording.durable_duration)
        : null;
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
      origin_id: null,
    };
    const commandFor = async (originId: string): Promise<ClipCommand> => ({
      clipId: row.id,
      workspaceId: doc.workspaceId,
      streamId: doc.streamId,
      sessionId: session.id,
      startTime: request.startTime,
      endTime: request.endTime,
      accurate: request.accurate,
      durablePrefix: durableSessionPrefix(doc.streamId, session.id),
      // Reads the session's durable media, writes the clip's own prefix: clips copy their media (CONTRACT.md).
      mediaGrant: await issueMediaGrant(this.env.ORIGIN_SECRET, {
        originId,
        prefixes: [`${clipKeyPrefix(row.id)}/`, durableSessionPrefix(doc.streamId, session.id)],
        expiresAt: now + CLIP_GRANT_TTL_MS,
      }),
    });
    // The holder if it is healthy, else (or if it cannot take it) the origin with the most free capacity: a clip is
    // cut from R2, so a session whose origin died still gets its clips.
    let taken: string | null = null;
    for (const target of await this.clipOrigins(doc.streamId, session)) {
      const { status, retryAfterSeconds } = await sendOriginCommand(this.env, target.originId, target.controlUrl, '/control/clips', await commandFor(target.originId)).catch(
        () => ({ status: 0, retryAfterSeconds: null }),
      );
      log('clip_dispatched', { streamId: doc.streamId, clipId: row.id, originId: target.originId, status });
      if (status === 429) {
        // The workspace's clip limit (or the origin's) is reached: another origin would only bypass the former.
        return { ok: false, code: 'busy', detail: 'this workspace already has as many clips being cut as allowed; try again later', retryAfterSeconds: retryAfterSeconds ?? 10 };
      }
      if (status === 202 || status === 200) {
        taken = target.originId;
        break;
      }
    }
    if (taken === null) {
      return { ok: false, code: 'origin_unavailable', detail: 'no origin accepted the clip job (the session\'s origin and any other with capacity)' };
    }
    row.origin_id = taken;
    // updated_at = when the origin took the job: its heartbeats from 10 s on must list the clip (clip-jobs.ts).
    row.updated_at = Date.now();
    this.sql.exec(
      `INSERT INTO clips (id, session_id, playback_id, name, status, start_time, end_time, accurate, created_at, updated_at, origin_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id, row.session_id, row.playback_id, row.name, row.status, row.start_time, row.end_time, row.accurate, now, row.updated_at, row.origin_id,
    );
    await this.env.DB.prepare(
      `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id) VALUES (?, ?, ?, ?, 'clip', ?)`,
    )
      .bind(row.playback_id, doc.streamId, doc.workspaceId, doc.playbackIds[0]!.accessPolicy, row.id)
      .run();
    return { ok: true, clip: clipView(row, doc.streamId) };
  }

  /** Where a clip job goes: the session's origin while healthy (heard within the timeout), then pickOrigin's choice. */
  private async clipOrigins(streamId: string, session: SessionRow): Promise<{ originId: string; controlUrl: string }[]> {
    const heard = await this.originOf(streamId, session.origin_id);
    const holderHealthy = heard !== null && Date.now() - heard.heardAt <= HEARTBEAT_TIMEOUT_MS;
    const targets = holderHealthy ? [{ originId: session.origin_id, controlUrl: session.origin_url }] : [];
    const other = await pickOrigin(this.env, { exclude: [session.origin_id] }).catch((error: unknown) => {
      log('clip_origin_pick_failed', { streamId, error: String(error) });
      return null;
    });
    if (other) targets.push({ originId: other.originId, controlUrl: other.controlUrl });
    return targets;
  }

  /**
   * Deletes a clip (DELETE /v1/videos/{id} of a clip video): its playback ID and library row go now, its media in R2
   * as an owed effect. A job still cutting it writes into a prefix nobody plays; its late clip_ready is refused.
   */
  async deleteClip(workspaceId: string, clipId: string): Promise<boolean> {
    const doc = this.load();
    const row = this.sql.exec<ClipRow>('SELECT * FROM clips WHERE id = ?', clipId).toArray()[0];
    if (!doc || doc.workspaceId !== workspaceId || !row) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM clips WHERE id = ?', clipId);
      this.owe({ kind: 'media_delete', prefixes: [clipKeyPrefix(clipId) + '/'] });
      // A job still cutting it may write until its grant runs out: what it left then goes too.
      if (row.status === 'processing') this.recordingFlow.scheduleMediaDeletion(clipKeyPrefix(clipId) + '/', Date.now() + CLIP_GRANT_TTL_MS);
      this.armAlarm(doc);
    });
    await this.env.DB.batch([
      this.env.DB.prepare('DELETE FROM playback_ids WHERE id = ?').bind(row.playback_id),
      forgetLibraryRowStatement(this.env.DB, clipId),
    ]);
    await this.settle();
    return true;
  }

  /**
   * What the library's recording and clip videos of this stream are made from (edge/video/library-rows.ts), one per
   * reference, null where it is gone. Also for a deleted stream: its recordings and clips outlive it.
   */
  async librarySources(workspaceId: string, refs: { recordingId: string | null; clipId: string | null }[]): Promise<(LibrarySource | null)[]> {
    const doc = this.load();
    if (!doc || doc.workspaceId !== workspaceId) return refs.map(() => null);
    return refs.map(({ recordingId, clipId }) => {
      if (recordingId) {
        const row = this.recordingRow('id', recordingId);
        return row ? this.librarySource(doc, { recording: recordingView(row, doc.streamId) }) : null;
      }
      const clip = clipId ? this.sql.exec<ClipRow>('SELECT * FROM clips WHERE id = ?', clipId).toArray()[0] : undefined;
      return clip ? this.librarySource(doc, { clip: clipView(clip, doc.streamId) }) : null;
    });
  }

  /** A recording or clip with what its video needs of the stream (its playback IDs follow the stream's policy). */
  private librarySource(doc: StreamDocument, of: { recording: Recording } | { clip: Clip }): LibrarySource {
    const base = { streamId: doc.streamId, accessPolicy: doc.playbackIds[0]!.accessPolicy };
    return 'recording' in of ? { source: 'recording', recording: of.recording, ...base } : { source: 'clip', clip: of.clip, ...base };
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
    /** an encoder's key (hashed); absent for protocol 'simulive' */
    keyHash?: string;
    /** protocol 'simulive' only: the one-time ticket this object issued (issueSimuliveTicket) */
    simuliveTicket?: string;
    protocol: IngestProtocol;
    originId: string;
    originUrl: string;
    /** The signing origin's provisioned region: a stream with a zone is published only through that zone's origins. */
    originRegion?: string;
    /** Only ask: the verdict and connection settings, with no transition (SRT, before its handshake completes). */
    check?: boolean;
    /** The origin has no other encoder of this key connected or being admitted (edge/takeover.ts reclaimableHere). */
    keyIdleHere?: boolean;
  }): Promise<AuthorizeResult> {
    const before = this.load();
    if (request.protocol === 'simulive') {
      // The origin's simulive publisher: admitted only with the ticket this object gave the command (used up here).
      if (!before || !(await consumeSimuliveTicket(this.sql, request.simuliveTicket ?? '', Date.now()))) {
        return { ok: false, refusal: 'simulive_ticket_invalid', detail: 'no live simulive ticket of this stream matches' };
      }
    } else if (!before || before.keyHash !== request.keyHash) {
      return { ok: false, refusal: 'unknown_stream_key', detail: 'no stream has this key' };
    }
    // A stream with a live event takes encoders only while the event is open for them (PREVIEW, LIVE).
    const closed = this.eventFlow.ingestRefusal(request.protocol);
    if (closed) return { ok: false, ...closed };
    const zone = before.settings.zone ?? null;
    if (zone && request.originRegion !== undefined && request.originRegion !== zone) {
      return { ok: false, refusal: 'wrong_zone', detail: `the stream is in zone ${zone}; origin ${request.originId} serves ${request.originRegion}` };
    }
    // Live on another origin: that origin says whether its encoder is still there (a failover need not wait for it).
    const takeover = await this.askHolder(before, request.originId);
    if (takeover && 'refuse' in takeover) return { ok: false, refusal: 'already_live', detail: takeover.refuse };
    const doc = this.load()!; // fresh after the question: the lifecycle checks the takeover still fits it
    if (request.protocol !== 'simulive' && doc.keyHash !== request.keyHash) return { ok: false, refusal: 'unknown_stream_key', detail: 'no stream has this key' };
    // Live on this very origin, which says no encoder of the key is there: a publish it gave up on, resumed here.
    const reclaim = takeover ? null : reclaimableHere(doc.lifecycle, request.originId, request.keyIdleHere ?? false);
    if (reclaim) log('stream_session_reclaimed', { streamId: doc.streamId, sessionId: reclaim.sessionId, originId: request.originId, check: request.check ?? false });
    const input: LifecycleInput = {
      type: 'publish',
      at: Date.now(),
      newSessionId: newId('ses', 16),
      originId: request.originId,
      originUrl: request.originUrl,
      ...(takeover ? { takeover } : {}),
      ...(reclaim ? { reclaim } : {}),
    };
    let granted: { doc: StreamDocument; resumed: boolean };
    if (request.check) {
      const verdict = transition(doc.lifecycle, input, this.lifecycleConfig());
      if (!verdict.ok) return verdict;
      granted = { doc: { ...doc, lifecycle: verdict.state }, resumed: verdict.resumed ?? false };
    } else {
      const result = this.commit(doc, input);
      if (!result.ok) return result;
      granted = result;
      await this.settle();
    }
    const { settings, lifecycle } = granted.doc;
    const durable = await this.durableMediaGrant(doc, lifecycle.session!.id, request.originId, granted.resumed);
    return {
      ok: true,
      grant: {
        streamId: doc.streamId,
        sessionId: lifecycle.session!.id,
        resume: granted.resumed,
        ...durable,
        profiles: settings.profiles,
        maxResolution: settings.maxResolution,
        record: settings.record,
        reconnectWindow: settings.reconnectWindow,
        simulcast: await this.destinations.targets(),
        srtLatency: settings.srtLatency,
        latencyMode: settings.latencyMode ?? 'standard',
        ...(request.protocol === 'srt' ? { srtPassphrase: doc.srtSecret } : {}),
      },
    };
  }

  /** A fresh one-time ticket for this stream's simulive publisher, replacing any earlier one (edge/event/simulive-dispatch.ts). */
  async issueSimuliveTicket(): Promise<string> {
    return issueSimuliveTicket(this.sql, Date.now());
  }

  /**
   * A publish through `originId` while the session is live on another origin: the holder's heartbeat (D1, edge clock)
   * and, unless it is stale, the holder itself (POST /control/holds, 1.5 s) decide (edge/takeover.ts). Null when the
   * stream is not live elsewhere; a takeover for the lifecycle; or the refusal.
   */
  private async askHolder(
    doc: StreamDocument,
    originId: string,
  ): Promise<{ sessionId: string; fromOriginId: string; reason: string } | { refuse: string } | null> {
    const held = heldElsewhere(doc.lifecycle, originId);
    if (!held) return null;
    const holder = await this.originOf(doc.streamId, held.holderId);
    let decision = decideTakeover(held, holder, undefined, Date.now());
    if (decision.kind === 'ask') decision = decideTakeover(held, holder, await this.probeHolder(doc.streamId, held), Date.now());
    const why = decision.kind === 'take_over' ? decision.reason : decision.kind === 'refuse' ? decision.detail : null;
    log('stream_holder_asked', { streamId: doc.streamId, sessionId: held.sessionId, holder: held.holderId, originId, decision: decision.kind, why });
    if (decision.kind === 'refuse') return { refuse: decision.detail };
    if (decision.kind === 'ask') return { refuse: 'the holding origin was not asked' }; // cannot happen: an answer decides
    return { sessionId: held.sessionId, fromOriginId: held.holderId, reason: decision.reason };
  }

  /** Asks the holding origin whether it still has an encoder publishing the session, with a short deadline. */
  private async probeHolder(streamId: string, held: HeldSession): Promise<HolderAnswer> {
    const query: HoldsQuery = { streamId, sessionId: held.sessionId };
    try {
      const response = await signedOriginFetch(this.env, held.holderId, new URL('/control/holds', held.holderUrl), {
        method: 'POST',
        body: JSON.stringify(query),
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(HOLDER_PROBE_TIMEOUT_MS),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        return { unusable: `status ${response.status}` };
      }
      const parsed = HoldsAnswer.safeParse(await response.json().catch(() => null));
      return parsed.success ? parsed.data : { unusable: 'malformed answer' };
    } catch (error) {
      // Refused connection, no answer in time, or an origin no longer known (disabled): nothing holds the encoder there.
      return { unanswered: error instanceof Error ? error.name : String(error) };
    }
  }

  /**
   * A fresh grant on a session's durable media for the origin that holds it, asked through its heartbeat well before the
   * one authorize gave runs out (a broadcast outlasting a grant keeps shipping). Null when the signer does not hold the
   * session (another origin took it over), the stream is deleted, or the session's media is already final in R2.
   */
  async renewMediaGrant(sessionId: string, originId: string): Promise<string | null> {
    const doc = this.loadLive();
    const holder = this.sql.exec<{ origin_id: string }>('SELECT origin_id FROM sessions WHERE id = ?', sessionId).toArray()[0];
    if (!doc || holder?.origin_id !== originId) return null;
    if (this.sql.exec('SELECT 1 FROM media_durable WHERE session_id = ? AND final = 1', sessionId).toArray().length > 0) return null;
    return issueMediaGrant(this.env.ORIGIN_SECRET, { originId, prefixes: [durableSessionPrefix(doc.streamId, sessionId)], expiresAt: Date.now() + MEDIA_GRANT_TTL_MS });
  }

  /**
   * The session's durable media for the origin taking it: a grant on its prefix (a day, renewed at every authorize), and
   * on a resume the origin that held it before, when that is another one (it rebuilds the timeline from R2).
   */
  private async durableMediaGrant(
    before: StreamDocument,
    sessionId: string,
    originId: string,
    resumed: boolean,
  ): Promise<Pick<AuthorizeIngestResponse, 'mediaGrant' | 'durablePrefix' | 'resumeFrom'>> {
    const durablePrefix = durableSessionPrefix(before.streamId, sessionId);
    const mediaGrant = await issueMediaGrant(this.env.ORIGIN_SECRET, { originId, prefixes: [durablePrefix], expiresAt: Date.now() + MEDIA_GRANT_TTL_MS });
    const previous = before.lifecycle.session?.id === sessionId ? before.lifecycle.session.originId : null;
    return { mediaGrant, durablePrefix, resumeFrom: resumed && previous && previous !== originId ? { originId: previous } : null };
  }

  /**
   * Applies the origin's events in the order given; an id seen before changes nothing. Each event's de-dup check, its
   * writes and its state change are one synchronous transaction, so a concurrent delivery of the same id finds it seen.
   */
  async applyOriginEvents(events: OriginEvent[], signer?: string): Promise<OriginEventOutcome[]> {
    const outcomes: OriginEventOutcome[] = [];
    // A relay's error is redacted with its destination's key, opened before the synchronous transactions.
    if (events.some((event) => event.type === 'destination_status')) await this.destinations.openKeys();
    for (const event of events) {
      this.ctx.storage.transactionSync(() => {
        const seen = this.sql.exec('SELECT 1 FROM seen_origin_events WHERE id = ?', event.id).toArray().length > 0;
        if (seen) {
          outcomes.push({ id: event.id, outcome: 'duplicate' });
          return;
        }
        this.sql.exec('INSERT INTO seen_origin_events (id, seen_at) VALUES (?, ?)', event.id, Date.now());
        outcomes.push(this.applyOriginEvent(event, signer));
        const doc = this.load();
        if (doc) this.armAlarm(doc);
      });
    }
    this.sql.exec('DELETE FROM seen_origin_events WHERE seen_at < ?', Date.now() - SEEN_EVENT_TTL_MS);
    await this.settle();
    return outcomes;
  }

  /**
   * One origin event, inside the caller's transaction. Every deadline it moves is set from the edge's clock (now); the
   * event's own `at` is the origin's clock and is kept as data only.
   */
  private applyOriginEvent(event: OriginEvent, signer?: string): OriginEventOutcome {
    const doc = this.load();
    if (!doc || doc.streamId !== event.streamId) return { id: event.id, outcome: 'refused', reason: 'unknown stream' };
    // An origin speaks only for the sessions it holds (the one that authorized it last): another origin's word on
    // them, or a late one from the origin it failed over from, is refused. Job events are checked by their job.
    if (signer !== undefined && SESSION_HOLDER_EVENTS.has(event.type)) {
      const holder = this.sql.exec<{ origin_id: string }>('SELECT origin_id FROM sessions WHERE id = ?', event.sessionId).toArray()[0];
      if (holder?.origin_id !== signer) return { id: event.id, outcome: 'refused', reason: 'not-session-holder' };
    }
    const at = Date.now();
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
      case 'media_durable':
        // What the origin says is in R2 for the session, kept per session (a final report is never replaced by an earlier one).
        this.sql.exec(
          `INSERT INTO media_durable (session_id, figures, final, at) VALUES (?, ?, ?, ?)
           ON CONFLICT(session_id) DO UPDATE SET figures = excluded.figures, final = excluded.final, at = excluded.at
           WHERE excluded.final = 1 OR media_durable.final = 0`,
          event.sessionId,
          JSON.stringify(event.data),
          event.data.final ? 1 : 0,
          at,
        );
        // Final media makes the session's waiting recording watchable (edge/stream/recording-flow.ts).
        return this.recordingFlow.onMediaDurable(event);
      case 'error':
        if (doc.lifecycle.session?.id !== event.sessionId) {
          return { id: event.id, outcome: 'refused', reason: 'not the current session' };
        }
        input = { type: 'error', at, reason: event.data.reason };
        break;
      // Export job events: the word of the origin the job went to, on the MP4 only (the recording stays watchable).
      case 'recording_progress':
      case 'recording_ready':
      case 'recording_failed':
        return this.recordingFlow.onJobEvent(event satisfies JobEvent, signer);
      case 'destination_status':
        return this.destinations.onStatus(doc, event);
      // A library video's job events go to its VideoObject (edge/routes/internal.ts routes them by videoId), never here.
      case 'video_progress':
      case 'video_ready':
      case 'video_failed':
        return { id: event.id, outcome: 'refused', reason: 'a video job event belongs to its video, not to a stream' };
      case 'clip_ready':
      case 'clip_failed': {
        const clip = this.sql.exec<ClipRow>('SELECT * FROM clips WHERE id = ?', event.data.clipId).toArray()[0];
        if (!clip) return { id: event.id, outcome: 'refused', reason: 'no such clip' };
        // Only the origin the clip job went to reports on it (a clip cut before jobs were recorded: the session's).
        const jobOrigin = clip.origin_id ?? this.sql.exec<{ origin_id: string }>('SELECT origin_id FROM sessions WHERE id = ?', clip.session_id).toArray()[0]?.origin_id;
        if (signer !== undefined && jobOrigin !== signer) {
          log('clip_event_refused', { streamId: doc.streamId, clipId: clip.id, type: event.type, signer });
          return { id: event.id, outcome: 'refused', reason: NOT_HOLDER };
        }
        const ready = event.type === 'clip_ready';
        this.sql.exec(
          'UPDATE clips SET status = ?, artifacts = ?, error = ?, updated_at = ? WHERE id = ?',
          ready ? 'ready' : 'failed',
          ready ? JSON.stringify(event.data) : null,
          ready ? null : event.data.reason,
          at,
          clip.id,
        );
        if (!ready) return { id: event.id, outcome: 'applied' };
        this.owe({ kind: 'clip_index', playbackId: clip.playback_id, hlsPrefix: event.data.hlsPrefix });
        input = { type: 'clip_ready', at, clipId: clip.id };
        break;
      }
    }
    const result = this.commitWrites(doc, input);
    return result.ok
      ? { id: event.id, outcome: 'applied' }
      : { id: event.id, outcome: 'refused', reason: `${result.refusal}: ${result.detail}` };
  }

  /**
   * What live playback of one of this stream's playback IDs needs, in one call (edge/routes/playback.ts caches it for
   * 2 s): its access policy, which changes here first, and where the live session is served from, if anywhere.
   * Null: the stream is deleted, or the playback ID is not one of its own.
   */
  async livePlayback(playbackId: string): Promise<LivePlayback | null> {
    const doc = this.loadLive();
    if (!doc) return null;
    const entry = doc.playbackIds.find((p) => p.id === playbackId);
    // An event's public and preview playback IDs: the event says what they may play (its public one is not the stream's).
    const event = this.eventFlow.eventPlayback(playbackId);
    if (!entry && !event) return null;
    const session = doc.lifecycle.session;
    return {
      accessPolicy: event?.accessPolicy ?? entry!.accessPolicy,
      live: session ? { originId: session.originId, originUrl: session.originUrl, sessionId: session.id } : null,
      playlistWindow: doc.settings.playlistWindow ?? 'sliding',
      event,
    };
  }
}
