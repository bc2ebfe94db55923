// The stream lifecycle of DESIGN.md as one pure function: (state, input) → new state and the effects to carry out.
// The Durable Object is the shell that persists the state and performs the effects; nothing here does I/O.
import type { StreamStatus, LifecycleEventName } from '../shared/lifecycle-vocabulary.ts';
import type { IngestRefusal } from '../shared/schemas/internal.ts';

/** No stats from the origin for this long means the encoder (or its origin) is gone. */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

export interface LiveSession {
  id: string;
  startedAt: number;
  originId: string;
  originUrl: string;
  reconnects: number;
  publisherConnected: boolean;
  recording: boolean;
  lastSeen: number | null;
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
}

export type LifecycleInput =
  | { type: 'publish'; at: number; newSessionId: string; originId: string; originUrl: string }
  | { type: 'publish_done'; at: number; sessionId: string; reason: string }
  | { type: 'heartbeat'; at: number; sessionId: string }
  | { type: 'recording_started'; at: number; sessionId: string }
  | { type: 'heartbeat_lost'; at: number }
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
  | { kind: 'kick_encoder'; sessionId: string; originUrl: string; reason: string; final: boolean }
  | { kind: 'open_session'; session: LiveSession }
  | { kind: 'end_session'; sessionId: string; at: number };

export interface EventSubject {
  kind: 'recording' | 'clip';
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
  const deadlines = [state.reconnectDeadline, state.heartbeatDeadline].filter((d): d is number => d !== null);
  return deadlines.length ? Math.min(...deadlines) : null;
}

const refuse = (refusal: Refusal, detail: string): Transition => ({ ok: false, refusal, detail });

