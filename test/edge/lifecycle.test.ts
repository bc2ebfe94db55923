// One test per row of DESIGN.md's lifecycle, including the refused transitions.
import { describe, it, expect } from 'vitest';
import {
  transition,
  initialLifecycle,
  nextDeadline,
  HEARTBEAT_TIMEOUT_MS,
  statsOverdue,
  reconnectWindowOver,
  ORIGIN_LOST_TIMEOUT_MS,
  type LifecycleState,
  type LifecycleInput,
  type Transition,
} from '../../edge/lifecycle.ts';
import { heldElsewhere, decideTakeover, HOLDER_STALE_MS } from '../../edge/takeover.ts';

const T0 = 1_700_000_000_000;
const origin = { originId: 'o1', originUrl: 'http://origin.test' };
const publish = (at = T0, newSessionId = 'ses_1'): LifecycleInput => ({ type: 'publish', at, newSessionId, ...origin });

function ok(result: Transition) {
  if (!result.ok) throw new Error(`refused: ${result.refusal}`);
  return result;
}
const emitted = (result: Transition) => (result.ok ? result.effects.filter((e) => e.kind === 'emit').map((e) => e.event) : []);
const kinds = (result: Transition) => (result.ok ? result.effects.map((e) => e.kind) : []);

function run(state: LifecycleState, ...inputs: LifecycleInput[]): LifecycleState {
  return inputs.reduce((s, input) => ok(transition(s, input)).state, state);
}

const fresh = (record = false, window = 60) => initialLifecycle({ record, reconnectWindowSeconds: window });
const streaming = () => run(fresh(), publish());
const disconnected = () => run(streaming(), { type: 'publish_done', at: T0 + 5000, sessionId: 'ses_1', reason: 'eof' });

