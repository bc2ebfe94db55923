// The stream lifecycle of DESIGN.md as one pure function: (state, input) → new state and the effects to carry out.
// The Durable Object is the shell that persists the state and performs the effects; nothing here does I/O.
import type { StreamStatus, LifecycleEventName } from '../shared/lifecycle-vocabulary.ts';
import type { IngestRefusal } from '../shared/schemas/internal.ts';
import { recordingIdFor } from './stream-media-store.ts';

/** No stats from the origin for this long: the shell asks whether the origin is still alive before counting it lost. */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * A session lost only to silence whose origin has not been heard since is in doubt, not over: its encoder may be
 * publishing fine behind a control-plane outage. Its window's end waits for the origin, asking again this often…
 */
export const ORIGIN_RECHECK_MS = 5_000;
/** …for at most this long after the silence began (edge clock); then the origin counts as gone and the stream stops. */
export const ORIGIN_LOST_TIMEOUT_MS = 5 * 60_000;

/**
 * A stopped session's recording waits this long for its origin to say the media is final in R2 (media_durable final);
 * then it is made watchable from what is stored (issue 11: watchable within 10 s of STOPPED, however long).
 */
export const RECORDING_WATCHABLE_TIMEOUT_MS = 8_000;

/** Settings of the transition that come from the deployment, not from the stream. */
export interface LifecycleConfig {
  recordingWatchableTimeoutMs: number;
}
export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = { recordingWatchableTimeoutMs: RECORDING_WATCHABLE_TIMEOUT_MS };

export interface LiveSession {
  id: string;
  startedAt: number;
  originId: string;
  originUrl: string;
  reconnects: number;
  publisherConnected: boolean;
  recording: boolean;
  lastSeen: number | null;
  /** The session makes a recording (record was on when it opened); absent in documents older than this field. */
  recorded?: boolean;
  /**
   * Disconnected because nothing was heard (heartbeat_lost), not because the encoder left: stats arriving for the
   * session prove the encoder is still publishing, and it returns to STREAMING in the same session.
   */
  silent?: boolean;
  /** When the silence began (edge clock), for a silent session; bounds how long an unheard origin is waited for. */
  silentSince?: number;
}

/** A stopped session whose media its origin is making final, and when the edge stops waiting for it (epoch ms). */
export interface Finalizing {
  sessionId: string;
  deadline: number;
}

export interface LifecycleState {
  status: StreamStatus;
  enabled: boolean;
  deleted: boolean;
  record: boolean;
  reconnectWindowSeconds: number;
  session: LiveSession | null;
  /** When a DISCONNECTED session becomes STOPPED unless its encoder returns (epoch ms). */
  reconnectDeadline: number | null;
  /** When a connected session counts as lost if no stats arrive before it (epoch ms). */
  heartbeatDeadline: number | null;
  errorReason: string | null;
  /** The session whose recording was ready before the edge saw it stop: STOPPED then moves straight to COMPLETED. */
  recordingReadyFor?: string | null;
  /** Recordings being built, each with its deadline; absent in documents older than this field. */
  finalizing?: Finalizing[];
}

export type LifecycleInput =
  /**
   * `takeover`: the session's holding origin was asked (or is stale) and no longer has the encoder (edge/takeover.ts),
   * so a live session held there is handed to this origin, as a reconnect.
   */
  | {
      type: 'publish';
      at: number;
      newSessionId: string;
      originId: string;
      originUrl: string;
      takeover?: { sessionId: string; fromOriginId: string; reason: string };
      /**
       * `reclaim`: the holding origin itself publishes again and says no encoder of this key is there (edge/takeover.ts):
       * the connected session it holds is a publish it gave up on (a timed-out authorize applied late), so this
       * encoder continues it, as a reconnect.
       */
      reclaim?: { sessionId: string; reason: string };
    }
  | { type: 'publish_done'; at: number; sessionId: string; reason: string }
  | { type: 'heartbeat'; at: number; sessionId: string }
  | { type: 'recording_started'; at: number; sessionId: string }
  /** The stats deadline passed and the origin is silent too, or no longer holds the session. */
  | { type: 'heartbeat_lost'; at: number; originSilent: boolean }
  /** The stats deadline passed but the origin's own heartbeat says it still holds the session: stats are only late. */
  | { type: 'origin_vouched'; at: number; sessionId: string }
  /** A silent session's window ended and its origin has not been heard since: keep waiting for it (bounded). */
  | { type: 'origin_unheard'; at: number }
  | { type: 'recording_deadline_passed'; at: number }
  | { type: 'recording_retried'; at: number; sessionId: string }
  | { type: 'reconnect_window_expired'; at: number }
  | { type: 'complete'; at: number }
  | { type: 'enable'; at: number }
  | { type: 'disable'; at: number }
  | { type: 'update'; at: number; record?: boolean; reconnectWindowSeconds?: number }
  | { type: 'delete'; at: number }
  | { type: 'recording_ready'; at: number; sessionId: string; recordingId: string }
  | { type: 'recording_failed'; at: number; sessionId: string; recordingId: string; reason: string }
  | { type: 'clip_ready'; at: number; clipId: string }
  | { type: 'error'; at: number; reason: string };

