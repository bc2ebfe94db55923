// The live event inside its stream's StreamObject (issue 12): the shell around the pure event machine
// (edge/event/event-machine.ts). It stores the event next to the stream, runs its transitions, and carries out their
// effects in the same synchronous block as the stream's own writes: status activities and `video.live_event.*` webhooks
// (through the stream's outbox, numbered by the stream's one webhook counter), ingest opening and closing, the stream's
// `complete`/`enable`/`delete` inputs, and owed effects (the D1 `live_events` row, the simulive start) retried by the
// object's alarm. It also hears the stream: a stop while LIVE ends the event, a stop while PREVIEW re-enables the stream
// for the rehearsal, the live session's recording becoming watchable makes the event's VOD.
import type { Env } from '../env.ts';
import { isLive, type LifecycleEffect, type LifecycleInput } from '../lifecycle.ts';
import type { StreamDocument } from '../live-stream-view.ts';
import type { LiveStream } from '../../shared/schemas/live-stream.ts';
import type { LiveEvent, CreateLiveEventRequest, UpdateLiveEventRequest } from '../../shared/schemas/live-event.ts';
import type { LiveEventWebhook } from '../../shared/schemas/webhook-event.ts';
import {
  LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS,
  type LiveEventOperation,
  type LiveEventStatus,
  type LiveEventWebhookType,
} from '../../shared/live-event-vocabulary.ts';
import { newId } from '../../shared/identifiers.ts';
import { pickOrigin } from '../origin-registry.ts';
import { log } from '../log.ts';
import { purgePlaybackCache } from '../playback-cache.ts';
import { simuliveSourcePrefix, startSimulive } from './simulive-dispatch.ts';
import { issueSimuliveTicket } from './simulive-ticket.ts';
import {
  eventTransition,
  initialEventState,
  allowedOperations,
  nextEventDeadline,
  READINESS_RECHECK_MS,
  type EventEffect,
  type EventInput,
  type EventState,
} from './event-machine.ts';
import type { EventPlaybackState } from './event-playback-gate.ts';
import { latencyModeLock, STREAM_LIVE_PROBLEM } from '../low-latency/latency-mode-lock.ts';
import { EVENT_TABLES, liveEventView, type EventActivityRow, type EventDocument } from './event-document.ts';

/** publish_done's reason when a simulive source played to its end (D's origin side): the event's broadcast is over. */
export const SIMULIVE_SOURCE_ENDED = 'simulive_source_ended';
/** Nested event ↔ stream steps in one commit are few (end → complete → stopped); a bug must not recurse for ever. */
const MAX_NESTING = 6;

/** The owed effects of the event (rows of the StreamObject's pending_effects). */
export type EventOwedEffect =
  | { kind: 'event_index'; eventId: string; workspaceId: string }
  | { kind: 'event_simulive'; eventId: string }
  /** a status or security change: the playback answers cached for the event's two IDs go (edge/playback-cache.ts) */
  | { kind: 'event_playback_purge'; eventId: string; playbackIds: string[] };

/** What the flow needs of its StreamObject. */
export interface EventHost {
  readonly sql: SqlStorage;
  env(): Env;
  load(): StreamDocument | null;
  /** A stream lifecycle input inside the caller's transaction (its hooks into this flow run too); false: refused. */
  streamInput(input: LifecycleInput, mutate?: (doc: StreamDocument) => void): boolean;
  owe(effect: EventOwedEffect | { kind: 'webhook_flush' }): void;
  /** The stream's one webhook counter (its own webhooks and the event's). */
  nextWebhookSequence(): number;
  streamView(doc: StreamDocument): LiveStream;
  /** Runs writes in one transaction and re-arms the alarm. */
  transact(writes: () => void): void;
}

/** What createEvent adds to the stream's creation (CONTRACT.md). */
export interface EventCreation {
  eventId: string;
  publicPlaybackId: string;
  request: CreateLiveEventRequest;
}

export type EventCommandResult =
  | { ok: true; event: LiveEvent }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'refused'; httpStatus: 400 | 409; type: string; detail: string; allowedOperations: LiveEventOperation[] };