describe('lifecycle transitions', () => {
  it('NOT_STARTED + publish → STREAMING, opens a session, ON_PUBLISH', () => {
    const result = ok(transition(fresh(), publish()));
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', publisherConnected: true, reconnects: 0 });
    expect(result.resumed).toBe(false);
    expect(kinds(result)).toEqual(['open_session', 'emit']);
    expect(emitted(result)).toEqual(['ON_PUBLISH']);
    expect(result.state.heartbeatDeadline).toBe(T0 + HEARTBEAT_TIMEOUT_MS);
  });

  it('STREAMING + recording_started (record=true) → RECORDING', () => {
    const state = run(fresh(true), publish());
    const result = ok(transition(state, { type: 'recording_started', at: T0 + 1, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('RECORDING');
    expect(emitted(result)).toEqual(['RECORDING']);
  });

  it('recording_started without record=true changes nothing', () => {
    const result = ok(transition(streaming(), { type: 'recording_started', at: T0 + 1, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(result.effects).toEqual([]);
  });

  it('STREAMING + publish_done → DISCONNECTED with the reconnect deadline', () => {
    const result = ok(transition(streaming(), { type: 'publish_done', at: T0 + 5000, sessionId: 'ses_1', reason: 'eof' }));
    expect(result.state.status).toBe('DISCONNECTED');
    expect(result.state.reconnectDeadline).toBe(T0 + 5000 + 60_000);
    expect(result.state.heartbeatDeadline).toBeNull();
    expect(emitted(result)).toEqual(['ON_PUBLISH_DONE']);
    expect(nextDeadline(result.state)).toBe(T0 + 65_000);
  });

  it('DISCONNECTED + publish within the window → the same session resumes', () => {
    const result = ok(transition(disconnected(), publish(T0 + 10_000, 'ses_new')));
    expect(result.state.status).toBe('STREAMING');
    expect(result.resumed).toBe(true);
    expect(result.state.session).toMatchObject({ id: 'ses_1', reconnects: 1, publisherConnected: true });
    expect(result.state.reconnectDeadline).toBeNull();
    expect(kinds(result)).toEqual(['emit']);
  });

  it('DISCONNECTED + window expired → STOPPED, session ends', () => {
    const result = ok(transition(disconnected(), { type: 'reconnect_window_expired', at: T0 + 70_000 }));
    expect(result.state.status).toBe('STOPPED');
    expect(kinds(result)).toEqual(['end_session', 'emit']);
    expect(emitted(result)).toEqual(['STOPPED']);
    expect(nextDeadline(result.state)).toBeNull();
  });

  it('a window expiry that arrives after a reconnect changes nothing', () => {
    const back = run(disconnected(), publish(T0 + 10_000));
    const result = ok(transition(back, { type: 'reconnect_window_expired', at: T0 + 70_000 }));
    expect(result.state.status).toBe('STREAMING');
    expect(result.effects).toEqual([]);
  });

  it('reconnectWindow 0 stops as soon as the encoder leaves', () => {
    const state = run(fresh(false, 0), publish());
    const result = ok(transition(state, { type: 'publish_done', at: T0 + 1, sessionId: 'ses_1', reason: 'eof' }));
    expect(result.state.status).toBe('STOPPED');
    expect(emitted(result)).toEqual(['ON_PUBLISH_DONE', 'STOPPED']);
  });

  it('heartbeat moves the deadline; heartbeat loss counts as encoder lost and never kicks it', () => {
    const beat = ok(transition(streaming(), { type: 'heartbeat', at: T0 + 4000, sessionId: 'ses_1' }));
    expect(beat.state.heartbeatDeadline).toBe(T0 + 4000 + HEARTBEAT_TIMEOUT_MS);
    expect(beat.effects).toEqual([]);
    const lost = ok(transition(beat.state, { type: 'heartbeat_lost', at: T0 + 15_000, originSilent: true }));
    expect(lost.state.status).toBe('DISCONNECTED');
    expect(lost.state.reconnectDeadline).toBe(T0 + 75_000);
    expect(kinds(lost)).toEqual(['emit']);
    expect(lost.state.session).toMatchObject({ publisherConnected: false, silent: true });
  });

  it('complete while live → STOPPED and the encoder is kicked', () => {
    const result = ok(transition(streaming(), { type: 'complete', at: T0 + 1 }));
    expect(result.state.status).toBe('STOPPED');
    expect(kinds(result)).toEqual(['kick_encoder', 'end_session', 'emit']);
  });

  it('complete while DISCONNECTED → STOPPED without a kick', () => {
    const result = ok(transition(disconnected(), { type: 'complete', at: T0 + 6000 }));
    expect(result.state.status).toBe('STOPPED');
    expect(kinds(result)).toEqual(['end_session', 'emit']);
  });

  it('disable while live → STOPPED then DISABLED; ingest refused until enable', () => {
    const result = ok(transition(streaming(), { type: 'disable', at: T0 + 1 }));
    expect(result.state).toMatchObject({ status: 'STOPPED', enabled: false });
    expect(emitted(result)).toEqual(['STOPPED', 'DISABLED']);
    expect(transition(result.state, publish(T0 + 2))).toMatchObject({ ok: false, refusal: 'stream_disabled' });
  });

  it('disable while NOT_STARTED keeps the status and refuses publish', () => {
    const state = run(fresh(), { type: 'disable', at: T0 });
    expect(state).toMatchObject({ status: 'NOT_STARTED', enabled: false });
    expect(transition(state, publish())).toMatchObject({ ok: false, refusal: 'stream_disabled' });
  });

  it('enable after STOPPED → NOT_STARTED; the next publish opens a new session', () => {
    const stopped = run(streaming(), { type: 'complete', at: T0 + 1 });
    expect(transition(stopped, publish(T0 + 2, 'ses_2'))).toMatchObject({ ok: false, refusal: 'stream_finished' });
    const enabled = ok(transition(stopped, { type: 'enable', at: T0 + 3 }));
    expect(enabled.state.status).toBe('NOT_STARTED');
    expect(emitted(enabled)).toEqual(['ENABLED']);
    const again = ok(transition(enabled.state, publish(T0 + 4, 'ses_2')));
    expect(again.state.session?.id).toBe('ses_2');
    expect(again.resumed).toBe(false);
  });

  it('refuses a second publisher while one is connected', () => {
    expect(transition(streaming(), publish(T0 + 1, 'ses_2'))).toMatchObject({ ok: false, refusal: 'already_live' });
  });

  it('refuses publish after STOPPED, COMPLETED and ERROR', () => {
    const stopped = run(streaming(), { type: 'complete', at: T0 + 1 });
    const completed = run(stopped, { type: 'recording_ready', at: T0 + 2, sessionId: 'ses_1', recordingId: 'rec_1' });
    expect(completed.status).toBe('COMPLETED');
    const errored = run(fresh(), { type: 'error', at: T0, reason: 'disk full' });
    for (const state of [stopped, completed, errored]) {
      expect(transition(state, publish(T0 + 5, 'x'))).toMatchObject({ ok: false, refusal: 'stream_finished' });
    }
  });

  it('refuses publish on a deleted stream, and delete while live stops first', () => {
    const result = ok(transition(streaming(), { type: 'delete', at: T0 + 1 }));
    expect(emitted(result)).toEqual(['STOPPED', 'DELETED']);
    expect(kinds(result)[0]).toBe('kick_encoder');
    expect(transition(result.state, publish(T0 + 2))).toMatchObject({ ok: false, refusal: 'stream_deleted' });
  });

  it('refuses enable on an enabled stream, disable on a disabled one, complete when not live', () => {
    expect(transition(fresh(), { type: 'enable', at: T0 })).toMatchObject({ ok: false, refusal: 'already_enabled' });
    const disabled = run(fresh(), { type: 'disable', at: T0 });
    expect(transition(disabled, { type: 'disable', at: T0 })).toMatchObject({ ok: false, refusal: 'already_disabled' });
    expect(transition(fresh(), { type: 'complete', at: T0 })).toMatchObject({ ok: false, refusal: 'not_live' });
  });

  it('ignores events of a session that is no longer current', () => {
    const state = streaming();
    for (const input of [
      { type: 'publish_done', at: T0, sessionId: 'old', reason: 'x' },
      { type: 'heartbeat', at: T0, sessionId: 'old' },
      { type: 'recording_started', at: T0, sessionId: 'old' },
    ] as LifecycleInput[]) {
      expect(transition(state, input)).toMatchObject({ ok: false, refusal: 'stale_session' });
    }
  });

  it('error → ERROR with the reason, kicking the encoder', () => {
    const result = ok(transition(streaming(), { type: 'error', at: T0 + 1, reason: 'ffmpeg failed 5 times' }));
    expect(result.state).toMatchObject({ status: 'ERROR', errorReason: 'ffmpeg failed 5 times' });
    expect(kinds(result)).toEqual(['kick_encoder', 'emit']);
  });

  it('update changes record and reconnectWindow and emits UPDATED', () => {
    const result = ok(transition(fresh(), { type: 'update', at: T0, record: true, reconnectWindowSeconds: 10 }));
    expect(result.state).toMatchObject({ record: true, reconnectWindowSeconds: 10 });
    expect(emitted(result)).toEqual(['UPDATED']);
  });
});

describe('recordings and clips', () => {
  const stopped = () => run(streaming(), { type: 'complete', at: T0 + 1 });

  it('recording ready after STOPPED → COMPLETED, both events naming the recording', () => {
    const result = ok(transition(stopped(), { type: 'recording_ready', at: T0 + 2, sessionId: 'ses_1', recordingId: 'rec_1' }));
    expect(result.state.status).toBe('COMPLETED');
    expect(emitted(result)).toEqual(['RECORDING_READY', 'COMPLETED']);
    expect(result.effects[0]).toMatchObject({ subject: { kind: 'recording', id: 'rec_1' } });
  });

  it('recording failed → ERROR with the reason; a retried recording then completes', () => {
    const failed = ok(transition(stopped(), { type: 'recording_failed', at: T0 + 2, sessionId: 'ses_1', recordingId: 'rec_1', reason: 'disk' }));
    expect(failed.state).toMatchObject({ status: 'ERROR', errorReason: 'recording failed: disk' });
    const retried = ok(transition(failed.state, { type: 'recording_ready', at: T0 + 3, sessionId: 'ses_1', recordingId: 'rec_1' }));
    expect(retried.state).toMatchObject({ status: 'COMPLETED', errorReason: null });
  });

  it('a recording of an earlier session finishing during a new broadcast changes no status', () => {
    const again = run(stopped(), { type: 'enable', at: T0 + 2 }, publish(T0 + 3, 'ses_2'));
    const result = ok(transition(again, { type: 'recording_ready', at: T0 + 4, sessionId: 'ses_1', recordingId: 'rec_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(emitted(result)).toEqual(['RECORDING_READY']);
  });

  it('clip ready emits CLIP_READY without a status change', () => {
    const result = ok(transition(streaming(), { type: 'clip_ready', at: T0 + 1, clipId: 'clip_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(emitted(result)).toEqual(['CLIP_READY']);
  });
});

describe('a recording ready before the window ends', () => {
  it('completes as soon as the stream stops', () => {
    const ready = ok(transition(disconnected(), { type: 'recording_ready', at: T0 + 6000, sessionId: 'ses_1', recordingId: 'rec_1' }));
    expect(ready.state.status).toBe('DISCONNECTED');
    const expired = ok(transition(ready.state, { type: 'reconnect_window_expired', at: T0 + 70_000 }));
    expect(expired.state.status).toBe('COMPLETED');
    expect(emitted(expired)).toEqual(['STOPPED', 'COMPLETED']);
  });
});

describe('origin liveness and the edge clock (issue 10 #5)', () => {
  const lostSilently = (record = false) => {
    const live = record ? run(fresh(true), publish(), { type: 'recording_started', at: T0 + 1, sessionId: 'ses_1' }) : streaming();
    return run(live, { type: 'heartbeat_lost', at: T0 + 20_000, originSilent: true });
  };

  it('DISCONNECTED by silence + stats of the same session → STREAMING in the same session, deadline from the edge clock', () => {
    const result = ok(transition(lostSilently(), { type: 'heartbeat', at: T0 + 50_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', reconnects: 0, publisherConnected: true, silent: false });
    expect(result.state.reconnectDeadline).toBeNull();
    expect(result.state.heartbeatDeadline).toBe(T0 + 50_000 + HEARTBEAT_TIMEOUT_MS);
    expect(kinds(result)).toEqual(['emit']);
    expect(emitted(result)).toEqual(['ON_PUBLISH']);
  });

  it('a recording session heard again returns to RECORDING', () => {
    const result = ok(transition(lostSilently(true), { type: 'heartbeat', at: T0 + 30_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('RECORDING');
    expect(emitted(result)).toEqual(['ON_PUBLISH', 'RECORDING']);
  });

  it('DISCONNECTED because the encoder left: late stats change nothing', () => {
    const result = ok(transition(disconnected(), { type: 'heartbeat', at: T0 + 6000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('DISCONNECTED');
    expect(result.effects).toEqual([]);
  });

  it('publish_done after a silent loss: the encoder did leave, so stats no longer bring it back', () => {
    const left = run(lostSilently(), { type: 'publish_done', at: T0 + 25_000, sessionId: 'ses_1', reason: 'eof' });
    expect(left.status).toBe('DISCONNECTED');
    const result = ok(transition(left, { type: 'heartbeat', at: T0 + 26_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('DISCONNECTED');
    expect(result.effects).toEqual([]);
  });

  it('after STOPPED, stats of the old session change nothing', () => {
    const stopped = run(lostSilently(), { type: 'reconnect_window_expired', at: T0 + 90_000 });
    expect(stopped.status).toBe('STOPPED');
    const result = ok(transition(stopped, { type: 'heartbeat', at: T0 + 91_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('STOPPED');
    expect(result.effects).toEqual([]);
  });

  it('origin_vouched moves the stats deadline without a status change or an event', () => {
    const result = ok(transition(streaming(), { type: 'origin_vouched', at: T0 + 12_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.heartbeatDeadline).toBe(T0 + 12_000 + HEARTBEAT_TIMEOUT_MS);
    expect(result.effects).toEqual([]);
  });

  it('heartbeat_lost while the origin is alive but dropped the session: DISCONNECTED, no kick, reason says so', () => {
    const result = ok(transition(streaming(), { type: 'heartbeat_lost', at: T0 + 12_000, originSilent: false }));
    expect(result.state.status).toBe('DISCONNECTED');
    expect(kinds(result)).toEqual(['emit']);
    expect(result.effects[0]).toMatchObject({ reason: expect.stringMatching(/no longer holds/) });
  });

  it('DISCONNECTED by silence + origin_vouched (its heartbeat lists the session) → STREAMING in the same session', () => {
    const result = ok(transition(lostSilently(), { type: 'origin_vouched', at: T0 + 40_000, sessionId: 'ses_1' }));
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', reconnects: 0, publisherConnected: true });
    expect(result.state.heartbeatDeadline).toBe(T0 + 40_000 + HEARTBEAT_TIMEOUT_MS);
    expect(emitted(result)).toEqual(['ON_PUBLISH']);
  });

  it('a silent session that stops (window over, complete) tells its origin to let the encoder go for good', () => {
    const result = ok(transition(lostSilently(), { type: 'reconnect_window_expired', at: T0 + 80_000 }));
    expect(result.state.status).toBe('STOPPED');
    expect(result.effects[0]).toMatchObject({ kind: 'kick_encoder', sessionId: 'ses_1', final: true });
    expect(kinds(result)).toEqual(['kick_encoder', 'end_session', 'emit']);
    const completed = ok(transition(lostSilently(), { type: 'complete', at: T0 + 30_000 }));
    expect(kinds(completed)[0]).toBe('kick_encoder');
  });

  it('reconnectWindowOver: a silent session whose origin is heard holding it comes back; otherwise the window expires', () => {
    const now = T0 + 80_000;
    const silent = lostSilently();
    expect(reconnectWindowOver(silent, { heardAt: now - 1000, sessionIds: ['ses_1'] }, now)).toEqual({ type: 'origin_vouched', at: now, sessionId: 'ses_1' });
    expect(reconnectWindowOver(silent, { heardAt: now - 1000, sessionIds: [] }, now)).toEqual({ type: 'reconnect_window_expired', at: now });
    // Not heard since the silence began: in doubt, waited for (no stop, no kick) until the origin counts as lost.
    expect(reconnectWindowOver(silent, { heardAt: now - 60_000, sessionIds: ['ses_1'] }, now)).toEqual({ type: 'origin_unheard', at: now });
    const lostAt = T0 + 20_000 + ORIGIN_LOST_TIMEOUT_MS;
    expect(reconnectWindowOver(silent, { heardAt: now - 60_000, sessionIds: ['ses_1'] }, lostAt)).toEqual({ type: 'reconnect_window_expired', at: lostAt });
    expect(reconnectWindowOver(disconnected(), { heardAt: now - 1000, sessionIds: ['ses_1'] }, now)).toEqual({ type: 'reconnect_window_expired', at: now });
  });

  it('statsOverdue: an origin heard lately that holds the session vouches for it', () => {
    const now = T0 + 12_000;
    expect(statsOverdue(streaming(), { heardAt: now - 2000, sessionIds: ['ses_1'] }, now)).toEqual({
      type: 'origin_vouched', at: now, sessionId: 'ses_1',
    });
  });

  it('statsOverdue: an origin heard lately without the session → lost, origin not silent', () => {
    const now = T0 + 12_000;
    expect(statsOverdue(streaming(), { heardAt: now - 2000, sessionIds: ['ses_other'] }, now)).toEqual({
      type: 'heartbeat_lost', at: now, originSilent: false,
    });
  });

  it('statsOverdue: an origin not heard for the timeout, or never, is silent', () => {
    const now = T0 + 30_000;
    const stale = { heardAt: now - HEARTBEAT_TIMEOUT_MS - 1, sessionIds: ['ses_1'] };
    expect(statsOverdue(streaming(), stale, now)).toEqual({ type: 'heartbeat_lost', at: now, originSilent: true });
    expect(statsOverdue(streaming(), null, now)).toEqual({ type: 'heartbeat_lost', at: now, originSilent: true });
  });
});

describe('recording watchable deadline (issue 11)', () => {
  const config = { recordingWatchableTimeoutMs: 8_000 };
  const recorded = () => run(fresh(true), publish());
  const stoppedRecording = () => ok(transition(recorded(), { type: 'complete', at: T0 + 1000 }, config)).state;

  it('STOPPED with a recording → asks the holding origin to make the media final, waits until a deadline', () => {
    const result = ok(transition(recorded(), { type: 'complete', at: T0 + 1000 }, config));
    expect(result.state.status).toBe('STOPPED');
    expect(result.state.finalizing).toEqual([{ sessionId: 'ses_1', deadline: T0 + 9_000 }]);
    expect(nextDeadline(result.state)).toBe(T0 + 9_000);
    expect(result.effects).toContainEqual({ kind: 'finalize_recording', sessionId: 'ses_1', ...origin });
  });

  it('STOPPED without a recording waits for nothing', () => {
    const result = ok(transition(streaming(), { type: 'complete', at: T0 + 1000 }));
    expect(result.state.finalizing ?? []).toEqual([]);
    expect(nextDeadline(result.state)).toBeNull();
    expect(kinds(result)).not.toContain('finalize_recording');
  });

  it('deadline passed → the recording settles from what R2 holds; no ERROR', () => {
    const result = ok(transition(stoppedRecording(), { type: 'recording_deadline_passed', at: T0 + 9_000 }, config));
    expect(result.state).toMatchObject({ status: 'STOPPED', finalizing: [] });
    expect(result.effects).toEqual([{ kind: 'settle_recording', sessionId: 'ses_1' }]);
    expect(nextDeadline(result.state)).toBeNull();
  });

  it('a deadline not yet passed changes nothing', () => {
    const result = ok(transition(stoppedRecording(), { type: 'recording_deadline_passed', at: T0 + 5_000 }, config));
    expect(result.state.status).toBe('STOPPED');
    expect(result.effects).toEqual([]);
  });

  it('recording ready (watchable) clears the deadline and completes; a recording with no media fails the stream', () => {
    const ready = ok(transition(stoppedRecording(), { type: 'recording_ready', at: T0 + 2000, sessionId: 'ses_1', recordingId: 'rec_1' }, config));
    expect(ready.state).toMatchObject({ status: 'COMPLETED', finalizing: [] });
    expect(emitted(ready)).toEqual(['RECORDING_READY', 'COMPLETED']);
    const failed = ok(transition(stoppedRecording(), { type: 'recording_failed', at: T0 + 9_000, sessionId: 'ses_1', recordingId: 'rec_1', reason: 'no media' }));
    expect(failed.state).toMatchObject({ status: 'ERROR', errorReason: 'recording failed: no media' });
    const late = ok(transition(failed.state, { type: 'recording_ready', at: T0 + 70_000, sessionId: 'ses_1', recordingId: 'rec_1' }));
    expect(late.state).toMatchObject({ status: 'COMPLETED', errorReason: null });
  });

  it('a stream that moved on (re-enabled) keeps its status; only the recording settles', () => {
    const enabled = run(stoppedRecording(), { type: 'enable', at: T0 + 2000 });
    const result = ok(transition(enabled, { type: 'recording_deadline_passed', at: T0 + 9_000 }, config));
    expect(result.state.status).toBe('NOT_STARTED');
    expect(kinds(result)).toEqual(['settle_recording']);
  });

  it('a retried recording waits again, with a new deadline', () => {
    const failed = run(stoppedRecording(), { type: 'recording_failed', at: T0 + 2000, sessionId: 'ses_1', recordingId: 'rec_1', reason: 'disk' });
    expect(failed.finalizing).toEqual([]);
    const retried = ok(transition(failed, { type: 'recording_retried', at: T0 + 3000, sessionId: 'ses_1' }, config));
    expect(retried.state.finalizing).toEqual([{ sessionId: 'ses_1', deadline: T0 + 11_000 }]);
  });

  it('delete drops every wait: the recordings go with the stream', () => {
    const result = ok(transition(stoppedRecording(), { type: 'delete', at: T0 + 2000 }, config));
    expect(result.state.finalizing).toEqual([]);
    expect(nextDeadline(result.state)).toBeNull();
  });
});

describe('takeover: the stream key through another origin while the session is live (edge/takeover.ts)', () => {
  const b = { originId: 'o2', originUrl: 'http://origin-b.test' };
  const held = { sessionId: 'ses_1', holderId: 'o1', holderUrl: origin.originUrl };
  const takeOver = (at: number, extra: Partial<{ sessionId: string; fromOriginId: string }> = {}): LifecycleInput => ({
    type: 'publish', at, newSessionId: 'ses_2', ...b,
    takeover: { sessionId: 'ses_1', fromOriginId: 'o1', reason: 'origin o1 no longer has the encoder', ...extra },
  });

  it('asks only about a connected session held by another origin', () => {
    expect(heldElsewhere(streaming(), 'o2')).toEqual(held);
    expect(heldElsewhere(streaming(), 'o1')).toBeNull();
    expect(heldElsewhere(disconnected(), 'o2')).toBeNull();
    expect(heldElsewhere(fresh(), 'o2')).toBeNull();
  });

  it('a stale holder is not asked; otherwise its answer decides, and no answer counts as gone', () => {
    const now = T0 + 60_000;
    expect(decideTakeover(held, { heardAt: now - HOLDER_STALE_MS - 1, sessionIds: ['ses_1'] }, undefined, now).kind).toBe('take_over');
    const fresh = { heardAt: now - 1000, sessionIds: ['ses_1'] };
    expect(decideTakeover(held, fresh, undefined, now).kind).toBe('ask');
    expect(decideTakeover(held, null, undefined, now).kind).toBe('ask');
    expect(decideTakeover(held, fresh, { publishing: true }, now).kind).toBe('refuse');
    expect(decideTakeover(held, fresh, { publishing: false }, now).kind).toBe('take_over');
    expect(decideTakeover(held, fresh, { unanswered: 'TimeoutError' }, now).kind).toBe('take_over');
    expect(decideTakeover(held, fresh, { unusable: 'status 404' }, now).kind).toBe('refuse');
  });

  it('a takeover resumes the same session on the new origin: ON_PUBLISH_DONE then ON_PUBLISH, the old one told to let go', () => {
    const result = ok(transition(streaming(), takeOver(T0 + 3000)));
    expect(result.resumed).toBe(true);
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', originId: 'o2', reconnects: 1, publisherConnected: true });
    expect(result.state.heartbeatDeadline).toBe(T0 + 3000 + HEARTBEAT_TIMEOUT_MS);
    expect(emitted(result)).toEqual(['ON_PUBLISH_DONE', 'ON_PUBLISH']);
    const statuses = result.effects.flatMap((e) => (e.kind === 'emit' ? [e.status] : []));
    expect(statuses).toEqual(['DISCONNECTED', 'STREAMING']);
    expect(result.effects.find((e) => e.kind === 'kick_encoder')).toMatchObject({ originId: 'o1', sessionId: 'ses_1', final: false });
    expect(kinds(result)).not.toContain('open_session');
  });

  it('a takeover that no longer fits (another session, another holder, the holder itself) is the plain publish rule', () => {
    expect(transition(streaming(), takeOver(T0 + 1, { sessionId: 'ses_0' }))).toMatchObject({ ok: false, refusal: 'already_live' });
    expect(transition(streaming(), takeOver(T0 + 1, { fromOriginId: 'o3' }))).toMatchObject({ ok: false, refusal: 'already_live' });
    const fromHolder = { ...takeOver(T0 + 1), ...origin } as LifecycleInput;
    expect(transition(streaming(), fromHolder)).toMatchObject({ ok: false, refusal: 'already_live' });
    // Already disconnected: the ordinary resume, with one ON_PUBLISH.
    expect(emitted(ok(transition(disconnected(), takeOver(T0 + 6000))))).toEqual(['ON_PUBLISH']);
  });
});
