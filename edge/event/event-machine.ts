// The scheduled live event of seed 003 as one pure function: (state, input) → new state and the effects to carry out.
// Its stream's Durable Object is the shell that stores the state, sets the alarm and performs the effects; no I/O here.
import {
  PREPARE_AHEAD_MS,
  type BroadcastMode,
  type LiveEventOperation,
  type LiveEventStatus,
  type LiveType,
} from '../../shared/live-event-vocabulary.ts';

/** While PREPARING, the shell asks this often whether an origin can take the stream (its alarm). */
export const READINESS_RECHECK_MS = 2_000;

export interface EventState {
  status: LiveEventStatus;
  type: LiveType;
  broadcastMode: BroadcastMode;
  /** epoch ms */
  scheduledStartAt: number;
  scheduledEndAt: number | null;
  vod: { enabled: boolean; startAt: number | null; endAt: number | null };
  liveStartedAt: number | null;
  liveEndedAt: number | null;
  /** the stream session the live part belongs to (set at /start if a session is live, else by the first publish after) */
  liveSessionId: string | null;
}

export type EventInput =
  /**
   * A control operation. `infrastructureReady`: the shell's readiness check, when it made one; `reopenAt`: /reopen's
   * new start; `sessionId`: /start's current stream session, if one is live (the rehearsal's goes on as the live one).
   */
  | {
      type: 'operation';
      op: LiveEventOperation;
      at: number;
      infrastructureReady?: boolean;
      reopenAt?: number | null;
      sessionId?: string | null;
    }
  /** The alarm: 12 h boundary, readiness, scheduled end, VOD window, SIMULIVE scheduled start. */
  | { type: 'tick'; at: number; infrastructureReady: boolean }
  /** The stream stopped (window ran out, simulive source ended) while LIVE. */
  | { type: 'stream_ended'; at: number; reason: string }
  /** A stream session opened (an encoder's first publish, the simulive broadcast): the live part's session if none yet. */
  | { type: 'live_session'; at: number; sessionId: string }
  /** The live session's media is final (its recording watchable). */
  | { type: 'vod_ready'; at: number }
  | { type: 'vod_failed'; at: number; reason: string }
  | {
      type: 'reschedule';
      at: number;
      scheduledStartAt?: number;
      scheduledEndAt?: number | null;
      vod?: EventState['vod'];
      broadcastMode?: BroadcastMode;
    };

export type EventEffect =
  | { kind: 'emit'; status: LiveEventStatus; operation: LiveEventOperation | null; reason: string | null }
  /** PREVIEW (LIVE type): encoders may publish. */
  | { kind: 'open_ingest' }
  /** Back out of PREVIEW/LIVE: encoders refused, a connected one kicked. */
  | { kind: 'close_ingest' }
  /** SIMULIVE (live/DVR modes) at LIVE. */
  | { kind: 'start_simulive' }
  /** Complete the stream's broadcast (kick final, STOPPED). */
  | { kind: 'end_stream'; reason: string }
  | { kind: 'mark_live_start' }
  | { kind: 'mark_live_end' };

export type EventRefusal = 'operation_not_allowed' | 'invalid';

export type EventTransition =
  | { ok: true; state: EventState; effects: EventEffect[] }
  | { ok: false; refusal: EventRefusal; detail: string; allowedOperations: LiveEventOperation[] };

/** What a new event is made of (its create request, in epoch ms). */
export interface EventPlan {
  type: LiveType;
  broadcastMode: BroadcastMode;
  scheduledStartAt: number;
  scheduledEndAt: number | null;
  vod: EventState['vod'];
}

const TERMINAL: ReadonlySet<LiveEventStatus> = new Set(['LIVE_STATUS_CLOSED', 'LIVE_STATUS_ARCHIVED']);
/** The statuses before the live part began: its schedule and mode may still change. */
const BEFORE_LIVE: ReadonlySet<LiveEventStatus> = new Set([
  'LIVE_STATUS_SCHEDULED',
  'LIVE_STATUS_PREPARING',
  'LIVE_STATUS_WAIT_FOR_PREVIEW',
  'LIVE_STATUS_PREVIEW',
]);
/** After the live part, while its VOD is being made or waits or plays. */
const AFTER_LIVE_WITH_VOD: ReadonlySet<LiveEventStatus> = new Set([
  'LIVE_STATUS_ENCODING',
  'LIVE_STATUS_VOD_READY',
  'LIVE_STATUS_VOD',
]);

