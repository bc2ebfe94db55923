// Issue 10 #5: a control-plane outage or an origin's wrong clock never ends a healthy broadcast. Deadlines use the
// edge's clock, origin liveness (its own heartbeat) is consulted before an encoder counts as lost, a lost encoder is
// never kicked, and stats of the same session bring a silently lost stream back to STREAMING.
import { describe, it, expect, beforeAll } from 'vitest';
import { runDurableObjectAlarm } from 'cloudflare:test';
import {
  api,
  createStream,
  createWorkspace,
  getStream,
  json,
  sendEvents as sendEventsAs,
  signedCall,
  sendHeartbeat,
  type Workspace,
} from './helpers.ts';
import { alarmOf, owedEffects, stub } from './stream-faults.ts';
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { ORIGIN_LOST_TIMEOUT_MS, ORIGIN_RECHECK_MS, initialLifecycle, reconnectWindowOver, transition } from '../../edge/lifecycle.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('liveness');
});

const STATS = {
  sourceSegments: 1, transcodedSegments: 3, sourceSegmentsDuration: 2, transcodedSegmentsDuration: 6,
  sourceBytes: 1000, transcodedBytes: 2000, ingestRate: 500, outgoingRate: 1000, isHealthy: true, issues: null,
};

let counter = 0;
/** A stats event stamped with the origin's clock, `skewMs` off the edge's. */
function stats(streamId: string, sessionId: string, skewMs = 0) {
  counter += 1;
  return { id: `evt-live-${Date.now()}-${counter}`, streamId, sessionId, type: 'stats', at: new Date(Date.now() + skewMs).toISOString(), data: STATS };
}

/** Which origin holds each stream's session: only it may send the session's events. */
const holders = new Map<string, string>();
const sendEvents = (events: ({ streamId: string } & Record<string, unknown>)[]) => sendEventsAs(events, holders.get(events[0]!.streamId));

async function publishing(originId: string, body: unknown = {}) {
  const stream = await createStream(ws, body);
  const originUrl = 'http://127.0.0.1:9';
  const grant = await json(await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', originId, originUrl }, { originId }));
  expect(grant.sessionId).toMatch(/^ses_/);
  holders.set(stream.streamId, originId);
  return { stream, sessionId: grant.sessionId as string, originId, originUrl };
}

const heartbeat = (originId: string, sessions: { streamId: string; sessionId: string }[]) => sendHeartbeat(originId, sessions);

/** The origin's last heartbeat as if heard `ms` earlier (edge clock): it has not been heard since. */
async function rewindOriginHeartbeat(originId: string, ms: number): Promise<void> {
  await env.DB.prepare('UPDATE origin_heartbeats SET heard_at = heard_at - ? WHERE origin_id = ?').bind(ms, originId).run();
}

/** The stream's silence as if it began `ms` earlier (the stored lifecycle document, edited in place). */
async function rewindSilence(streamId: string, ms: number): Promise<void> {
  await runInDurableObject(stub(streamId), (_instance, state) => {
    const row = state.storage.sql.exec<{ doc: string }>('SELECT doc FROM stream WHERE id = 1').one();
    const doc = JSON.parse(row.doc);
    doc.lifecycle.session.silentSince -= ms;
    state.storage.sql.exec('UPDATE stream SET doc = ? WHERE id = 1', JSON.stringify(doc));
  });
}

const activities = async (streamId: string) => (await getStream(ws, streamId)).activities.map((a: any) => a.event);

describe('deadlines use the edge clock, never the event time', () => {
  it.each([
    ['30 s behind', -30_000],
    ['30 s ahead', 30_000],
  ])('stats from an origin whose clock is %s set the stats deadline 10 s from the edge now', async (_name, skew) => {
    const { stream, sessionId } = await publishing(`origin-skew-${skew}`);
    const before = Date.now();
    await sendEvents([stats(stream.streamId, sessionId, skew)]);
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeGreaterThanOrEqual(before + 10_000 - 50);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 10_000 + 50);
  });

  it('the reconnect window runs from the edge now, whatever the origin clock says', async () => {
    const { stream, sessionId } = await publishing('origin-skew-window', { reconnectWindow: 60 });
    const before = Date.now();
    const late = { ...stats(stream.streamId, sessionId, -45_000), type: 'publish_done', data: { reason: 'eof' } };
    await sendEvents([late]);
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeGreaterThanOrEqual(before + 60_000 - 50);
  });
});