export type LifecycleEffect =
  /** One activity and one webhook, in this order; `subject` names the recording or clip the event is about. */
  | {
      kind: 'emit';
      event: LifecycleEventName;
      status: StreamStatus;
      sessionId: string | null;
      reason: string | null;
      subject?: EventSubject;
    }
  /** `final`: the session is over, so the origin can close its playlists now rather than wait out the window. */
  | { kind: 'kick_encoder'; sessionId: string; originId: string; originUrl: string; reason: string; final: boolean }
  | { kind: 'open_session'; session: LiveSession }
  | { kind: 'end_session'; sessionId: string; at: number }
  /** The broadcast is over: ask the origin holding the session to make its media final in R2 (flush, ENDLIST). */
  | { kind: 'finalize_recording'; sessionId: string; originId: string; originUrl: string }
  /** Stop waiting for the origin: the recording is made watchable from what R2 holds (or fails if it holds nothing). */
  | { kind: 'settle_recording'; sessionId: string };

export interface EventSubject {
  kind: 'recording' | 'clip' | 'destination';
  id: string;
}

export type Refusal = IngestRefusal | 'stale_session' | 'not_live' | 'already_enabled' | 'already_disabled';

export type Transition =
  | { ok: true; state: LifecycleState; effects: LifecycleEffect[]; resumed?: boolean }
  | { ok: false; refusal: Refusal; detail: string };

export function initialLifecycle(settings: { record: boolean; reconnectWindowSeconds: number }): LifecycleState {
  return {
    status: 'NOT_STARTED',
    enabled: true,
    deleted: false,
    record: settings.record,
    reconnectWindowSeconds: settings.reconnectWindowSeconds,
    session: null,
    reconnectDeadline: null,
    heartbeatDeadline: null,
    errorReason: null,
  };
}

const LIVE: ReadonlySet<StreamStatus> = new Set(['STREAMING', 'RECORDING', 'DISCONNECTED']);
const FINISHED: ReadonlySet<StreamStatus> = new Set(['STOPPED', 'COMPLETED', 'ERROR']);

export const isLive = (state: LifecycleState): boolean => LIVE.has(state.status);

/** The earliest moment the shell must wake up (its Durable Object alarm), or null. */
export function nextDeadline(state: LifecycleState): number | null {
  const deadlines = [
    state.reconnectDeadline,
    state.heartbeatDeadline,
    ...(state.finalizing ?? []).map((f) => f.deadline),
  ].filter((d): d is number => d !== null);
  return deadlines.length ? Math.min(...deadlines) : null;
}

const refuse = (refusal: Refusal, detail: string): Transition => ({ ok: false, refusal, detail });

/** Builds a transition while collecting effects, so each rule below reads as a list of steps. */
class TransitionBuilder {
  readonly effects: LifecycleEffect[] = [];
  constructor(
    public state: LifecycleState,
    private readonly config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
  ) {}

  set(patch: Partial<LifecycleState>): this {
    this.state = { ...this.state, ...patch };
    return this;
  }

  emit(event: LifecycleEventName, reason: string | null = null, subject?: EventSubject): this {
    this.effects.push({
      kind: 'emit',
      event,
      status: this.state.status,
      sessionId: this.state.session?.id ?? null,
      reason,
      ...(subject ? { subject } : {}),
    });
    return this;
  }

  kickIfConnected(reason: string, final = true): this {
    const session = this.state.session;
    if (session?.publisherConnected) {
      this.effects.push({ kind: 'kick_encoder', sessionId: session.id, originId: session.originId, originUrl: session.originUrl, reason, final });
      this.set({ session: { ...session, publisherConnected: false } });
    }
    return this;
  }