const isSimulive = (state: EventState): boolean => state.type === 'LIVE_TYPE_SIMULIVE';
/** PLAYBACK mode plays the source as a VOD: the stream never broadcasts. */
const broadcasts = (state: EventState): boolean => state.broadcastMode !== 'BROADCAST_MODE_PLAYBACK';

export function allowedOperations(state: EventState): LiveEventOperation[] {
  switch (state.status) {
    case 'LIVE_STATUS_SCHEDULED':
    case 'LIVE_STATUS_PREPARING':
    case 'LIVE_STATUS_ENCODING':
      return ['cancel'];
    case 'LIVE_STATUS_WAIT_FOR_PREVIEW':
      // A simulive has nothing to rehearse: it goes live from here (by /start or at its scheduled start).
      return isSimulive(state) ? ['start', 'cancel'] : ['preview', 'cancel'];
    case 'LIVE_STATUS_PREVIEW':
      return ['start', 'cancel'];
    case 'LIVE_STATUS_LIVE':
    case 'LIVE_STATUS_VOD_READY':
    case 'LIVE_STATUS_VOD':
      return ['end', 'cancel'];
    case 'LIVE_STATUS_LIVE_END':
      return ['cancel', 'archive'];
    case 'LIVE_STATUS_CLOSED':
      return ['archive', 'reopen'];
    case 'LIVE_STATUS_ARCHIVED':
      return [];
  }
}

/** The status a (re)scheduled event starts in: PREPARING once its start is less than 12 h away. */
const scheduledStatus = (scheduledStartAt: number, now: number): LiveEventStatus =>
  now >= scheduledStartAt - PREPARE_AHEAD_MS ? 'LIVE_STATUS_PREPARING' : 'LIVE_STATUS_SCHEDULED';

const iso = (ms: number): string => new Date(ms).toISOString();

export function initialEventState(plan: EventPlan, now: number): { state: EventState; effects: EventEffect[] } {
  const status = scheduledStatus(plan.scheduledStartAt, now);
  const state: EventState = {
    status,
    type: plan.type,
    broadcastMode: plan.broadcastMode,
    scheduledStartAt: plan.scheduledStartAt,
    scheduledEndAt: plan.scheduledEndAt,
    vod: { ...plan.vod },
    liveStartedAt: null,
    liveEndedAt: null,
    liveSessionId: null,
  };
  const reason =
    status === 'LIVE_STATUS_PREPARING'
      ? `created less than 12 h before its start (${iso(plan.scheduledStartAt)})`
      : `created; preparing begins at ${iso(plan.scheduledStartAt - PREPARE_AHEAD_MS)}`;
  return { state, effects: [{ kind: 'emit', status, operation: null, reason }] };
}

/** The earliest moment the shell must wake up (its Durable Object alarm) for this event, or null. */
export function nextEventDeadline(state: EventState, now: number): number | null {
  switch (state.status) {
    case 'LIVE_STATUS_SCHEDULED':
      return state.scheduledStartAt - PREPARE_AHEAD_MS;
    case 'LIVE_STATUS_PREPARING':
      return now + READINESS_RECHECK_MS;
    case 'LIVE_STATUS_WAIT_FOR_PREVIEW':
      return isSimulive(state) ? state.scheduledStartAt : null;
    case 'LIVE_STATUS_LIVE':
      return state.scheduledEndAt;
    case 'LIVE_STATUS_VOD_READY':
      return state.vod.startAt;
    case 'LIVE_STATUS_VOD':
      return state.vod.endAt;
    default:
      return null;
  }
}

const refuse = (state: EventState, refusal: EventRefusal, detail: string): EventTransition => ({
  ok: false,
  refusal,
  detail,
  allowedOperations: allowedOperations(state),
});