describe('an outage between origin and edge', () => {
  it('silent origin: DISCONNECTED without a kick; the buffered stats bring the same session back to STREAMING', async () => {
    const { stream, sessionId } = await publishing('origin-outage');
    await sendEvents([stats(stream.streamId, sessionId)]);
    // The edge hears nothing for the stats deadline (it was unreachable): the alarm finds no origin heartbeat either.
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    const lost = await getStream(ws, stream.streamId);
    expect(lost.status).toBe('DISCONNECTED');
    expect(lost.activities.at(-1).reason).toMatch(/no origin heartbeat/);
    expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toEqual([]);
    expect(await alarmOf(stream.streamId)).toBeGreaterThan(Date.now() + 50_000); // the window runs

    // The outage ends: the origin's outbox delivers the stats it held, stamped up to 60 s ago by its clock.
    const buffered = [stats(stream.streamId, sessionId, -60_000), stats(stream.streamId, sessionId, -30_000), stats(stream.streamId, sessionId)];
    const { results } = await json(await sendEvents(buffered));
    expect(results.map((r: any) => r.outcome)).toEqual(['applied', 'applied', 'applied']);
    const back = await getStream(ws, stream.streamId);
    expect(back.status).toBe('STREAMING');
    expect(back.currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    expect(await activities(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'ON_PUBLISH']);
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(alarm).toBeGreaterThan(Date.now() + 5_000);
  });

  it('stats stuck behind the outbox backoff past the window: the origin heartbeat keeps the session, no kick', async () => {
    const { stream, sessionId, originId } = await publishing('origin-backoff', { reconnectWindow: 10 });
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // stats deadline, origin not heard: silent
    expect((await getStream(ws, stream.streamId)).status).toBe('DISCONNECTED');
    await heartbeat(originId, [{ streamId: stream.streamId, sessionId }]); // the edge is reachable again
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // the window ends
    const back = await getStream(ws, stream.streamId);
    expect(back.status).toBe('STREAMING');
    expect(back.currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toEqual([]);
  });

  it('the window ends while the origin is still unheard (origin → edge cut): no stop, no kick; heard again → same session', async () => {
    // The fault suite's "edge unreachable 60 s": the origin cannot reach the edge, the edge can reach the origin. A
    // stop at the window's end would kick the encoder that is publishing fine, and every reconnect would be refused.
    const { stream, sessionId, originId } = await publishing('origin-cut', { reconnectWindow: 5 });
    await heartbeat(originId, [{ streamId: stream.streamId, sessionId }]);
    await rewindOriginHeartbeat(originId, 60_000); // its last beat is from before the cut
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // stats deadline: silent, DISCONNECTED
    expect((await getStream(ws, stream.streamId)).status).toBe('DISCONNECTED');
    for (let check = 0; check < 3; check += 1) {
      expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // the window's end, then each recheck
      expect((await getStream(ws, stream.streamId)).status).toBe('DISCONNECTED');
      expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toEqual([]);
      const alarm = (await alarmOf(stream.streamId))!;
      expect(alarm).toBeGreaterThan(Date.now());
      expect(alarm).toBeLessThanOrEqual(Date.now() + ORIGIN_RECHECK_MS + 50);
    }
    await heartbeat(originId, [{ streamId: stream.streamId, sessionId }]); // the cut ends
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    const back = await getStream(ws, stream.streamId);
    expect(back.status).toBe('STREAMING');
    expect(back.currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    expect(await activities(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'ON_PUBLISH']);
    expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toEqual([]);
  });

  it('an unheard origin is waited for at most ORIGIN_LOST_TIMEOUT_MS after the silence began; then the stream stops', () => {
    const t0 = 1_000_000;
    const lost = transition(initialLifecycle({ record: false, reconnectWindowSeconds: 5 }), {
      type: 'publish', at: t0, newSessionId: 'ses_x', originId: 'o', originUrl: 'http://o',
    });
    const silent = lost.ok && transition(lost.state, { type: 'heartbeat_lost', at: t0 + 10_000, originSilent: true });
    if (!silent || !silent.ok) throw new Error('no silent session');
    expect(silent.state.session).toMatchObject({ silent: true, silentSince: t0 + 10_000 });
    const beforeCut = { heardAt: t0, sessionIds: ['ses_x'] };
    expect(reconnectWindowOver(silent.state, beforeCut, t0 + 15_000).type).toBe('origin_unheard');
    expect(reconnectWindowOver(silent.state, null, t0 + 10_000 + ORIGIN_LOST_TIMEOUT_MS - 1).type).toBe('origin_unheard');
    expect(reconnectWindowOver(silent.state, beforeCut, t0 + 10_000 + ORIGIN_LOST_TIMEOUT_MS).type).toBe('reconnect_window_expired');
    // Heard since the silence without the session: the origin let the encoder go.
    expect(reconnectWindowOver(silent.state, { heardAt: t0 + 12_000, sessionIds: [] }, t0 + 30_000).type).toBe('reconnect_window_expired');
    const waiting = transition(silent.state, { type: 'origin_unheard', at: t0 + 10_000 + ORIGIN_LOST_TIMEOUT_MS - 1000 });
    if (!waiting.ok) throw new Error('refused');
    expect(waiting.state.status).toBe('DISCONNECTED');
    expect(waiting.effects).toEqual([]);
    expect(waiting.state.reconnectDeadline).toBe(t0 + 10_000 + ORIGIN_LOST_TIMEOUT_MS); // never past the bound
  });

  it('a silent session whose origin never returns stops once the origin counts as lost, and the origin is told to let go', async () => {
    const { stream } = await publishing('origin-gone', { reconnectWindow: 10 });
    await runDurableObjectAlarm(stub(stream.streamId)); // stats deadline: silent
    await rewindSilence(stream.streamId, ORIGIN_LOST_TIMEOUT_MS); // as if the silence began that long ago
    await runDurableObjectAlarm(stub(stream.streamId));
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toHaveLength(1); // 127.0.0.1:9 refuses
  });

  it('a recording stream heard again returns to RECORDING', async () => {
    const { stream, sessionId } = await publishing('origin-outage-rec', { record: true });
    await sendEvents([{ ...stats(stream.streamId, sessionId), type: 'recording_started', data: {} }]);
    expect((await getStream(ws, stream.streamId)).status).toBe('RECORDING');
    await runDurableObjectAlarm(stub(stream.streamId));
    expect((await getStream(ws, stream.streamId)).status).toBe('DISCONNECTED');
    await sendEvents([stats(stream.streamId, sessionId)]);
    expect((await getStream(ws, stream.streamId)).status).toBe('RECORDING');
  });

  it('the origin heartbeat vouches for a session whose stats are late: no transition, the deadline moves on', async () => {
    const { stream, sessionId, originId } = await publishing('origin-vouching');
    const beat = await heartbeat(originId, [{ streamId: stream.streamId, sessionId }]);
    expect(beat.status).toBe(200);
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
    expect(await activities(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH']);
    expect(await alarmOf(stream.streamId)).toBeGreaterThan(Date.now() + 5_000);
  });

  it('an origin alive without the session: the encoder is lost (still no kick)', async () => {
    const { stream, originId } = await publishing('origin-dropped');
    await heartbeat(originId, []);
    await runDurableObjectAlarm(stub(stream.streamId));
    const lost = await getStream(ws, stream.streamId);
    expect(lost.status).toBe('DISCONNECTED');
    expect(lost.activities.at(-1).reason).toMatch(/no longer holds/);
    expect((await owedEffects(stream.streamId)).filter((k) => k.startsWith('kick:'))).toEqual([]);
  });

  it('after STOPPED, stats of the old session do not revive it', async () => {
    const { stream, sessionId, originId } = await publishing('origin-stopped', { reconnectWindow: 10 });
    await runDurableObjectAlarm(stub(stream.streamId)); // stats deadline: DISCONNECTED
    await heartbeat(originId, []); // the origin is heard again without the session
    await runDurableObjectAlarm(stub(stream.streamId)); // window: STOPPED
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    await sendEvents([stats(stream.streamId, sessionId)]);
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
  });

  it('refuses a malformed heartbeat', async () => {
    const response = await signedCall('/internal/origins/heartbeat', { originId: '', sessions: 'all' });
    expect(response.status).toBe(400);
    const listed = await api(ws, 'GET', '/live/streams?limit=1');
    expect(listed.status).toBe(200);
  });
});
