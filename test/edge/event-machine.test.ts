// One test per row of the live event's transition table (seed 003), refusals included, and the alarms it asks for.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  eventTransition,
  initialEventState,
  allowedOperations,
  nextEventDeadline,
  READINESS_RECHECK_MS,
  type EventState,
  type EventInput,
  type EventTransition,
  type EventEffect,
  type EventPlan,
} from '../../edge/event/event-machine.ts';
import {
  PREPARE_AHEAD_MS,
  LIVE_EVENT_OPERATIONS,
  LIVE_EVENT_STATUSES,
  type LiveEventOperation,
  type LiveEventStatus,
} from '../../shared/live-event-vocabulary.ts';

const T0 = 1_800_000_000_000;
const HOUR = 3600_000;
const START = T0 + 2 * HOUR;

const plan = (patch: Partial<EventPlan> = {}): EventPlan => ({
  type: 'LIVE_TYPE_LIVE',
  broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE',
  scheduledStartAt: START,
  scheduledEndAt: null,
  vod: { enabled: false, startAt: null, endAt: null },
  ...patch,
});

function ok(result: EventTransition) {
  if (!result.ok) throw new Error(`refused: ${result.refusal}: ${result.detail}`);
  return result;
}
function refused(result: EventTransition) {
  if (result.ok) throw new Error(`not refused: now ${result.state.status}`);
  return result;
}
const emits = (effects: EventEffect[]) =>
  effects.filter((e): e is Extract<EventEffect, { kind: 'emit' }> => e.kind === 'emit');
const statuses = (result: EventTransition) => emits(ok(result).effects).map((e) => e.status);
const kinds = (result: EventTransition) => ok(result).effects.map((e) => e.kind);

const op = (o: LiveEventOperation, at = START, extra: Partial<Extract<EventInput, { type: 'operation' }>> = {}): EventInput => ({
  type: 'operation',
  op: o,
  at,
  ...extra,
});
const tick = (at: number, infrastructureReady = true): EventInput => ({ type: 'tick', at, infrastructureReady });

function run(state: EventState, ...inputs: EventInput[]): EventState {
  return inputs.reduce((s, input) => ok(eventTransition(s, input)).state, state);
}

const created = (p: Partial<EventPlan> = {}, now = T0) => initialEventState(plan(p), now).state;
const waiting = (p: Partial<EventPlan> = {}) => run(created(p), tick(T0 + 1000));
const previewing = (p: Partial<EventPlan> = {}) => run(waiting(p), op('preview', T0 + 2000));
const live = (p: Partial<EventPlan> = {}) =>
  p.type === 'LIVE_TYPE_SIMULIVE' ? run(waiting(p), op('start', START)) : run(previewing(p), op('start', START, { sessionId: 'ses_1' }));
const encoding = (p: Partial<EventPlan> = {}) =>
  run(live({ vod: { enabled: true, startAt: null, endAt: null }, ...p }), op('end', START + HOUR));
const withStatus = (status: LiveEventStatus, p: Partial<EventPlan> = {}): EventState => ({ ...live(p), status });

describe('creating an event', () => {
  it('more than 12 h ahead → SCHEDULED, one emit', () => {
    const { state, effects } = initialEventState(plan({ scheduledStartAt: T0 + 13 * HOUR }), T0);
    expect(state.status).toBe('LIVE_STATUS_SCHEDULED');
    expect(emits(effects)).toEqual([
      expect.objectContaining({ status: 'LIVE_STATUS_SCHEDULED', operation: null }),
    ]);
    expect(state).toMatchObject({ liveStartedAt: null, liveEndedAt: null, liveSessionId: null });
  });

  it('within 12 h → straight to PREPARING, one emit', () => {
    const { state, effects } = initialEventState(plan({ scheduledStartAt: T0 + 11 * HOUR }), T0);
    expect(state.status).toBe('LIVE_STATUS_PREPARING');
    expect(emits(effects).map((e) => e.status)).toEqual(['LIVE_STATUS_PREPARING']);
  });

  it('with a start in the past → PREPARING at once', () => {
    expect(initialEventState(plan({ scheduledStartAt: T0 - HOUR }), T0).state.status).toBe('LIVE_STATUS_PREPARING');
  });
});