  /** Ends the broadcast: the session closes, every deadline is dropped. */
  stop(at: number, reason: string): this {
    const session = this.state.session;
    this.kickIfConnected(reason);
    if (session && !session.publisherConnected && session.silent) {
      // Lost only to silence: the encoder may still be on its origin, which must now let it go for good.
      this.effects.push({ kind: 'kick_encoder', sessionId: session.id, originId: session.originId, originUrl: session.originUrl, reason, final: true });
      this.set({ session: { ...session, silent: false } });
    }
    this.set({ status: 'STOPPED', reconnectDeadline: null, heartbeatDeadline: null });
    if (session) this.effects.push({ kind: 'end_session', sessionId: session.id, at });
    this.emit('STOPPED', reason);
    if (session && this.state.recordingReadyFor === session.id) this.set({ status: 'COMPLETED' }).emit('COMPLETED');
    else if (session && (session.recorded ?? this.state.record)) {
      this.awaitRecording(session.id, at);
      this.effects.push({ kind: 'finalize_recording', sessionId: session.id, originId: session.originId, originUrl: session.originUrl });
    }
    return this;
  }

  /** The origin makes the session's media final now; the edge waits for it only so long. */
  awaitRecording(sessionId: string, at: number): this {
    const others = (this.state.finalizing ?? []).filter((f) => f.sessionId !== sessionId);
    return this.set({ finalizing: [...others, { sessionId, deadline: at + this.config.recordingWatchableTimeoutMs }] });
  }

  recordingSettled(sessionId: string): this {
    const finalizing = this.state.finalizing ?? [];
    if (finalizing.some((f) => f.sessionId === sessionId)) {
      this.set({ finalizing: finalizing.filter((f) => f.sessionId !== sessionId) });
    }
    return this;
  }

  done(extra: { resumed?: boolean } = {}): Transition {
    return { ok: true, state: this.state, effects: this.effects, ...extra };
  }
}

const connectedStatus = (state: LifecycleState, session: LiveSession): StreamStatus =>
  state.record && session.recording ? 'RECORDING' : 'STREAMING';

function onPublish(state: LifecycleState, input: Extract<LifecycleInput, { type: 'publish' }>): Transition {
  if (state.deleted) return refuse('stream_deleted', 'the stream was deleted');
  if (!state.enabled) return refuse('stream_disabled', 'the stream is disabled; live-enable it first');
  if (FINISHED.has(state.status)) {
    return refuse('stream_finished', `the stream is ${state.status}; live-enable it to start a new broadcast`);
  }
  const heartbeatDeadline = input.at + HEARTBEAT_TIMEOUT_MS;
  const current = state.session;
  const takeover = input.takeover;
  if (
    current?.publisherConnected &&
    takeover &&
    takeover.sessionId === current.id &&
    takeover.fromOriginId === current.originId &&
    input.originId !== current.originId
  ) {
    // The holder no longer has the encoder (it died, or let it go unseen): the encoder lost there, back here at once.
    // The old origin is told to drop the session, not to end it, in case it still holds a connection it cannot see.
    const lost = new TransitionBuilder(state)
      .kickIfConnected(takeover.reason, false)
      .set({ status: 'DISCONNECTED', heartbeatDeadline: null, reconnectDeadline: null })
      .emit('ON_PUBLISH_DONE', takeover.reason);
    return resumeSession(lost, input, heartbeatDeadline);
  }
  const reclaim = input.reclaim;
  if (current?.publisherConnected && reclaim && reclaim.sessionId === current.id && input.originId === current.originId) {
    // A ghost: the origin refused that encoder when its authorize timed out, then the edge applied the call. Lost then
    // back, as an encoder reconnecting inside the window (one ON_PUBLISH_DONE, one ON_PUBLISH, the same session).
    // No kick: it would reach this same origin, where the new encoder is about to publish this very session.
    const lost = new TransitionBuilder(state)
      .set({ session: { ...current, publisherConnected: false }, status: 'DISCONNECTED', heartbeatDeadline: null, reconnectDeadline: null })
      .emit('ON_PUBLISH_DONE', reclaim.reason);
    return resumeSession(lost, input, heartbeatDeadline);
  }
  if (current?.publisherConnected) return refuse('already_live', 'another encoder is publishing to this stream');

  if (state.status === 'DISCONNECTED' && current) return resumeSession(new TransitionBuilder(state), input, heartbeatDeadline);

  const session: LiveSession = {
    id: input.newSessionId,
    startedAt: input.at,
    originId: input.originId,
    originUrl: input.originUrl,
    reconnects: 0,
    publisherConnected: true,
    recording: false,
    lastSeen: input.at,
    recorded: state.record,
  };
  const builder = new TransitionBuilder(state).set({
    session,
    status: 'STREAMING',
    reconnectDeadline: null,
    heartbeatDeadline,
    errorReason: null,
  });
  builder.effects.push({ kind: 'open_session', session });
  return builder.emit('ON_PUBLISH').done({ resumed: false });
}

