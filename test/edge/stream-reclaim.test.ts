// A publish the origin gave up on, applied late by a slow edge (a ghost STREAMING held by that origin with no encoder):
// the encoder's reconnect through the same origin, which says no encoder of the key is there (keyIdleHere), resumes
// the session at once instead of being refused already_live. The refusals that protect a live encoder stay: the same
// origin with an encoder of the key, an older origin (no word), another origin whose holder still publishes.
import { describe, it, expect, beforeAll } from 'vitest';
import { createStream, createWorkspace, getStream, json, originEvent, signedCall, heartbeatBody, type Workspace } from './helpers.ts';
import { standInSignedOrigins } from './control-ports.ts';
import { KeyedAuthorizeRequest } from '../../shared/schemas/internal.ts';
import { transition, initialLifecycle, HEARTBEAT_TIMEOUT_MS, type LifecycleInput, type LifecycleState, type Transition } from '../../edge/lifecycle.ts';
import { reclaimableHere } from '../../edge/takeover.ts';

const A = { originId: 'origin-ra', originUrl: 'http://127.0.0.5:9' };
const B = { originId: 'origin-rb', originUrl: 'http://127.0.0.6:9' };
const hostOf = (origin: { originUrl: string }) => new URL(origin.originUrl).host;

// ── the transition rows (pure) ──────────────────────────────────────────────────────────────────────────────────

const T0 = 1_700_000_000_000;
const o1 = { originId: 'o1', originUrl: 'http://origin.test' };
const publish = (at: number, extra: Partial<Extract<LifecycleInput, { type: 'publish' }>> = {}): LifecycleInput => ({
  type: 'publish', at, newSessionId: 'ses_new', ...o1, ...extra,
});
const reclaim = { sessionId: 'ses_1', reason: 'origin o1 has no encoder for the session' };
function ok(result: Transition) {
  if (!result.ok) throw new Error(`refused: ${result.refusal}`);
  return result;
}
const streaming = (record = false): LifecycleState =>
  ok(transition(initialLifecycle({ record, reconnectWindowSeconds: 60 }), publish(T0, { newSessionId: 'ses_1' }))).state;
const emitted = (result: Transition) => (result.ok ? result.effects.flatMap((e) => (e.kind === 'emit' ? [`${e.event}:${e.status}`] : [])) : []);

describe('reclaim: the holding origin publishes again with no encoder of the key there (pure rows)', () => {
  it('resumes the same session: ON_PUBLISH_DONE then ON_PUBLISH, no kick, no new session', () => {
    const result = ok(transition(streaming(), publish(T0 + 9000, { reclaim })));
    expect(result.resumed).toBe(true);
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', originId: 'o1', reconnects: 1, publisherConnected: true });
    expect(result.state.heartbeatDeadline).toBe(T0 + 9000 + HEARTBEAT_TIMEOUT_MS);
    expect(result.state.reconnectDeadline).toBeNull();
    expect(emitted(result)).toEqual(['ON_PUBLISH_DONE:DISCONNECTED', 'ON_PUBLISH:STREAMING']);
    const reasons = result.effects.flatMap((e) => (e.kind === 'emit' ? [e.reason] : []));
    expect(reasons[0]).toBe(reclaim.reason);
    expect(result.effects.map((e) => e.kind)).not.toContain('kick_encoder');
    expect(result.effects.map((e) => e.kind)).not.toContain('open_session');
  });

  it('a recorded ghost (RECORDING never came: no media) resumes to STREAMING, its recording flag reset', () => {
    const result = ok(transition(streaming(true), publish(T0 + 9000, { reclaim })));
    expect(result.state.status).toBe('STREAMING');
    expect(result.state.session).toMatchObject({ id: 'ses_1', recording: false, recorded: true });
  });

  it('stays refused already_live through another origin, or for another session', () => {
    const viaOther = publish(T0 + 1, { reclaim, originId: 'o2', originUrl: 'http://o2.test' });
    expect(transition(streaming(), viaOther)).toMatchObject({ ok: false, refusal: 'already_live' });
    expect(transition(streaming(), publish(T0 + 1, { reclaim: { ...reclaim, sessionId: 'ses_0' } }))).toMatchObject({ ok: false, refusal: 'already_live' });
    // Without the word, the plain rule.
    expect(transition(streaming(), publish(T0 + 1))).toMatchObject({ ok: false, refusal: 'already_live' });
  });

  it('a session already in its window is the ordinary resume (one ON_PUBLISH); a finished stream is still refused', () => {
    const lost = ok(transition(streaming(), { type: 'publish_done', at: T0 + 5000, sessionId: 'ses_1', reason: 'eof' })).state;
    expect(emitted(ok(transition(lost, publish(T0 + 6000, { reclaim }))))).toEqual(['ON_PUBLISH:STREAMING']);
    const stopped = ok(transition(streaming(), { type: 'complete', at: T0 + 5000 })).state;
    expect(transition(stopped, publish(T0 + 6000, { reclaim }))).toMatchObject({ ok: false, refusal: 'stream_finished' });
  });

  it('reclaimableHere: only the holder itself, only with its word, only a connected session', () => {
    const live = streaming();
    expect(reclaimableHere(live, 'o1', true)).toMatchObject({ sessionId: 'ses_1' });
    expect(reclaimableHere(live, 'o1', false)).toBeNull();
    expect(reclaimableHere(live, 'o2', true)).toBeNull();
    const lost = ok(transition(live, { type: 'publish_done', at: T0 + 5000, sessionId: 'ses_1', reason: 'eof' })).state;
    expect(reclaimableHere(lost, 'o1', true)).toBeNull();
    expect(reclaimableHere(initialLifecycle({ record: false, reconnectWindowSeconds: 60 }), 'o1', true)).toBeNull();
  });

  it('an older origin\'s authorize (no keyIdleHere) parses, as "an encoder of the key may be here"', () => {
    const parsed = KeyedAuthorizeRequest.parse({ streamKey: 'sk_x', protocol: 'rtmp', ...o1 });
    expect(parsed.keyIdleHere).toBe(false);
  });
});