function notAllowed(state: EventState, op: LiveEventOperation): EventTransition {
  const allowed = allowedOperations(state);
  const why = REFUSAL_HINTS[op]?.(state);
  return refuse(
    state,
    'operation_not_allowed',
    `${op} is not allowed while the event is ${state.status}${why ? ` (${why})` : ''}; ` +
      (allowed.length ? `allowed now: ${allowed.join(', ')}` : 'no operation is allowed any more'),
  );
}

/** Why an operation is refused, where the status alone does not say it. */
const REFUSAL_HINTS: Partial<Record<LiveEventOperation, (state: EventState) => string | null>> = {
  preview: (s) =>
    isSimulive(s)
      ? 'a SIMULIVE event has no encoder to rehearse with; it goes live with start'
      : s.status === 'LIVE_STATUS_SCHEDULED' || s.status === 'LIVE_STATUS_PREPARING'
        ? 'preview opens once its infrastructure is ready (LIVE_STATUS_WAIT_FOR_PREVIEW)'
        : null,
  start: (s) =>
    s.status === 'LIVE_STATUS_WAIT_FOR_PREVIEW' && !isSimulive(s)
      ? 'preview first: the encoder publishes in PREVIEW, then start takes it live'
      : s.status === 'LIVE_STATUS_SCHEDULED' || s.status === 'LIVE_STATUS_PREPARING'
        ? 'its infrastructure is not ready yet'
        : null,
};

/** Builds a transition while collecting effects, so each rule below reads as a list of steps. */
class Step {
  readonly effects: EventEffect[] = [];
  constructor(public state: EventState) {}

  set(patch: Partial<EventState>): this {
    this.state = { ...this.state, ...patch };
    return this;
  }

  effect(effect: EventEffect): this {
    this.effects.push(effect);
    return this;
  }

  /** A status change: exactly one emit, after the effects that made it. */
  become(status: LiveEventStatus, operation: LiveEventOperation | null, reason: string | null): this {
    this.set({ status });
    return this.effect({ kind: 'emit', status, operation, reason });
  }

  /** The live part began: public playback opens, the clock of the VOD and DVR starts. */
  goLive(at: number, operation: LiveEventOperation | null, reason: string | null, sessionId: string | null): this {
    this.set({ liveStartedAt: at, liveEndedAt: null, liveSessionId: sessionId }).effect({ kind: 'mark_live_start' });
    if (isSimulive(this.state) && broadcasts(this.state)) this.effect({ kind: 'start_simulive' });
    return this.become('LIVE_STATUS_LIVE', operation, reason);
  }

  /**
   * The live part is over: its VOD is made when the event has one, else the event ends. `endStream`: the stream
   * still broadcasts and must be completed (not when the stream itself stopped).
   */
  endLive(at: number, operation: LiveEventOperation | null, reason: string, endStream: boolean): this {
    this.set({ liveEndedAt: at }).effect({ kind: 'mark_live_end' });
    if (endStream && broadcasts(this.state)) this.effect({ kind: 'end_stream', reason });
    if (!this.state.vod.enabled) return this.become('LIVE_STATUS_LIVE_END', operation, reason);
    // PLAYBACK mode's VOD is its source, ready already; a broadcast's is made from its durable segments.
    if (!broadcasts(this.state)) return this.vodMade(at, operation, reason);
    return this.become('LIVE_STATUS_ENCODING', operation, reason);
  }

  /** The VOD exists: it plays now, or waits for its window. */
  vodMade(at: number, operation: LiveEventOperation | null, reason: string | null): this {
    const opens = this.state.vod.startAt;
    return opens === null || opens <= at
      ? this.become('LIVE_STATUS_VOD', operation, reason)
      : this.become('LIVE_STATUS_VOD_READY', operation, reason ?? `the VOD opens at ${iso(opens)}`);
  }