type Refused = Extract<EventCommandResult, { code: 'refused' }>;

const OPEN_FOR_ENCODERS: ReadonlySet<LiveEventStatus> = new Set(['LIVE_STATUS_PREVIEW', 'LIVE_STATUS_LIVE']);
const FINISHED_STREAM: ReadonlySet<string> = new Set(['STOPPED', 'COMPLETED', 'ERROR']);

export class EventFlow {
  private nesting = 0;

  constructor(private readonly host: EventHost) {
    host.sql.exec(EVENT_TABLES);
  }

  private get sql() {
    return this.host.sql;
  }

  // ── storage ─────────────────────────────────────────────────────────────────────────────────────

  load(): EventDocument | null {
    const row = this.sql.exec<{ doc: string }>('SELECT doc FROM event WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.doc) as EventDocument) : null;
  }

  private save(doc: EventDocument): void {
    this.sql.exec('INSERT INTO event (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', JSON.stringify(doc));
  }

  private activities(): EventActivityRow[] {
    return this.sql.exec<EventActivityRow>('SELECT sequence, status, operation, reason, at FROM event_activities ORDER BY sequence').toArray();
  }

  /** The event as the API shows it; null when this stream has none (or not in this workspace). */
  view(workspaceId?: string, eventId?: string): LiveEvent | null {
    const doc = this.load();
    const stream = this.host.load();
    if (!doc || !stream || (workspaceId !== undefined && doc.workspaceId !== workspaceId) || (eventId !== undefined && doc.eventId !== eventId)) {
      return null;
    }
    return liveEventView(doc, this.host.streamView(stream), this.activities());
  }

  // ── the API's requests (each inside the caller's transaction) ─────────────────────────────────

  /**
   * The event of a stream created with it, in the same transaction as the stream: its first state (PREPARING at once
   * when the start is < 12 h away, WAIT_FOR_PREVIEW too when an origin can take it), `video.live_event.created`, then
   * the status webhooks.
   */
  create(stream: StreamDocument, input: EventCreation & { previewPlaybackId: string; simuliveSourcePrefix: string | null }, infrastructureReady: boolean, now: number): void {
    const { request } = input;
    const initial = initialEventState(
      {
        type: request.type,
        broadcastMode: request.broadcastMode,
        scheduledStartAt: Date.parse(request.scheduledStartAt),
        scheduledEndAt: request.scheduledEndAt ? Date.parse(request.scheduledEndAt) : null,
        vod: {
          enabled: request.vod.enabled,
          startAt: request.vod.startAt ? Date.parse(request.vod.startAt) : null,
          endAt: request.vod.endAt ? Date.parse(request.vod.endAt) : null,
        },
      },
      now,
    );
    const at = new Date(now).toISOString();
    const doc: EventDocument = {
      eventId: input.eventId,
      workspaceId: stream.workspaceId,
      streamId: stream.streamId,
      name: request.name ?? null,
      customId: request.customId ?? null,
      metadata: request.metadata,
      security: request.security,
      publicPlaybackId: input.publicPlaybackId,
      previewPlaybackId: input.previewPlaybackId,
      simulive: request.simulive ?? null,
      simuliveSourcePrefix: input.simuliveSourcePrefix,
      resolution: request.resolution,
      state: initial.state,
      createdAt: at,
      updatedAt: at,
    };
    this.save(doc);
    this.webhook(doc, 'video.live_event.created', { status: doc.state.status, previousStatus: null, operation: null, reason: null }, now);
    this.carryOutEffects(doc, null, initial.effects, now);
    // Within 12 h of its start with an origin ready: WAIT_FOR_PREVIEW in the same commit.
    if (doc.state.status === 'LIVE_STATUS_PREPARING' && infrastructureReady) this.step({ type: 'tick', at: now, infrastructureReady }, null);
    this.host.owe({ kind: 'event_index', eventId: doc.eventId, workspaceId: doc.workspaceId });
    log('live_event_created', { streamId: doc.streamId, eventId: doc.eventId, status: doc.state.status, type: doc.state.type });
  }

  /** A control operation (/preview, /start, …); refused with the allowed operations named. */
  operation(op: LiveEventOperation, at: number, options: { infrastructureReady: boolean; reopenAt: number | null }): EventCommandResult | Refused {
    const doc = this.load()!;
    // /start with a rehearsal on the air: that session goes on as the live one (the VOD is cut from its go-live).
    const stream = this.host.load();
    const sessionId = stream && isLive(stream.lifecycle) ? (stream.lifecycle.session?.id ?? null) : null;
    const result = this.step({ type: 'operation', op, at, infrastructureReady: options.infrastructureReady, reopenAt: options.reopenAt, sessionId }, op);
    if (!result.ok) return refusedBy(result);
    log('live_event_operation', { streamId: doc.streamId, eventId: doc.eventId, op, from: doc.state.status, to: this.load()!.state.status });
    return { ok: true, event: this.view()! };
  }

  /** PATCH: names and security any time; schedule and mode through the machine (refused from LIVE on). */
  update(patch: UpdateLiveEventRequest, at: number): EventCommandResult {
    const before = this.load()!;
    // ullEnabled is the event's name for its stream's latency mode (issue 15): fixed while the stream is live.
    const latencyMode = patch.ullEnabled === undefined ? undefined : patch.ullEnabled ? 'low' : 'standard';
    const stream = this.host.load();
    const locked = stream ? latencyModeLock(stream.lifecycle, stream.settings.latencyMode, latencyMode, 'ullEnabled') : null;
    if (locked) {
      return { ok: false, code: 'refused', httpStatus: 409, type: STREAM_LIVE_PROBLEM, detail: locked.detail, allowedOperations: allowedOperations(before.state) };
    }
    const rescheduled =
      patch.scheduledStartAt !== undefined || patch.scheduledEndAt !== undefined || patch.vod !== undefined || patch.broadcastMode !== undefined;
    if (rescheduled) {
      const result = this.step(
        {
          type: 'reschedule',
          at,
          ...(patch.scheduledStartAt !== undefined ? { scheduledStartAt: Date.parse(patch.scheduledStartAt) } : {}),
          ...(patch.scheduledEndAt !== undefined ? { scheduledEndAt: patch.scheduledEndAt === null ? null : Date.parse(patch.scheduledEndAt) } : {}),
          ...(patch.vod !== undefined
            ? { vod: { enabled: patch.vod.enabled, startAt: patch.vod.startAt ? Date.parse(patch.vod.startAt) : null, endAt: patch.vod.endAt ? Date.parse(patch.vod.endAt) : null } }
            : {}),
          ...(patch.broadcastMode !== undefined ? { broadcastMode: patch.broadcastMode } : {}),
        },
        null,
      );
      if (!result.ok) return refusedBy(result);
    }
    const doc = this.load()!;
    if (patch.name !== undefined) doc.name = patch.name;
    if (patch.customId !== undefined) doc.customId = patch.customId;
    if (patch.metadata !== undefined) doc.metadata = patch.metadata;
    if (patch.security !== undefined) doc.security = patch.security;
    doc.updatedAt = new Date(at).toISOString();
    this.save(doc);
    if (patch.security && patch.security.accessPolicy !== before.security.accessPolicy) {
      // The preview id is the stream's own: its policy lives in the stream's document too (D1 follows in event_index).
      const accessPolicy = patch.security.accessPolicy;
      this.host.streamInput({ type: 'update', at }, (stream) => {
        stream.playbackIds = stream.playbackIds.map((p) => ({ ...p, accessPolicy }));
      });
    }
    if (latencyMode !== undefined && latencyMode !== (stream?.settings.latencyMode ?? 'standard')) {
      this.host.streamInput({ type: 'update', at }, (s) => {
        s.settings.latencyMode = latencyMode;
      });
    }
    this.webhook(doc, 'video.live_event.updated', { status: doc.state.status, previousStatus: null, operation: null, reason: null }, at);
    this.host.owe({ kind: 'event_index', eventId: doc.eventId, workspaceId: doc.workspaceId });
    if (patch.security !== undefined || rescheduled) this.owePlaybackPurge(doc);
    return { ok: true, event: this.view()! };
  }

  /** Deletes the event and its stream (refused while encoders may be live: PREVIEW, LIVE). */
  remove(at: number): EventCommandResult {
    const doc = this.load()!;
    if (OPEN_FOR_ENCODERS.has(doc.state.status)) {
      return {
        ok: false,
        code: 'refused',
        httpStatus: 409,
        type: 'event-in-progress',
        detail: `the event is ${doc.state.status}; end it (/end) or cancel it (/cancel) before deleting it`,
        allowedOperations: allowedOperations(doc.state),
      };
    }
    const last = this.view()!;
    this.forget(doc, at);
    this.host.streamInput({ type: 'delete', at });
    return { ok: true, event: last };
  }

  /** The event's rows go, with its `deleted` webhook and the D1 row's removal owed. */
  private forget(doc: EventDocument, at: number): void {
    this.webhook(doc, 'video.live_event.deleted', { status: doc.state.status, previousStatus: null, operation: null, reason: null }, at);
    this.sql.exec('DELETE FROM event');
    this.sql.exec('DELETE FROM event_activities');
    this.host.owe({ kind: 'event_index', eventId: doc.eventId, workspaceId: doc.workspaceId });
    this.owePlaybackPurge(doc);
    log('live_event_deleted', { streamId: doc.streamId, eventId: doc.eventId, status: doc.state.status });
  }

  // ── the machine's steps and their effects ───────────────────────────────────────────────────────

  /** Runs one input on the stored state and carries out its effects, inside the caller's transaction. */
  private step(input: EventInput, _operation: LiveEventOperation | null) {
    const doc = this.load()!;
    const result = eventTransition(doc.state, input);
    if (!result.ok) return result;
    if (result.effects.length === 0 && JSON.stringify(result.state) === JSON.stringify(doc.state)) return result; // nothing changed
    const previous = doc.state.status;
    const next: EventDocument = { ...doc, state: result.state, updatedAt: new Date(input.at).toISOString() };
    this.save(next);
    this.carryOutEffects(next, previous, result.effects, input.at);
    this.host.owe({ kind: 'event_index', eventId: next.eventId, workspaceId: next.workspaceId });
    this.owePlaybackPurge(next); // a status, the live part's marks or its session: what the IDs play may differ
    return result;
  }

  /**
   * The effects of one transition, in one transaction: first what changes the stored state (the live part's marks), so
   * every webhook carries it; then the activities and webhooks in order; then the stream's inputs, which may call back
   * into this flow (nested, bounded).
   */
  private carryOutEffects(doc: EventDocument, previous: LiveEventStatus | null, effects: EventEffect[], at: number): void {
    const stream = this.host.load();
    for (const effect of effects) {
      // The machine marks the live part's instants; the shell names its session when one is on the air already (the
      // scheduled start of a simulive has none: the first session opened after it is the live one, afterStream).
      if (effect.kind === 'mark_live_start' && doc.state.liveSessionId === null && stream && isLive(stream.lifecycle)) {
        doc.state = { ...doc.state, liveSessionId: stream.lifecycle.session?.id ?? null };
        this.save(doc);
      }
    }
    let before = previous;
    for (const effect of effects) {
      if (effect.kind !== 'emit') continue;
      const sequence = this.webhook(doc, LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS[effect.status], { status: effect.status, previousStatus: before, operation: effect.operation, reason: effect.reason }, at);
      this.recordActivity(effect, at, sequence);
      before = effect.status;
    }
    this.nested(() => {
      for (const effect of effects) this.streamEffect(effect, at);
      // The live part is over: its VOD is the live session's recording, which may be watchable (or failed) already.
      const now = this.load();
      if (now && now.state.status === 'LIVE_STATUS_ENCODING' && previous !== 'LIVE_STATUS_ENCODING') this.checkVod(now, at);
    });
  }

  /** The effects that reach the stream or outside the object. */
  private streamEffect(effect: EventEffect, at: number): void {
    const stream = this.host.load();
    if (!stream) return;
    switch (effect.kind) {
      case 'open_ingest':
      case 'start_simulive':
        // A stream stopped by an earlier broadcast (reopened event) takes a publish again only once enabled.
        if (!stream.lifecycle.enabled || FINISHED_STREAM.has(stream.lifecycle.status)) this.host.streamInput({ type: 'enable', at });
        if (effect.kind === 'start_simulive') this.host.owe({ kind: 'event_simulive', eventId: this.load()!.eventId });
        return;
      case 'close_ingest':
        // Encoders are refused from now on (authorize reads the status); a connected one is kicked, its broadcast ends.
        if (isLive(stream.lifecycle)) this.host.streamInput({ type: 'complete', at });
        return;
      case 'end_stream':
        if (isLive(stream.lifecycle)) this.host.streamInput({ type: 'complete', at });
        return;
      default:
        return;
    }
  }

  /** The event just went ENCODING: the live session's recording decides, now if it is settled, else when it is. */
  private checkVod(doc: EventDocument, at: number): void {
    const sessionId = doc.state.liveSessionId;
    if (sessionId === null) {
      this.step({ type: 'vod_failed', at, reason: 'no broadcast reached the event while it was LIVE' }, null);
      return;
    }
    const recording = this.sql.exec<{ status: string; error: string | null }>('SELECT status, error FROM recordings WHERE session_id = ?', sessionId).toArray()[0];
    const stream = this.host.load();
    if (!recording) this.step({ type: 'vod_failed', at, reason: 'the live session made no recording' }, null);
    else if (recording.status === 'ready') this.step({ type: 'vod_ready', at }, null);
    else if (recording.status === 'failed') this.step({ type: 'vod_failed', at, reason: recording.error ?? 'the recording failed' }, null);
    else if (recording.status === 'waiting' && !(stream && isLive(stream.lifecycle) && stream.lifecycle.session?.id === sessionId)) {
      // The session never ended (its stream went to ERROR): nothing will make its media final.
      this.step({ type: 'vod_failed', at, reason: `the live session did not end normally (the stream is ${stream?.lifecycle.status ?? 'gone'})` }, null);
    }
  }

  private nested(run: () => void): void {
    if (this.nesting >= MAX_NESTING) {
      log('live_event_nesting_exceeded', { streamId: this.host.load()?.streamId ?? null, depth: this.nesting });
      return;
    }
    this.nesting += 1;
    try {
      run();
    } finally {
      this.nesting -= 1;
    }
  }

  /** One status change on the event's timeline; `webhookSequence` is its webhook's number in the stream's counter. */
  private recordActivity(effect: Extract<EventEffect, { kind: 'emit' }>, at: number, webhookSequence: number): void {
    this.sql.exec(
      `INSERT INTO event_activities (sequence, status, operation, reason, at, webhook_sequence)
       VALUES ((SELECT COALESCE(MAX(sequence), 0) + 1 FROM event_activities), ?, ?, ?, ?, ?)`,
      effect.status,
      effect.operation,
      effect.reason,
      new Date(at).toISOString(),
      webhookSequence,
    );
  }

  /** One `video.live_event.*` webhook into the stream's outbox, numbered by the stream's counter; its number. */
  private webhook(
    doc: EventDocument,
    type: LiveEventWebhookType,
    what: { status: LiveEventStatus; previousStatus: LiveEventStatus | null; operation: LiveEventOperation | null; reason: string | null },
    at: number,
  ): number {
    const stream = this.host.load()!; // the event is only ever stored with its stream
    const sequence = this.host.nextWebhookSequence();
    const { activities: _omit, ...data } = liveEventView(doc, this.host.streamView(stream), []);
    const timestamp = new Date(at).toISOString();
    const body: LiveEventWebhook = {
      id: newId('evt'),
      type,
      event: 'LIVE_EVENT',
      sequence,
      timestamp,
      workspaceId: doc.workspaceId,
      streamId: doc.streamId,
      liveEventId: doc.eventId,
      status: what.status,
      previousStatus: what.previousStatus,
      operation: what.operation,
      reason: what.reason,
      sessionId: null,
      subject: null,
      data: { ...data, status: what.status },
    };
    this.sql.exec('INSERT INTO webhook_outbox (sequence, body) VALUES (?, ?)', sequence, JSON.stringify(body));
    this.host.owe({ kind: 'webhook_flush' });
    return sequence;
  }

  // ── the stream's side ───────────────────────────────────────────────────────────────────────────

  /**
   * Called by the stream's commit after its writes, in the same transaction: what a stream transition means for the
   * event. True when the event (or the stream, through it) changed.
   */
  afterStream(before: StreamDocument, after: StreamDocument, input: LifecycleInput, effects: LifecycleEffect[]): boolean {
    const doc = this.load();
    if (!doc) return false;
    if (after.lifecycle.deleted) {
      // The stream was deleted through the streams API: its event goes with it (deleteEvent removes the event first).
      this.forget(doc, input.at);
      return true;
    }
    const status = doc.state.status;
    let acted = false;
    this.nested(() => {
      const opened = effects.find((e): e is Extract<LifecycleEffect, { kind: 'open_session' }> => e.kind === 'open_session');
      if (opened) this.owePlaybackPurge(doc); // the rehearsal (or live) session plays at once, not after LIVE_TTL_MS
      if (opened && status === 'LIVE_STATUS_LIVE' && doc.state.liveSessionId === null) {
        // Live with no session at /start: the first broadcast after it is the live part.
        acted = this.step({ type: 'live_session', at: input.at, sessionId: opened.session.id }, null).ok || acted;
      }
      // The broadcast stopped, or broke (an origin's error puts the stream in ERROR: it takes no publish until enabled).
      const stop = effects.find((e) => e.kind === 'emit' && (e.event === 'STOPPED' || (e.event === 'ERROR' && input.type === 'error'))) as
        | Extract<LifecycleEffect, { kind: 'emit' }>
        | undefined;
      if (status === 'LIVE_STATUS_LIVE' && input.type === 'publish_done' && input.reason === SIMULIVE_SOURCE_ENDED) {
        // The simulive source played to its end: the event's broadcast is over, no reconnect window to wait out.
        acted = this.step({ type: 'stream_ended', at: input.at, reason: 'the simulive source ended' }, null).ok || acted;
        if (isLive(this.host.load()!.lifecycle)) this.host.streamInput({ type: 'complete', at: input.at });
        acted = true;
      } else if (stop && status === 'LIVE_STATUS_LIVE') {
        // The stream stopped under the live event (its reconnect window ran out, or it was completed): the event ends.
        acted = this.step({ type: 'stream_ended', at: input.at, reason: stop.reason ?? 'the stream stopped' }, null).ok || acted;
      } else if (stop && status === 'LIVE_STATUS_PREVIEW' && after.lifecycle.enabled) {
        // A rehearsal that stopped may resume: the stream takes a new publish while the event is in PREVIEW.
        acted = this.host.streamInput({ type: 'enable', at: input.at }) || acted;
      }
      const sessionId = doc.state.liveSessionId;
      if (sessionId !== null && status === 'LIVE_STATUS_ENCODING') {
        if (input.type === 'recording_ready' && input.sessionId === sessionId) acted = this.step({ type: 'vod_ready', at: input.at }, null).ok || acted;
        if (input.type === 'recording_failed' && input.sessionId === sessionId) {
          acted = this.step({ type: 'vod_failed', at: input.at, reason: input.reason }, null).ok || acted;
        }
      }
    });
    return acted;
  }

  /**
   * Whether an encoder may publish now (null) or why not. A LIVE event admits encoders only in PREVIEW and LIVE; a
   * SIMULIVE event admits none (only its own simulive publisher, which its ticket check decides).
   */
  ingestRefusal(protocol: string): { refusal: 'event_not_open'; detail: string } | null {
    const doc = this.load();
    if (!doc) return null;
    const { status, type } = doc.state;
    if (type === 'LIVE_TYPE_SIMULIVE') {
      if (protocol !== 'simulive') return { refusal: 'event_not_open', detail: `the live event ${doc.eventId} is SIMULIVE: it broadcasts its recording, encoders are not admitted` };
      return status === 'LIVE_STATUS_LIVE' ? null : { refusal: 'event_not_open', detail: `the live event ${doc.eventId} is ${status}: its simulive broadcast runs only while LIVE` };
    }
    if (OPEN_FOR_ENCODERS.has(status)) return null;
    const opener =
      status === 'LIVE_STATUS_WAIT_FOR_PREVIEW'
        ? '/preview opens it'
        : status === 'LIVE_STATUS_SCHEDULED' || status === 'LIVE_STATUS_PREPARING'
          ? '/preview opens it once the event is LIVE_STATUS_WAIT_FOR_PREVIEW'
          : status === 'LIVE_STATUS_CLOSED'
            ? '/reopen, then /preview, opens it again'
            : 'no operation opens it again';
    return { refusal: 'event_not_open', detail: `the live event ${doc.eventId} is ${status}: ingest is closed; ${opener}` };
  }

  // ── deadlines (the object's alarm) ──────────────────────────────────────────────────────────────

  /** The event's next deadline; the readiness re-check of PREPARING on a fixed grid, so re-arming does not push it back. */
  nextDeadline(now: number): number | null {
    const doc = this.load();
    if (!doc) return null;
    if (doc.state.status === 'LIVE_STATUS_PREPARING') return Math.floor(now / READINESS_RECHECK_MS) * READINESS_RECHECK_MS + READINESS_RECHECK_MS;
    return nextEventDeadline(doc.state, now);
  }

  /** Whether an origin can take the stream now (its zone's), and the stream is enabled: the event's infrastructure. */
  async infrastructureReady(stream: StreamDocument): Promise<boolean> {
    if (!stream.lifecycle.enabled || stream.lifecycle.deleted) return false;
    const origin = await pickOrigin(this.host.env(), { region: stream.settings.zone ?? null }).catch((error: unknown) => {
      log('live_event_origin_pick_failed', { streamId: stream.streamId, error: String(error) });
      return null;
    });
    return origin !== null;
  }

  /** The alarm: a due deadline (12 h boundary, readiness re-check, scheduled end, VOD window, simulive start) ticks. */
  async onAlarm(at: number): Promise<void> {
    const first = this.load();
    if (!first) return;
    const deadline = nextEventDeadline(first.state, at);
    // PREPARING looks at readiness on every alarm; other statuses only once their deadline is due.
    if (first.state.status !== 'LIVE_STATUS_PREPARING' && (deadline === null || deadline > at)) return;
    const stream = this.host.load();
    if (!stream) return;
    const infrastructureReady = await this.infrastructureReady(stream);
    this.host.transact(() => {
      const doc = this.load();
      if (!doc) return;
      const from = doc.state.status;
      const result = this.step({ type: 'tick', at, infrastructureReady }, null);
      const to = this.load()?.state.status;
      if (result.ok && to !== from) log('live_event_tick', { streamId: doc.streamId, eventId: doc.eventId, from, to, infrastructureReady });
    });
  }

  // ── owed effects (asynchronous; true = done) ────────────────────────────────────────────────────

  async carryOut(effect: EventOwedEffect): Promise<boolean> {
    switch (effect.kind) {
      case 'event_index':
        await this.index(effect);
        return true;
      case 'event_simulive':
        return this.startSimulive(effect.eventId);
      case 'event_playback_purge':
        await purgePlaybackCache(this.host.env(), effect.playbackIds);
        return true;
    }
  }

  /**
   * Viewers see a status change (or new security, schedule) at once rather than when the cached answers expire
   * (LIVE_TTL_MS): /start opens, /end and the VOD window switch, /cancel closes without waiting it out, also when an
   * alarm or the stream made the change (no API request to purge after it). Owed, so it is carried out before an
   * operation's answer and retried by the alarm. The Cache API is per data center: this reaches the one the object
   * runs in (the API routes purge the caller's); elsewhere an answer lives out its TTL, as for streams.
   */
  private owePlaybackPurge(doc: EventDocument): void {
    this.host.owe({ kind: 'event_playback_purge', eventId: doc.eventId, playbackIds: [doc.publicPlaybackId, doc.previewPlaybackId] });
  }

  /** Keeps D1's `live_events` row in step (lists, status and customId filters); deleted with the event. */
  private async index(effect: Extract<EventOwedEffect, { kind: 'event_index' }>): Promise<void> {
    const db = this.host.env().DB;
    const doc = this.load();
    if (!doc || doc.eventId !== effect.eventId) {
      await db.prepare('DELETE FROM live_events WHERE id = ?').bind(effect.eventId).run();
      return;
    }
    const policy = doc.security.accessPolicy;
    await db.batch([
      db
        .prepare(
          `INSERT INTO live_events (id, workspace_id, stream_id, custom_id, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET custom_id = excluded.custom_id, status = excluded.status, updated_at = excluded.updated_at`,
        )
        .bind(doc.eventId, doc.workspaceId, doc.streamId, doc.customId, doc.state.status, doc.createdAt, doc.updatedAt),
      db.prepare('UPDATE playback_ids SET access_policy = ? WHERE id IN (?, ?)').bind(policy, doc.publicPlaybackId, doc.previewPlaybackId),
    ]);
  }

  /**
   * The start_simulive effect: an origin broadcasts the source (D's edge/event/simulive-dispatch.ts). No origin now:
   * retried with backoff. A source that cannot play (deleted, not exportable) will not get better: the live part ends.
   */
  private async startSimulive(eventId: string): Promise<boolean> {
    const doc = this.load();
    const stream = this.host.load();
    if (!doc || !stream || doc.eventId !== eventId || doc.state.status !== 'LIVE_STATUS_LIVE' || !doc.simulive) return true;
    if (isLive(stream.lifecycle)) return true; // the broadcast is on the air already (an earlier dispatch)
    const env = this.host.env();
    const outcome = await startSimulive(
      env,
      { streamId: doc.streamId, workspaceId: doc.workspaceId, source: doc.simulive, zone: stream.settings.zone ?? null },
      () => issueSimuliveTicket(this.sql, Date.now()),
    );
    log('live_event_simulive_started', { streamId: doc.streamId, eventId, ok: outcome.ok, ...(outcome.ok ? { originId: outcome.originId } : { code: outcome.code, detail: outcome.detail }) });
    if (outcome.ok) return true;
    if (outcome.code === 'no_origin') return false;
    this.host.transact(() => {
      if (this.load()?.state.status === 'LIVE_STATUS_LIVE') this.step({ type: 'stream_ended', at: Date.now(), reason: `the simulive source cannot play: ${outcome.detail}` }, null);
    });
    return true;
  }

  // ── playback (C's gate reads this) ──────────────────────────────────────────────────────────────

  /** What the playback gate needs for one of the event's playback ids; null: not one of them (or no event). */
  eventPlayback(playbackId: string): EventPlaybackState | null {
    const doc = this.load();
    if (!doc) return null;
    const role = playbackId === doc.publicPlaybackId ? 'public' : playbackId === doc.previewPlaybackId ? 'preview' : null;
    if (role === null) return null;
    const { state } = doc;
    return {
      role,
      status: state.status,
      type: state.type,
      broadcastMode: state.broadcastMode,
      accessPolicy: doc.security.accessPolicy,
      allowedDomains: doc.security.allowedDomains,
      scheduledStartAt: state.scheduledStartAt,
      liveStartedAt: state.liveStartedAt,
      liveEndedAt: state.liveEndedAt,
      liveSessionId: state.liveSessionId,
      vod: { startAt: state.vod.startAt, endAt: state.vod.endAt },
      simuliveSourcePrefix: doc.simuliveSourcePrefix,
    };
  }
}

function refusedBy(result: { ok: false; refusal: 'operation_not_allowed' | 'invalid'; detail: string; allowedOperations: LiveEventOperation[] }): Refused {
  return result.refusal === 'invalid'
    ? { ok: false, code: 'refused', httpStatus: 400, type: 'invalid-request', detail: result.detail, allowedOperations: result.allowedOperations }
    : { ok: false, code: 'refused', httpStatus: 409, type: 'operation-not-allowed', detail: result.detail, allowedOperations: result.allowedOperations };
}

/** The HLS of a simulive source (a recording's session media, a library video's), for PLAYBACK mode's source VOD. */
export const simuliveSourcePrefixOf = simuliveSourcePrefix;

export type { EventState };