// ── through /internal/ingest/authorize and the stream's Durable Object ─────────────────────────────────────────

/** The origins' control ports; only commands signed by the origin they went to are looked at below. */
const { commands: sent, answers } = standInSignedOrigins([A, B]);
const signed = () => sent.filter((c) => c.signedBy !== null).map(({ host, path, body }) => ({ host, path, body }));

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('reclaim');
});

const authorizeVia = (origin: typeof A, streamKey: string, extra: Record<string, unknown> = {}) =>
  signedCall('/internal/ingest/authorize', { streamKey, protocol: 'rtmp', ...origin, ...extra }, { originId: origin.originId });
const heartbeat = (origin: typeof A, sessions: { streamId: string; sessionId: string }[] = []) =>
  signedCall('/internal/origins/heartbeat', heartbeatBody(origin.originId, sessions, { originUrl: origin.originUrl, hlsUrl: origin.originUrl }), { originId: origin.originId });
const activityEvents = async (streamId: string) => (await getStream(ws, streamId)).activities.map((a: any) => a.event as string);

/** The ghost: A's authorize applied although A had given up on it (no encoder there). */
async function ghostOnA(body: Record<string, unknown> = {}) {
  const stream = await createStream(ws, { reconnectWindow: 30, ...body });
  const ghost = await json(await authorizeVia(A, stream.streamKey, { keyIdleHere: true }));
  await heartbeat(A);
  await heartbeat(B);
  sent.length = 0;
  return { stream, streamId: stream.streamId as string, sessionId: ghost.sessionId as string };
}

describe('an encoder back through the origin that gave up on its publish', () => {
  it('resumes the ghost session at once: same sessionId, an activity saying it reconnected, one ON_PUBLISH per connect, no kick', async () => {
    const { stream, streamId, sessionId } = await ghostOnA();
    expect((await getStream(ws, streamId)).status).toBe('STREAMING');
    const response = await authorizeVia(A, stream.streamKey, { keyIdleHere: true });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ sessionId, resume: true, resumeFrom: null, durablePrefix: `live/${streamId}/${sessionId}/` });
    const live = await getStream(ws, streamId);
    expect(live.status).toBe('STREAMING');
    expect(live.currentSession).toMatchObject({ id: sessionId, reconnects: 1 });
    const activities = live.activities.map((a: any) => ({ event: a.event, reason: a.reason ?? a.message ?? null }));
    expect(activities.slice(-3).map((a: any) => a.event)).toEqual(['ON_PUBLISH', 'ON_PUBLISH_DONE', 'ON_PUBLISH']);
    expect(JSON.stringify(live.activities.at(-2))).toContain('the encoder reconnected');
    // The kick that a takeover sends the old holder would hit this same origin's new encoder: none is sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(signed().filter((c) => c.path === '/control/kick')).toEqual([]);
    // A's events go on counting for the session.
    const stats = await json(await signedCall('/internal/events', { events: [originEvent(streamId, sessionId, 'publish_done', { reason: 'eof' })] }, { originId: A.originId }));
    expect(stats.results[0].outcome).toBe('applied');
    expect((await getStream(ws, streamId)).status).toBe('DISCONNECTED');
  });

  it('stays already_live when the same origin has an encoder of the key (its word is false) or says nothing (an older origin)', async () => {
    const { stream, streamId, sessionId } = await ghostOnA();
    expect((await json(await authorizeVia(A, stream.streamKey, { keyIdleHere: false }))).reason).toBe('already_live');
    expect((await json(await authorizeVia(A, stream.streamKey))).reason).toBe('already_live');
    const live = await getStream(ws, streamId);
    expect(live.currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    expect(await activityEvents(streamId)).not.toContain('ON_PUBLISH_DONE');
  });

  it('another origin\'s word counts for nothing: the holder is asked, and one still publishing keeps the session', async () => {
    const { stream, streamId, sessionId } = await ghostOnA();
    answers.set(`${hostOf(A)}/control/holds`, { json: { publishing: true } });
    const response = await authorizeVia(B, stream.streamKey, { keyIdleHere: true });
    expect((await json(response)).reason).toBe('already_live');
    expect(signed().filter((c) => c.path === '/control/holds')).toEqual([{ host: hostOf(A), path: '/control/holds', body: { streamId, sessionId } }]);
    expect((await getStream(ws, streamId)).currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
  });

  it('an SRT check (no transition) says yes and changes nothing; the publish after its handshake resumes', async () => {
    const { stream, streamId, sessionId } = await ghostOnA();
    const checked = await authorizeVia(A, stream.streamKey, { protocol: 'srt', check: true, keyIdleHere: true });
    expect(checked.status).toBe(200);
    expect((await json(checked)).sessionId).toBe(sessionId);
    expect((await getStream(ws, streamId)).currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    const published = await json(await authorizeVia(A, stream.streamKey, { protocol: 'srt', keyIdleHere: true }));
    expect(published).toMatchObject({ sessionId, resume: true });
    expect((await getStream(ws, streamId)).currentSession).toMatchObject({ id: sessionId, reconnects: 1 });
  });
});