  /**
   * Everything the clock has made due by `at`, in order (a late alarm may owe several steps; each status change is
   * its own emit). `ready`: an origin can take the stream.
   */
  advance(at: number, ready: boolean): this {
    for (let guard = 0; guard < 8; guard++) {
      const s = this.state;
      if (s.status === 'LIVE_STATUS_SCHEDULED' && at >= s.scheduledStartAt - PREPARE_AHEAD_MS) {
        this.become('LIVE_STATUS_PREPARING', null, 'the start is less than 12 h away');
      } else if (s.status === 'LIVE_STATUS_PREPARING' && ready) {
        this.become('LIVE_STATUS_WAIT_FOR_PREVIEW', null, 'the stream is enabled and an origin can take it');
      } else if (s.status === 'LIVE_STATUS_WAIT_FOR_PREVIEW' && isSimulive(s) && at >= s.scheduledStartAt) {
        this.goLive(at, null, 'the scheduled start', null);
      } else if (s.status === 'LIVE_STATUS_LIVE' && s.scheduledEndAt !== null && at >= s.scheduledEndAt) {
        this.endLive(at, null, 'the scheduled end passed', true);
      } else if (s.status === 'LIVE_STATUS_VOD_READY' && s.vod.startAt !== null && at >= s.vod.startAt) {
        this.become('LIVE_STATUS_VOD', null, 'the VOD window began');
      } else if (s.status === 'LIVE_STATUS_VOD' && s.vod.endAt !== null && at >= s.vod.endAt) {
        this.become('LIVE_STATUS_LIVE_END', null, 'the VOD window ended');
      } else {
        break;
      }
    }
    return this;
  }

  done(): EventTransition {
    return { ok: true, state: this.state, effects: this.effects };
  }
}

function onOperation(state: EventState, input: Extract<EventInput, { type: 'operation' }>): EventTransition {
  const { op, at } = input;
  if (!allowedOperations(state).includes(op)) return notAllowed(state, op);
  const step = new Step(state);
  switch (op) {
    case 'preview':
      step.effect({ kind: 'open_ingest' }).become('LIVE_STATUS_PREVIEW', op, 'the encoder may publish; rehearse on the preview playback id');
      break;
    case 'start':
      step.goLive(at, op, null, input.sessionId ?? null);
      break;
    case 'end':
      if (state.status === 'LIVE_STATUS_LIVE') step.endLive(at, op, 'ended through the API', true);
      else step.become('LIVE_STATUS_LIVE_END', op, 'the VOD was ended through the API');
      break;
    case 'cancel':
      if (state.status === 'LIVE_STATUS_PREVIEW') step.effect({ kind: 'close_ingest' });
      if (state.status === 'LIVE_STATUS_LIVE') {
        step.set({ liveEndedAt: at }).effect({ kind: 'mark_live_end' });
        if (broadcasts(state)) step.effect({ kind: 'end_stream', reason: 'the event was canceled' });
      }
      step.become('LIVE_STATUS_CLOSED', op, 'canceled through the API');
      break;
    case 'archive':
      step.become('LIVE_STATUS_ARCHIVED', op, null);
      break;
    case 'reopen':
      return reopen(state, input);
  }
  return step.advance(at, input.infrastructureReady ?? false).done();
}

/**
 * A closed event scheduled again (seed: "the channel can be re-opened"): a new start moves the whole schedule by the
 * same amount (its end and VOD window keep their distance to it); the previous live part is forgotten.
 */
function reopen(state: EventState, input: Extract<EventInput, { type: 'operation' }>): EventTransition {
  const start = input.reopenAt ?? state.scheduledStartAt;
  const shift = (ms: number | null) => (ms === null ? null : ms + start - state.scheduledStartAt);
  const step = new Step(state).set({
    scheduledStartAt: start,
    scheduledEndAt: shift(state.scheduledEndAt),
    vod: { enabled: state.vod.enabled, startAt: shift(state.vod.startAt), endAt: shift(state.vod.endAt) },
    liveStartedAt: null,
    liveEndedAt: null,
    liveSessionId: null,
  });
  step.become(scheduledStatus(start, input.at), 'reopen', `reopened for ${iso(start)}`);
  return step.advance(input.at, input.infrastructureReady ?? false).done();
}

/**
 * New schedule, VOD window or mode. The start and the mode change only before LIVE, the end until the live part is
 * over, the VOD window until it has played (its `enabled` only before the live part ends).
 */