/** Back within the window (or taken over): the same session goes on, possibly through another origin. */
function resumeSession(
  builder: TransitionBuilder,
  input: Extract<LifecycleInput, { type: 'publish' }>,
  heartbeatDeadline: number,
): Transition {
  const current = builder.state.session!;
  const session: LiveSession = {
    ...current,
    originId: input.originId,
    originUrl: input.originUrl,
    reconnects: current.reconnects + 1,
    publisherConnected: true,
    recording: false,
    lastSeen: input.at,
    silent: false,
    silentSince: undefined,
  };
  return builder
    .set({ session, status: 'STREAMING', reconnectDeadline: null, heartbeatDeadline })
    .emit('ON_PUBLISH')
    .done({ resumed: true });
}

/**
 * The encoder went away (it said so, or nothing was heard of it): wait out the reconnect window. `silent` marks a
 * session lost only to silence, which its own stats can bring back.
 */
function onEncoderLost(
  state: LifecycleState,
  at: number,
  reason: string,
  config: LifecycleConfig,
  silent = false,
): Transition {
  const session = state.session!;
  const builder = new TransitionBuilder(state, config).set({
    status: 'DISCONNECTED',
    // A silent session keeps its recording flag: if the origin comes back, it is still recording.
    session: {
      ...session,
      publisherConnected: false,
      recording: silent && session.recording,
      silent,
      silentSince: silent ? at : undefined,
    },
    heartbeatDeadline: null,
    reconnectDeadline: at + state.reconnectWindowSeconds * 1000,
  });
  builder.emit('ON_PUBLISH_DONE', reason);
  if (state.reconnectWindowSeconds === 0) builder.stop(at, 'reconnect window is 0 s');
  return builder.done();
}

/** Stats for a session lost only to silence: the encoder never left, so the same session is live again. */
function onHeardAgain(state: LifecycleState, at: number, config: LifecycleConfig): Transition {
  const session: LiveSession = { ...state.session!, publisherConnected: true, silent: false, silentSince: undefined, lastSeen: at };
  const builder = new TransitionBuilder(state, config)
    .set({ session, status: 'STREAMING', reconnectDeadline: null, heartbeatDeadline: at + HEARTBEAT_TIMEOUT_MS })
    .emit('ON_PUBLISH', 'the origin was heard again; the encoder never left');
  if (connectedStatus(state, session) === 'RECORDING') builder.set({ status: 'RECORDING' }).emit('RECORDING');
  return builder.done({ resumed: true });
}

const sessionMatches = (state: LifecycleState, sessionId: string): boolean => state.session?.id === sessionId;

/**
 * One lifecycle step. Every `at` is the edge's clock (the Durable Object's Date.now()): an origin's clock never sets a
 * deadline, so an origin 30 s off cannot shorten a window or a heartbeat.
 */