/** Builds a transition while collecting effects, so each rule below reads as a list of steps. */
class TransitionBuilder {
  readonly effects: LifecycleEffect[] = [];
  constructor(public state: LifecycleState) {}

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
      this.effects.push({ kind: 'kick_encoder', sessionId: session.id, originUrl: session.originUrl, reason, final });
      this.set({ session: { ...session, publisherConnected: false } });
    }
    return this;
  }

  /** Ends the broadcast: the session closes, every deadline is dropped. */
  stop(at: number, reason: string): this {
    const session = this.state.session;
    this.kickIfConnected(reason);
    this.set({ status: 'STOPPED', reconnectDeadline: null, heartbeatDeadline: null });
    if (session) this.effects.push({ kind: 'end_session', sessionId: session.id, at });
    this.emit('STOPPED', reason);
    if (session && this.state.recordingReadyFor === session.id) this.set({ status: 'COMPLETED' }).emit('COMPLETED');
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
  if (current?.publisherConnected) return refuse('already_live', 'another encoder is publishing to this stream');

  if (state.status === 'DISCONNECTED' && current) {
    // Back within the window: the same session goes on, possibly through another origin.
    const session: LiveSession = {
      ...current,
      originId: input.originId,
      originUrl: input.originUrl,
      reconnects: current.reconnects + 1,
      publisherConnected: true,
      recording: false,
      lastSeen: input.at,
    };
    return new TransitionBuilder(state)
      .set({ session, status: 'STREAMING', reconnectDeadline: null, heartbeatDeadline })
      .emit('ON_PUBLISH')
      .done({ resumed: true });
  }

  const session: LiveSession = {
    id: input.newSessionId,
    startedAt: input.at,
    originId: input.originId,
    originUrl: input.originUrl,
    reconnects: 0,
    publisherConnected: true,
    recording: false,
    lastSeen: input.at,
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

/** The encoder went away (it said so, or its heartbeat stopped): wait out the reconnect window. */
function onEncoderLost(state: LifecycleState, at: number, reason: string): Transition {
  const session = state.session!;
  const builder = new TransitionBuilder(state).set({
    status: 'DISCONNECTED',
    session: { ...session, publisherConnected: false, recording: false },
    heartbeatDeadline: null,
    reconnectDeadline: at + state.reconnectWindowSeconds * 1000,
  });
  builder.emit('ON_PUBLISH_DONE', reason);
  if (state.reconnectWindowSeconds === 0) builder.stop(at, 'reconnect window is 0 s');
  return builder.done();
}

const sessionMatches = (state: LifecycleState, sessionId: string): boolean => state.session?.id === sessionId;

export function transition(state: LifecycleState, input: LifecycleInput): Transition {
  switch (input.type) {
    case 'publish':
      return onPublish(state, input);

    case 'publish_done':
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      if (!state.session!.publisherConnected) return new TransitionBuilder(state).done();
      return onEncoderLost(state, input.at, input.reason);

    case 'heartbeat': {
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      const session = state.session!;
      if (!session.publisherConnected) return new TransitionBuilder(state).done();
      return new TransitionBuilder(state)
        .set({ session: { ...session, lastSeen: input.at }, heartbeatDeadline: input.at + HEARTBEAT_TIMEOUT_MS })
        .done();
    }

    case 'heartbeat_lost': {
      const session = state.session;
      if (!session?.publisherConnected) return new TransitionBuilder(state).set({ heartbeatDeadline: null }).done();
      // The origin may still hold the encoder even though we cannot hear it; ask it to let go.
      const builder = new TransitionBuilder(state).kickIfConnected('heartbeat lost', false);
      const lost = onEncoderLost({ ...builder.state, session }, input.at, 'no stats from the origin for 10 s');
      if (!lost.ok) return lost;
      return { ...lost, effects: [...builder.effects, ...lost.effects] };
    }

    case 'recording_started': {
      if (!sessionMatches(state, input.sessionId)) return refuse('stale_session', 'not the current session');
      const session = state.session!;
      if (!state.record || !session.publisherConnected || session.recording) return new TransitionBuilder(state).done();
      const recording = { ...session, recording: true };
      return new TransitionBuilder(state)
        .set({ session: recording, status: connectedStatus(state, recording) })
        .emit('RECORDING')
        .done();
    }

    case 'reconnect_window_expired':
      if (state.status !== 'DISCONNECTED') return new TransitionBuilder(state).set({ reconnectDeadline: null }).done();
      return new TransitionBuilder(state).stop(input.at, 'reconnect window expired').done();

    case 'complete':
      if (!isLive(state)) return refuse('not_live', `the stream is ${state.status}; there is no broadcast to complete`);
      return new TransitionBuilder(state).stop(input.at, 'completed through the API').done();

    case 'enable':
      if (state.enabled && !FINISHED.has(state.status)) return refuse('already_enabled', 'the stream is already enabled');
      return new TransitionBuilder(state)
        .set({ enabled: true, status: 'NOT_STARTED', session: null, errorReason: null })
        .emit('ENABLED')
        .done();

    case 'disable': {
      if (!state.enabled) return refuse('already_disabled', 'the stream is already disabled');
      const builder = new TransitionBuilder(state);
      if (isLive(state)) builder.stop(input.at, 'disabled through the API');
      return builder.set({ enabled: false }).emit('DISABLED').done();
    }

    case 'update': {
      const builder = new TransitionBuilder(state);
      if (input.record !== undefined) builder.set({ record: input.record });
      if (input.reconnectWindowSeconds !== undefined) {
        builder.set({ reconnectWindowSeconds: input.reconnectWindowSeconds });
      }
      return builder.emit('UPDATED').done();
    }

    case 'delete': {
      const builder = new TransitionBuilder(state);
      if (isLive(state)) builder.stop(input.at, 'deleted through the API');
      return builder.set({ deleted: true, enabled: false }).emit('DELETED').done();
    }

    case 'recording_ready': {
      const subject: EventSubject = { kind: 'recording', id: input.recordingId };
      const builder = new TransitionBuilder(state).emit('RECORDING_READY', null, subject);
      if (!sessionMatches(state, input.sessionId)) return builder.done();
      // A retried recording also lifts the ERROR its first failure caused.
      if (state.status === 'STOPPED' || state.status === 'ERROR') {
        builder.set({ status: 'COMPLETED', errorReason: null }).emit('COMPLETED', null, subject);
      } else if (state.status === 'DISCONNECTED') {
        // The origin finished first (e.g. it restarted); COMPLETED follows when the window ends here.
        builder.set({ recordingReadyFor: input.sessionId });
      }
      return builder.done();
    }

    case 'recording_failed': {
      const builder = new TransitionBuilder(state);
      if (!sessionMatches(state, input.sessionId) || isLive(state)) return builder.done();
      return builder
        .set({ status: 'ERROR', errorReason: `recording failed: ${input.reason}` })
        .emit('ERROR', `recording failed: ${input.reason}`, { kind: 'recording', id: input.recordingId })
        .done();
    }

    case 'clip_ready':
      return new TransitionBuilder(state).emit('CLIP_READY', null, { kind: 'clip', id: input.clipId }).done();

    case 'error':
      return new TransitionBuilder(state)
        .kickIfConnected(input.reason)
        .set({ status: 'ERROR', errorReason: input.reason, reconnectDeadline: null, heartbeatDeadline: null })
        .emit('ERROR', input.reason)
        .done();
  }
}