function onReschedule(state: EventState, input: Extract<EventInput, { type: 'reschedule' }>): EventTransition {
  const conflict = (what: string, until: string) =>
    refuse(state, 'operation_not_allowed', `${what} can change only ${until}; the event is ${state.status}`);
  const beforeLive = BEFORE_LIVE.has(state.status);
  if (input.scheduledStartAt !== undefined && !beforeLive) return conflict('scheduledStartAt', 'before the event is LIVE');
  if (input.broadcastMode !== undefined && !beforeLive) return conflict('broadcastMode', 'before the event is LIVE');
  if (input.scheduledEndAt !== undefined && !beforeLive && state.status !== 'LIVE_STATUS_LIVE') {
    return conflict('scheduledEndAt', 'until the live part is over');
  }
  if (input.vod !== undefined) {
    if (!beforeLive && state.status !== 'LIVE_STATUS_LIVE' && !AFTER_LIVE_WITH_VOD.has(state.status)) {
      return conflict('vod', 'until its VOD has played');
    }
    if (AFTER_LIVE_WITH_VOD.has(state.status) && input.vod.enabled !== state.vod.enabled) {
      return conflict('vod.enabled', 'before the live part ends');
    }
  }
  const next: EventState = {
    ...state,
    scheduledStartAt: input.scheduledStartAt ?? state.scheduledStartAt,
    scheduledEndAt: input.scheduledEndAt !== undefined ? input.scheduledEndAt : state.scheduledEndAt,
    vod: input.vod ? { ...input.vod } : state.vod,
    broadcastMode: input.broadcastMode ?? state.broadcastMode,
  };
  if (next.broadcastMode === 'BROADCAST_MODE_PLAYBACK' && !isSimulive(next)) {
    return refuse(state, 'invalid', 'broadcastMode: BROADCAST_MODE_PLAYBACK plays a VOD; it needs a LIVE_TYPE_SIMULIVE event');
  }
  if (next.scheduledEndAt !== null && next.scheduledEndAt <= next.scheduledStartAt) {
    return refuse(state, 'invalid', `scheduledEndAt: must be after scheduledStartAt (${iso(next.scheduledStartAt)})`);
  }
  if (next.vod.startAt !== null && next.vod.endAt !== null && next.vod.endAt <= next.vod.startAt) {
    return refuse(state, 'invalid', 'vod.endAt: must be after vod.startAt');
  }
  // Readiness is not known here: an event still PREPARING waits for its next check.
  return new Step(next).advance(input.at, false).done();
}

/** One event step. Every `at` is the edge's clock (the Durable Object's Date.now()). */
export function eventTransition(state: EventState, input: EventInput): EventTransition {
  switch (input.type) {
    case 'operation':
      return onOperation(state, input);

    case 'tick':
      return new Step(state).advance(input.at, input.infrastructureReady).done();

    case 'stream_ended':
      // Only the live part ends with its stream; a rehearsal's stream stopping leaves the event in PREVIEW.
      if (state.status !== 'LIVE_STATUS_LIVE') return new Step(state).done();
      return new Step(state).endLive(input.at, null, input.reason, false).advance(input.at, false).done();

    case 'live_session':
      if (state.status !== 'LIVE_STATUS_LIVE' || state.liveSessionId !== null) return new Step(state).done();
      return new Step(state).set({ liveSessionId: input.sessionId }).done();

    case 'vod_ready':
      if (state.status !== 'LIVE_STATUS_ENCODING') return new Step(state).done();
      return new Step(state).vodMade(input.at, null, null).advance(input.at, false).done();

    case 'vod_failed':
      if (state.status !== 'LIVE_STATUS_ENCODING') return new Step(state).done();
      return new Step(state).become('LIVE_STATUS_LIVE_END', null, `the VOD could not be made: ${input.reason}`).done();

    case 'reschedule':
      if (TERMINAL.has(state.status)) {
        return refuse(state, 'operation_not_allowed', `the event is ${state.status}; reopen it to change its schedule`);
      }
      return onReschedule(state, input);
  }
}