describe('SCHEDULED', () => {
  const far = () => created({ scheduledStartAt: T0 + 20 * HOUR });

  it('tick before the 12 h boundary → nothing changes', () => {
    const result = ok(eventTransition(far(), tick(T0 + 20 * HOUR - PREPARE_AHEAD_MS - 1)));
    expect(result.state.status).toBe('LIVE_STATUS_SCHEDULED');
    expect(result.effects).toEqual([]);
  });

  it('tick at the 12 h boundary → PREPARING', () => {
    const result = eventTransition(far(), tick(T0 + 20 * HOUR - PREPARE_AHEAD_MS, false));
    expect(statuses(result)).toEqual(['LIVE_STATUS_PREPARING']);
  });

  it('a late alarm with the infrastructure ready → PREPARING then WAIT_FOR_PREVIEW, one emit each', () => {
    expect(statuses(eventTransition(far(), tick(T0 + 19 * HOUR, true)))).toEqual([
      'LIVE_STATUS_PREPARING',
      'LIVE_STATUS_WAIT_FOR_PREVIEW',
    ]);
  });

  it('/start → refused 409-style, naming the allowed operations', () => {
    const result = refused(eventTransition(far(), op('start')));
    expect(result.refusal).toBe('operation_not_allowed');
    expect(result.allowedOperations).toEqual(['cancel']);
    expect(result.detail).toContain('LIVE_STATUS_SCHEDULED');
    expect(result.detail).toContain('allowed now: cancel');
  });

  it('/preview → refused: the infrastructure is not ready', () => {
    const result = refused(eventTransition(far(), op('preview')));
    expect(result.detail).toContain('WAIT_FOR_PREVIEW');
  });
});

describe('PREPARING', () => {
  it('tick without an origin able to take the stream → stays PREPARING', () => {
    const result = ok(eventTransition(created(), tick(T0 + 1000, false)));
    expect(result.state.status).toBe('LIVE_STATUS_PREPARING');
    expect(result.effects).toEqual([]);
  });

  it('tick with the infrastructure ready → WAIT_FOR_PREVIEW', () => {
    expect(statuses(eventTransition(created(), tick(T0 + 1000, true)))).toEqual(['LIVE_STATUS_WAIT_FOR_PREVIEW']);
  });

  it('/preview and /start → refused', () => {
    expect(refused(eventTransition(created(), op('preview'))).allowedOperations).toEqual(['cancel']);
    expect(refused(eventTransition(created(), op('start'))).detail).toContain('not ready');
  });
});