export function transition(
  state: LifecycleState,
  input: LifecycleInput,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): Transition {
  const step = () => new TransitionBuilder(state, config);
  switch (input.type) {
    case 'publish':
      return onPublish(state, input);

    case 'publish_done': {
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      const session = state.session!;
      // Already lost to silence, and now the origin says the encoder did leave: its stats cannot bring it back.
      if (!session.publisherConnected) return step().set({ session: { ...session, silent: false } }).done();
      return onEncoderLost(state, input.at, input.reason, config);
    }

    case 'heartbeat': {
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      const session = state.session!;
      if (!session.publisherConnected) {
        return state.status === 'DISCONNECTED' && session.silent ? onHeardAgain(state, input.at, config) : step().done();
      }
      return step()
        .set({ session: { ...session, lastSeen: input.at }, heartbeatDeadline: input.at + HEARTBEAT_TIMEOUT_MS })
        .done();
    }

    case 'origin_vouched': {
      if (!sessionMatches(state, input.sessionId)) return step().done();
      const session = state.session!;
      // The origin, heard again, still holds a session lost to silence: its encoder never left.
      if (!session.publisherConnected) {
        return state.status === 'DISCONNECTED' && session.silent ? onHeardAgain(state, input.at, config) : step().done();
      }
      return step().set({ heartbeatDeadline: input.at + HEARTBEAT_TIMEOUT_MS }).done();
    }

    case 'heartbeat_lost': {
      const session = state.session;
      if (!session?.publisherConnected) return step().set({ heartbeatDeadline: null }).done();
      // No kick: an encoder the edge merely cannot hear may be publishing fine; if it is, its stats bring it back.
      const reason = input.originSilent
        ? `no stats and no origin heartbeat for ${HEARTBEAT_TIMEOUT_MS / 1000} s`
        : `no stats for ${HEARTBEAT_TIMEOUT_MS / 1000} s and the origin no longer holds the session`;
      return onEncoderLost(state, input.at, reason, config, true);
    }

    case 'recording_started': {
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      const session = state.session!;
      if (!state.record || !session.publisherConnected || session.recording) return step().done();
      const recording = { ...session, recording: true };
      return step()
        .set({ session: recording, status: connectedStatus(state, recording) })
        .emit('RECORDING')
        .done();
    }

    case 'origin_unheard': {
      const session = state.session;
      if (state.status !== 'DISCONNECTED' || !session?.silent) return step().done();
      // Nothing is known of the encoder: no event, no kick, only the next look at the origin's heartbeat.
      const silentSince = session.silentSince ?? input.at; // documents older than the field start counting now
      const lostAt = silentSince + ORIGIN_LOST_TIMEOUT_MS;
      return step()
        .set({
          session: { ...session, silentSince },
          reconnectDeadline: Math.max(input.at + 1, Math.min(input.at + ORIGIN_RECHECK_MS, lostAt)),
        })
        .done();
    }

    case 'reconnect_window_expired':
      if (state.status !== 'DISCONNECTED') return step().set({ reconnectDeadline: null }).done();
      return step().stop(input.at, 'reconnect window expired').done();

    case 'complete':
      if (!isLive(state)) return refuse('not_live', `the stream is ${state.status}; there is no broadcast to complete`);
      return step().stop(input.at, 'completed through the API').done();

    case 'enable':
      if (state.enabled && !FINISHED.has(state.status)) return refuse('already_enabled', 'the stream is already enabled');
      return step()
        .set({ enabled: true, status: 'NOT_STARTED', session: null, errorReason: null })
        .emit('ENABLED')
        .done();

    case 'disable': {
      if (!state.enabled) return refuse('already_disabled', 'the stream is already disabled');
      const builder = step();
      if (isLive(state)) builder.stop(input.at, 'disabled through the API');
      return builder.set({ enabled: false }).emit('DISABLED').done();
    }

    case 'update': {
      const builder = step();
      if (input.record !== undefined) builder.set({ record: input.record });
      if (input.reconnectWindowSeconds !== undefined) {
        builder.set({ reconnectWindowSeconds: input.reconnectWindowSeconds });
      }
      return builder.emit('UPDATED').done();
    }

    case 'delete': {
      const builder = step();
      if (isLive(state)) builder.stop(input.at, 'deleted through the API');
      // Its recordings go with it: nothing is left to wait for.
      return builder.set({ deleted: true, enabled: false, finalizing: [] }).emit('DELETED').done();
    }

    case 'recording_ready': {
      const subject: EventSubject = { kind: 'recording', id: input.recordingId };
      const builder = step().recordingSettled(input.sessionId).emit('RECORDING_READY', null, subject);
      if (!sessionMatches(state, input.sessionId)) return builder.done();
      // A retried (or timed-out, then late) recording also lifts the ERROR its first failure caused.
      if (state.status === 'STOPPED' || state.status === 'ERROR') {
        builder.set({ status: 'COMPLETED', errorReason: null }).emit('COMPLETED', null, subject);
      } else if (state.status === 'DISCONNECTED') {
        // The origin finished first (e.g. it restarted); COMPLETED follows when the window ends here.
        builder.set({ recordingReadyFor: input.sessionId });
      }
      return builder.done();
    }

    case 'recording_failed':
      return failRecording(step().recordingSettled(input.sessionId), input.sessionId, input.reason).done();

    case 'recording_retried':
      return step().awaitRecording(input.sessionId, input.at).done();

    case 'recording_deadline_passed': {
      // The origin did not say its media is final in time (dead, or slow): what R2 holds is the recording.
      const builder = step();
      for (const { sessionId } of (state.finalizing ?? []).filter((f) => f.deadline <= input.at)) {
        builder.recordingSettled(sessionId);
        builder.effects.push({ kind: 'settle_recording', sessionId });
      }
      return builder.done();
    }

    case 'clip_ready':
      return step().emit('CLIP_READY', null, { kind: 'clip', id: input.clipId }).done();

    case 'error':
      return step()
        .kickIfConnected(input.reason)
        .set({ status: 'ERROR', errorReason: input.reason, reconnectDeadline: null, heartbeatDeadline: null })
        .emit('ERROR', input.reason)
        .done();
  }
}