describe('WAIT_FOR_PREVIEW', () => {
  it('/preview (LIVE type) → PREVIEW and opens ingest', () => {
    const result = eventTransition(waiting(), op('preview'));
    expect(kinds(result)).toEqual(['open_ingest', 'emit']);
    expect(statuses(result)).toEqual(['LIVE_STATUS_PREVIEW']);
    expect(emits(ok(result).effects)[0]!.operation).toBe('preview');
  });

  it('/start (LIVE type) → refused: preview first', () => {
    const result = refused(eventTransition(waiting(), op('start')));
    expect(result.allowedOperations).toEqual(['preview', 'cancel']);
    expect(result.detail).toContain('preview first');
  });

  it('LIVE type stays here at the scheduled start: going live is the producer\'s /start', () => {
    const result = ok(eventTransition(waiting(), tick(START + 1000)));
    expect(result.state.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
  });

  it('SIMULIVE: /start → LIVE, starts the simulive broadcast', () => {
    const result = eventTransition(waiting({ type: 'LIVE_TYPE_SIMULIVE' }), op('start', START - 5000));
    expect(kinds(result)).toEqual(['mark_live_start', 'start_simulive', 'emit']);
    expect(ok(result).state).toMatchObject({ status: 'LIVE_STATUS_LIVE', liveStartedAt: START - 5000 });
  });

  it('SIMULIVE in PLAYBACK mode: /start → LIVE without a stream broadcast (the source VOD opens)', () => {
    const result = eventTransition(
      waiting({ type: 'LIVE_TYPE_SIMULIVE', broadcastMode: 'BROADCAST_MODE_PLAYBACK' }),
      op('start'),
    );
    expect(kinds(result)).toEqual(['mark_live_start', 'emit']);
  });

  it('SIMULIVE: the scheduled start passing → LIVE by itself (no operation)', () => {
    const before = ok(eventTransition(waiting({ type: 'LIVE_TYPE_SIMULIVE' }), tick(START - 1)));
    expect(before.state.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
    const result = eventTransition(waiting({ type: 'LIVE_TYPE_SIMULIVE' }), tick(START));
    expect(kinds(result)).toEqual(['mark_live_start', 'start_simulive', 'emit']);
    expect(emits(ok(result).effects)[0]).toMatchObject({ operation: null, reason: 'the scheduled start' });
  });

  it('SIMULIVE: /preview → refused (nothing to rehearse)', () => {
    const result = refused(eventTransition(waiting({ type: 'LIVE_TYPE_SIMULIVE' }), op('preview')));
    expect(result.allowedOperations).toEqual(['start', 'cancel']);
    expect(result.detail).toContain('SIMULIVE');
  });
});

describe('PREVIEW', () => {
  it('/start → LIVE: the live part begins with the current session', () => {
    const result = eventTransition(previewing(), op('start', START + 7, { sessionId: 'ses_rehearsal' }));
    expect(kinds(result)).toEqual(['mark_live_start', 'emit']);
    expect(ok(result).state).toMatchObject({
      status: 'LIVE_STATUS_LIVE',
      liveStartedAt: START + 7,
      liveSessionId: 'ses_rehearsal',
    });
  });

  it('/start with no encoder publishing yet → LIVE, the session set by the first publish after', () => {
    const state = run(previewing(), op('start', START));
    expect(state.liveSessionId).toBeNull();
    const next = run(state, { type: 'live_session', at: START + 1, sessionId: 'ses_2' });
    expect(next.liveSessionId).toBe('ses_2');
    // a later session (an encoder back after the window) does not replace the live part's
    expect(run(next, { type: 'live_session', at: START + 2, sessionId: 'ses_3' }).liveSessionId).toBe('ses_2');
  });

  it('a live_session outside LIVE is ignored (a rehearsal session)', () => {
    expect(run(previewing(), { type: 'live_session', at: START, sessionId: 'ses_r' }).liveSessionId).toBeNull();
  });

  it('the rehearsal stream stopping leaves the event in PREVIEW', () => {
    const result = ok(eventTransition(previewing(), { type: 'stream_ended', at: START, reason: 'reconnect window expired' }));
    expect(result.state.status).toBe('LIVE_STATUS_PREVIEW');
    expect(result.effects).toEqual([]);
  });

  it('/end → refused naming start and cancel', () => {
    expect(refused(eventTransition(previewing(), op('end'))).allowedOperations).toEqual(['start', 'cancel']);
  });

  it('/cancel → CLOSED and closes ingest (a rehearsing encoder is kicked)', () => {
    const result = eventTransition(previewing(), op('cancel'));
    expect(kinds(result)).toEqual(['close_ingest', 'emit']);
    expect(statuses(result)).toEqual(['LIVE_STATUS_CLOSED']);
  });
});

describe('LIVE', () => {
  it('/end with a VOD → ENCODING: marks the end and completes the stream', () => {
    const result = eventTransition(live({ vod: { enabled: true, startAt: null, endAt: null } }), op('end', START + HOUR));
    expect(kinds(result)).toEqual(['mark_live_end', 'end_stream', 'emit']);
    expect(ok(result).state).toMatchObject({ status: 'LIVE_STATUS_ENCODING', liveEndedAt: START + HOUR });
  });

  it('/end live-only → LIVE_END', () => {
    const result = eventTransition(live(), op('end', START + HOUR));
    expect(kinds(result)).toEqual(['mark_live_end', 'end_stream', 'emit']);
    expect(statuses(result)).toEqual(['LIVE_STATUS_LIVE_END']);
  });

  it('the scheduled end passing → ENCODING (with VOD) / LIVE_END (without)', () => {
    const end = START + HOUR;
    const withVod = live({ scheduledEndAt: end, vod: { enabled: true, startAt: null, endAt: null } });
    expect(ok(eventTransition(withVod, tick(end - 1))).effects).toEqual([]);
    const result = eventTransition(withVod, tick(end));
    expect(statuses(result)).toEqual(['LIVE_STATUS_ENCODING']);
    expect(kinds(result)).toContain('end_stream');
    expect(emits(ok(result).effects)[0]).toMatchObject({ operation: null, reason: 'the scheduled end passed' });
    expect(statuses(eventTransition(live({ scheduledEndAt: end }), tick(end + 5)))).toEqual(['LIVE_STATUS_LIVE_END']);
  });

  it('the stream ending (reconnect window ran out) → ENCODING, without completing the stream again', () => {
    const result = eventTransition(live({ vod: { enabled: true, startAt: null, endAt: null } }), {
      type: 'stream_ended',
      at: START + HOUR,
      reason: 'reconnect window expired',
    });
    expect(kinds(result)).toEqual(['mark_live_end', 'emit']);
    expect(emits(ok(result).effects)[0]).toMatchObject({ status: 'LIVE_STATUS_ENCODING', reason: 'reconnect window expired' });
  });

  it('the stream ending without a VOD → LIVE_END', () => {
    expect(statuses(eventTransition(live(), { type: 'stream_ended', at: START + 1, reason: 'simulive_source_ended' }))).toEqual([
      'LIVE_STATUS_LIVE_END',
    ]);
  });

  it('/cancel → CLOSED, ending the stream too', () => {
    const result = eventTransition(live(), op('cancel', START + 10));
    expect(kinds(result)).toEqual(['mark_live_end', 'end_stream', 'emit']);
    expect(statuses(result)).toEqual(['LIVE_STATUS_CLOSED']);
  });

  it('/start and /preview → refused naming end and cancel', () => {
    for (const o of ['start', 'preview', 'archive', 'reopen'] as const) {
      expect(refused(eventTransition(live(), op(o))).allowedOperations).toEqual(['end', 'cancel']);
    }
  });

  it('SIMULIVE PLAYBACK /end with a VOD → VOD at once: its VOD is the source, no stream to complete', () => {
    const result = eventTransition(
      live({ type: 'LIVE_TYPE_SIMULIVE', broadcastMode: 'BROADCAST_MODE_PLAYBACK', vod: { enabled: true, startAt: null, endAt: null } }),
      op('end', START + HOUR),
    );
    expect(kinds(result)).toEqual(['mark_live_end', 'emit']);
    expect(statuses(result)).toEqual(['LIVE_STATUS_VOD']);
  });
});

describe('ENCODING', () => {
  it('vod_ready with the window begun (or no start) → VOD', () => {
    expect(statuses(eventTransition(encoding(), { type: 'vod_ready', at: START + HOUR + 5000 }))).toEqual(['LIVE_STATUS_VOD']);
    const opened = encoding({ vod: { enabled: true, startAt: START, endAt: null } });
    expect(statuses(eventTransition(opened, { type: 'vod_ready', at: START + HOUR + 5000 }))).toEqual(['LIVE_STATUS_VOD']);
  });

  it('vod_ready before the window → VOD_READY', () => {
    const later = encoding({ vod: { enabled: true, startAt: START + 5 * HOUR, endAt: null } });
    const result = eventTransition(later, { type: 'vod_ready', at: START + HOUR + 5000 });
    expect(statuses(result)).toEqual(['LIVE_STATUS_VOD_READY']);
  });

  it('vod_ready after the whole window → VOD then LIVE_END, one emit each', () => {
    const gone = encoding({ vod: { enabled: true, startAt: START, endAt: START + HOUR + 1000 } });
    expect(statuses(eventTransition(gone, { type: 'vod_ready', at: START + HOUR + 5000 }))).toEqual([
      'LIVE_STATUS_VOD',
      'LIVE_STATUS_LIVE_END',
    ]);
  });

  it('vod_failed → LIVE_END with the reason', () => {
    const result = eventTransition(encoding(), { type: 'vod_failed', at: START + HOUR + 1, reason: 'no media stored' });
    expect(emits(ok(result).effects)).toEqual([
      { kind: 'emit', status: 'LIVE_STATUS_LIVE_END', operation: null, reason: 'the VOD could not be made: no media stored' },
    ]);
  });

  it('vod_ready / vod_failed outside ENCODING are ignored (canceled meanwhile)', () => {
    const closed = run(encoding(), op('cancel', START + HOUR + 1));
    expect(ok(eventTransition(closed, { type: 'vod_ready', at: START + 2 * HOUR })).effects).toEqual([]);
    expect(ok(eventTransition(closed, { type: 'vod_failed', at: START + 2 * HOUR, reason: 'x' })).effects).toEqual([]);
  });

  it('/end → refused (only cancel)', () => {
    expect(refused(eventTransition(encoding(), op('end'))).allowedOperations).toEqual(['cancel']);
  });
});

describe('VOD_READY and VOD', () => {
  const vodReady = () =>
    run(encoding({ vod: { enabled: true, startAt: START + 5 * HOUR, endAt: START + 9 * HOUR } }), {
      type: 'vod_ready',
      at: START + HOUR + 1,
    });

  it('VOD_READY: tick at vod.startAt → VOD', () => {
    expect(ok(eventTransition(vodReady(), tick(START + 5 * HOUR - 1))).effects).toEqual([]);
    expect(statuses(eventTransition(vodReady(), tick(START + 5 * HOUR)))).toEqual(['LIVE_STATUS_VOD']);
  });

  it('VOD: tick at vod.endAt → LIVE_END', () => {
    const vod = run(vodReady(), tick(START + 5 * HOUR));
    expect(ok(eventTransition(vod, tick(START + 9 * HOUR - 1))).effects).toEqual([]);
    const result = eventTransition(vod, tick(START + 9 * HOUR));
    expect(emits(ok(result).effects)).toEqual([
      { kind: 'emit', status: 'LIVE_STATUS_LIVE_END', operation: null, reason: 'the VOD window ended' },
    ]);
  });

  it('VOD: /end → LIVE_END', () => {
    const vod = run(vodReady(), tick(START + 5 * HOUR));
    expect(statuses(eventTransition(vod, op('end', START + 6 * HOUR)))).toEqual(['LIVE_STATUS_LIVE_END']);
  });

  it('VOD_READY: /end → LIVE_END (the VOD never opens)', () => {
    expect(kinds(eventTransition(vodReady(), op('end', START + 2 * HOUR)))).toEqual(['emit']);
  });

  it('VOD: /start → refused', () => {
    expect(refused(eventTransition(run(vodReady(), tick(START + 5 * HOUR)), op('start'))).allowedOperations).toEqual(['end', 'cancel']);
  });
});

describe('LIVE_END, CLOSED, ARCHIVED', () => {
  const liveEnd = () => run(live(), op('end', START + HOUR));
  const closed = () => run(previewing(), op('cancel', START));

  it('LIVE_END: /cancel → CLOSED', () => {
    expect(kinds(eventTransition(liveEnd(), op('cancel')))).toEqual(['emit']);
    expect(statuses(eventTransition(liveEnd(), op('cancel')))).toEqual(['LIVE_STATUS_CLOSED']);
  });

  it('LIVE_END: /archive → ARCHIVED', () => {
    expect(statuses(eventTransition(liveEnd(), op('archive')))).toEqual(['LIVE_STATUS_ARCHIVED']);
  });

  it('LIVE_END: /reopen → refused (cancel or archive)', () => {
    expect(refused(eventTransition(liveEnd(), op('reopen'))).allowedOperations).toEqual(['cancel', 'archive']);
  });

  it('CLOSED: /archive → ARCHIVED', () => {
    expect(statuses(eventTransition(closed(), op('archive')))).toEqual(['LIVE_STATUS_ARCHIVED']);
  });

  it('CLOSED: /cancel → refused naming archive and reopen', () => {
    const result = refused(eventTransition(closed(), op('cancel')));
    expect(result.allowedOperations).toEqual(['archive', 'reopen']);
  });

  it('CLOSED: /reopen keeping its start (within 12 h) → PREPARING', () => {
    const result = eventTransition(closed(), op('reopen', START - HOUR));
    expect(emits(ok(result).effects)).toEqual([
      expect.objectContaining({ status: 'LIVE_STATUS_PREPARING', operation: 'reopen' }),
    ]);
  });

  it('CLOSED: /reopen at a new start far ahead → SCHEDULED, the schedule moved as one, the old live part forgotten', () => {
    const ended = run(
      live({ scheduledEndAt: START + 2 * HOUR, vod: { enabled: true, startAt: START + 3 * HOUR, endAt: START + 4 * HOUR } }),
      op('cancel', START + HOUR),
    );
    const reopenAt = START + 48 * HOUR;
    const result = ok(eventTransition(ended, op('reopen', START + 2 * HOUR, { reopenAt })));
    expect(statuses(result)).toEqual(['LIVE_STATUS_SCHEDULED']);
    expect(result.state).toMatchObject({
      scheduledStartAt: reopenAt,
      scheduledEndAt: reopenAt + 2 * HOUR,
      vod: { enabled: true, startAt: reopenAt + 3 * HOUR, endAt: reopenAt + 4 * HOUR },
      liveStartedAt: null,
      liveEndedAt: null,
      liveSessionId: null,
    });
  });

  it('CLOSED: /reopen with the infrastructure ready → PREPARING then WAIT_FOR_PREVIEW', () => {
    expect(statuses(eventTransition(closed(), op('reopen', START, { infrastructureReady: true })))).toEqual([
      'LIVE_STATUS_PREPARING',
      'LIVE_STATUS_WAIT_FOR_PREVIEW',
    ]);
  });

  it('ARCHIVED: every operation refused, none allowed', () => {
    const archived = run(closed(), op('archive'));
    for (const o of LIVE_EVENT_OPERATIONS) {
      const result = refused(eventTransition(archived, op(o)));
      expect(result.allowedOperations).toEqual([]);
      expect(result.detail).toContain('no operation is allowed');
    }
  });

  it('ARCHIVED and CLOSED: ticks and stream news change nothing', () => {
    const archived = run(closed(), op('archive'));
    for (const input of [tick(START + 99 * HOUR), { type: 'vod_ready', at: START } as const]) {
      expect(ok(eventTransition(archived, input)).effects).toEqual([]);
    }
  });
});

describe('/cancel from every status before CLOSED', () => {
  const cases: [LiveEventStatus, () => EventState][] = [
    ['LIVE_STATUS_SCHEDULED', () => created({ scheduledStartAt: T0 + 20 * HOUR })],
    ['LIVE_STATUS_PREPARING', () => created()],
    ['LIVE_STATUS_WAIT_FOR_PREVIEW', () => waiting()],
    ['LIVE_STATUS_PREVIEW', () => previewing()],
    ['LIVE_STATUS_LIVE', () => live()],
    ['LIVE_STATUS_ENCODING', () => encoding()],
    ['LIVE_STATUS_VOD_READY', () => withStatus('LIVE_STATUS_VOD_READY', { vod: { enabled: true, startAt: START * 2, endAt: null } })],
    ['LIVE_STATUS_VOD', () => withStatus('LIVE_STATUS_VOD', { vod: { enabled: true, startAt: null, endAt: null } })],
    ['LIVE_STATUS_LIVE_END', () => run(live(), op('end'))],
  ];
  for (const [status, make] of cases) {
    it(`${status} → CLOSED, one emit`, () => {
      const state = make();
      expect(state.status).toBe(status);
      const result = eventTransition(state, op('cancel', START + 30 * HOUR));
      expect(statuses(result)).toEqual(['LIVE_STATUS_CLOSED']);
      expect(emits(ok(result).effects)[0]!.operation).toBe('cancel');
    });
  }
});

describe('reschedule (PATCH of schedule, VOD window, mode)', () => {
  it('before LIVE: a new start and end are taken', () => {
    const result = ok(
      eventTransition(waiting(), { type: 'reschedule', at: T0 + 5, scheduledStartAt: START + HOUR, scheduledEndAt: START + 3 * HOUR }),
    );
    expect(result.state).toMatchObject({ scheduledStartAt: START + HOUR, scheduledEndAt: START + 3 * HOUR, status: 'LIVE_STATUS_WAIT_FOR_PREVIEW' });
    expect(result.effects).toEqual([]);
  });

  it('SCHEDULED moved to within 12 h → PREPARING', () => {
    const far = created({ scheduledStartAt: T0 + 20 * HOUR });
    expect(statuses(eventTransition(far, { type: 'reschedule', at: T0, scheduledStartAt: T0 + HOUR }))).toEqual([
      'LIVE_STATUS_PREPARING',
    ]);
  });

  it('a new start once LIVE → refused', () => {
    const result = refused(eventTransition(live(), { type: 'reschedule', at: START + 1, scheduledStartAt: START + HOUR }));
    expect(result.refusal).toBe('operation_not_allowed');
    expect(result.detail).toContain('scheduledStartAt');
  });

  it('the mode once LIVE → refused', () => {
    expect(refused(eventTransition(live(), { type: 'reschedule', at: START + 1, broadcastMode: 'BROADCAST_MODE_DVR' })).detail).toContain(
      'broadcastMode',
    );
  });

  it('while LIVE the end may move (the show runs over); it ends when the new end passes', () => {
    const state = run(live({ scheduledEndAt: START + HOUR }), { type: 'reschedule', at: START + 10, scheduledEndAt: START + 2 * HOUR });
    expect(ok(eventTransition(state, tick(START + HOUR))).effects).toEqual([]);
    expect(statuses(eventTransition(state, tick(START + 2 * HOUR)))).toEqual(['LIVE_STATUS_LIVE_END']);
  });

  it('an end before the start → invalid, naming the field', () => {
    const result = refused(eventTransition(waiting(), { type: 'reschedule', at: T0, scheduledEndAt: START - 1 }));
    expect(result.refusal).toBe('invalid');
    expect(result.detail).toMatch(/^scheduledEndAt:/);
  });

  it('a VOD window ending before it starts → invalid', () => {
    const result = refused(
      eventTransition(waiting(), { type: 'reschedule', at: T0, vod: { enabled: true, startAt: START + 2, endAt: START + 1 } }),
    );
    expect(result.detail).toMatch(/^vod\.endAt:/);
  });

  it('PLAYBACK mode on a LIVE type event → invalid', () => {
    const result = refused(eventTransition(waiting(), { type: 'reschedule', at: T0, broadcastMode: 'BROADCAST_MODE_PLAYBACK' }));
    expect(result.refusal).toBe('invalid');
    expect(result.detail).toContain('broadcastMode');
  });

  it('VOD: the window may be extended or closed; closing it ends the event', () => {
    const vod = run(encoding(), { type: 'vod_ready', at: START + HOUR + 1 });
    expect(vod.status).toBe('LIVE_STATUS_VOD');
    const result = eventTransition(vod, { type: 'reschedule', at: START + 2 * HOUR, vod: { enabled: true, startAt: null, endAt: START + 2 * HOUR } });
    expect(statuses(result)).toEqual(['LIVE_STATUS_LIVE_END']);
  });

  it('ENCODING: turning the VOD off → refused', () => {
    const result = refused(eventTransition(encoding(), { type: 'reschedule', at: START + 2 * HOUR, vod: { enabled: false, startAt: null, endAt: null } }));
    expect(result.detail).toContain('vod.enabled');
  });

  it('CLOSED → refused: reopen first', () => {
    const closed = run(previewing(), op('cancel'));
    expect(refused(eventTransition(closed, { type: 'reschedule', at: START, scheduledStartAt: START + HOUR })).allowedOperations).toEqual([
      'archive',
      'reopen',
    ]);
  });
});

describe('nextEventDeadline (the alarm the shell sets)', () => {
  it('SCHEDULED: the 12 h boundary', () => {
    expect(nextEventDeadline(created({ scheduledStartAt: T0 + 20 * HOUR }), T0)).toBe(T0 + 20 * HOUR - PREPARE_AHEAD_MS);
  });

  it('PREPARING: a readiness re-check every 2 s', () => {
    expect(READINESS_RECHECK_MS).toBe(2000);
    expect(nextEventDeadline(created(), T0 + 123)).toBe(T0 + 123 + 2000);
  });

  it('WAIT_FOR_PREVIEW: none for LIVE type, the scheduled start for SIMULIVE', () => {
    expect(nextEventDeadline(waiting(), T0)).toBeNull();
    expect(nextEventDeadline(waiting({ type: 'LIVE_TYPE_SIMULIVE' }), T0)).toBe(START);
  });

  it('PREVIEW: none (the producer goes live)', () => {
    expect(nextEventDeadline(previewing(), T0)).toBeNull();
  });

  it('LIVE: the scheduled end, none without one', () => {
    expect(nextEventDeadline(live({ scheduledEndAt: START + HOUR }), START)).toBe(START + HOUR);
    expect(nextEventDeadline(live(), START)).toBeNull();
  });

  it('ENCODING: none (the stream says when its media is final)', () => {
    expect(nextEventDeadline(encoding(), START)).toBeNull();
  });

  it('VOD_READY: the VOD window start; VOD: its end, none when open-ended', () => {
    const window = { enabled: true, startAt: START + 5 * HOUR, endAt: START + 9 * HOUR };
    const ready = run(encoding({ vod: window }), { type: 'vod_ready', at: START + HOUR + 1 });
    expect(nextEventDeadline(ready, START)).toBe(START + 5 * HOUR);
    expect(nextEventDeadline(run(ready, tick(START + 5 * HOUR)), START)).toBe(START + 9 * HOUR);
    expect(nextEventDeadline(run(encoding(), { type: 'vod_ready', at: START + HOUR }), START)).toBeNull();
  });

  it('LIVE_END, CLOSED, ARCHIVED: none', () => {
    const ended = run(live(), op('end'));
    expect(nextEventDeadline(ended, START)).toBeNull();
    expect(nextEventDeadline(run(ended, op('cancel')), START)).toBeNull();
    expect(nextEventDeadline(run(ended, op('archive')), START)).toBeNull();
  });
});

describe('whatever happens, each status change is exactly one emit', () => {
  const input = fc.oneof(
    fc.record({ type: fc.constant('operation' as const), op: fc.constantFrom(...LIVE_EVENT_OPERATIONS), dt: fc.nat(4 * HOUR), ready: fc.boolean() }),
    fc.record({ type: fc.constant('tick' as const), dt: fc.nat(24 * HOUR), ready: fc.boolean() }),
    fc.record({ type: fc.constantFrom('stream_ended' as const, 'vod_ready' as const, 'vod_failed' as const), dt: fc.nat(HOUR) }),
  );
  it('emits chain from the old status to the new one, never repeating a status, refusals name allowed ops', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('LIVE_TYPE_LIVE' as const, 'LIVE_TYPE_SIMULIVE' as const),
        fc.boolean(),
        fc.array(input, { maxLength: 30 }),
        (type, vodEnabled, inputs) => {
          let at = T0;
          let state = created({ type, vod: { enabled: vodEnabled, startAt: START + 3 * HOUR, endAt: START + 6 * HOUR }, scheduledEndAt: START + 2 * HOUR });
          for (const raw of inputs) {
            at += raw.dt;
            const next: EventInput =
              raw.type === 'operation'
                ? { type: 'operation', op: raw.op, at, infrastructureReady: raw.ready }
                : raw.type === 'tick'
                  ? { type: 'tick', at, infrastructureReady: raw.ready }
                  : raw.type === 'vod_ready'
                    ? { type: 'vod_ready', at }
                    : { type: raw.type, at, reason: 'test' };
            const result = eventTransition(state, next);
            if (!result.ok) {
              expect(result.allowedOperations).toEqual(allowedOperations(state));
              continue;
            }
            const chain = emits(result.effects).map((e) => e.status);
            let previous = state.status;
            for (const status of chain) {
              expect(status).not.toBe(previous);
              expect(LIVE_EVENT_STATUSES).toContain(status);
              previous = status;
            }
            expect(previous).toBe(result.state.status);
            state = result.state;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