/**
 * A recording failed (no media of the session reached storage): the stream waiting on it for COMPLETED goes to ERROR
 * with the reason; a stream that has moved on (a new broadcast, re-enabled) keeps its status, the recording says it.
 * A failed MP4 export is not this: the recording stays watchable and the stream COMPLETED.
 */
function failRecording(builder: TransitionBuilder, sessionId: string, reason: string): TransitionBuilder {
  const state = builder.state;
  if (!sessionMatches(state, sessionId) || isLive(state) || state.status === 'NOT_STARTED') return builder;
  return builder
    .set({ status: 'ERROR', errorReason: `recording failed: ${reason}` })
    .emit('ERROR', `recording failed: ${reason}`, { kind: 'recording', id: recordingIdFor(sessionId) });
}

/** What the edge last heard from an origin's own heartbeat (edge clock), apart from any stream's stats. */
export interface OriginLiveness {
  heardAt: number;
  sessionIds: readonly string[];
}

/**
 * The reconnect window of a DISCONNECTED session ended at `now` (edge clock). A session lost only to silence whose
 * origin is heard again and still holds it comes back (its stats may only be stuck behind the origin's outbox
 * backoff). One whose origin has not been heard since the silence began is in doubt: the edge cannot tell a gone
 * encoder from one publishing behind an outage, and stopping would kick it (the edge → origin path may well work while
 * origin → edge does not), so it waits for the origin up to ORIGIN_LOST_TIMEOUT_MS. Anything else stops: the encoder
 * left, or the origin, heard again, no longer holds the session.
 */
export function reconnectWindowOver(state: LifecycleState, origin: OriginLiveness | null, now: number): LifecycleInput {
  const session = state.session;
  if (session?.silent) {
    const heardAgain = origin !== null && now - origin.heardAt <= HEARTBEAT_TIMEOUT_MS;
    if (heardAgain && origin.sessionIds.includes(session.id)) return { type: 'origin_vouched', at: now, sessionId: session.id };
    // Heard since the silence began, without the session: the origin let the encoder go.
    const letGo = origin !== null && origin.heardAt > (session.silentSince ?? now) && !origin.sessionIds.includes(session.id);
    const inDoubtUntil = (session.silentSince ?? now) + ORIGIN_LOST_TIMEOUT_MS;
    if (!heardAgain && !letGo && now < inDoubtUntil) return { type: 'origin_unheard', at: now };
  }
  return { type: 'reconnect_window_expired', at: now };
}

/**
 * A connected session's stats deadline passed at `now` (edge clock). The origin's own heartbeat decides what that
 * means: heard lately and holding the session → the stats are only late (a backed-up outbox), keep waiting; heard
 * lately without it → the encoder is gone; not heard → the origin (or the path to it) is silent. Neither loss kicks.
 */
export function statsOverdue(state: LifecycleState, origin: OriginLiveness | null, now: number): LifecycleInput {
  const sessionId = state.session?.id ?? '';
  const heard = origin !== null && now - origin.heardAt <= HEARTBEAT_TIMEOUT_MS;
  if (heard && origin.sessionIds.includes(sessionId)) return { type: 'origin_vouched', at: now, sessionId };
  return { type: 'heartbeat_lost', at: now, originSilent: !heard };
}
