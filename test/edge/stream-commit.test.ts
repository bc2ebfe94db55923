// Issue 10 #6 and the object's part of #9: a failure between the StreamObject's commit and its side effects never
// strands a stream (the alarm is set with the commit and redoes what is owed), concurrent requests act on the state
// one at a time (one transition, one webhook id per event), and a backlog of large webhook events leaves the outbox
// in batches the Queue accepts.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import {
  api,
  authorize,
  createStream,
  createWorkspace,
  getStream,
  json,
  originEvent,
  sendEvents,
  signedCall,
  sendHeartbeat,
  ORIGIN,
  type Workspace,
} from './helpers.ts';
import { sha256Hex } from '../../shared/identifiers.ts';
import { alarmOf, faultyD1, faultyQueue, outboxDepth, owedEffects, receivedWebhooks, recordingOf, slowD1, stub } from './stream-faults.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('commit');
});

const WAITING = new Set(['STREAMING', 'RECORDING', 'DISCONNECTED']);

/** The invariant: a stream in a waiting state always has an alarm. */
async function expectAlarmIfWaiting(streamId: string) {
  const status = (await getStream(ws, streamId)).status as string;
  if (WAITING.has(status)) expect(await alarmOf(streamId), `${status} without an alarm`).not.toBeNull();
  return status;
}

const FINAL = { renditions: 1, segments: 5, duration: 10, final: true };

/**
 * STOPPED with the recording processing: its origin is healthy and took the finalize command (the control port's
 * stand-in answers 200), the session's media is in R2, and the edge waits for media_durable final.
 */
async function stoppedRecordedStream() {
  const stream = await createStream(ws, { record: true, reconnectWindow: 1 });
  const grant = await json(await authorize(stream.streamKey));
  await env.MEDIA.put(`live/${stream.streamId}/${grant.sessionId}/master.m3u8`, '#EXTM3U\n');
  await sendHeartbeat(ORIGIN.originId, [{ streamId: stream.streamId, sessionId: grant.sessionId }]);
  await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' })]);
  await runDurableObjectAlarm(stub(stream.streamId)); // the window ends: STOPPED, recording processing
  expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
  return { stream, sessionId: grant.sessionId as string };
}

describe('a failure between commit and side effects', () => {
  it('D1 fails right after a publish commits: the stream still has its alarm, and the index catches up from it', async () => {
    const stream = await createStream(ws);
    const d1 = await faultyD1(stream.streamId);
    d1.failNext = 1;
    const grant = await authorize(stream.streamKey);
    expect(grant.status).toBe(200);
    expect(await expectAlarmIfWaiting(stream.streamId)).toBe('STREAMING');
    expect(await owedEffects(stream.streamId)).toContain('stream_index');

    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // the retry
    const row = await env.DB.prepare('SELECT status FROM streams WHERE id = ?').bind(stream.streamId).first<{ status: string }>();
    expect(row?.status).toBe('STREAMING');
    expect(await owedEffects(stream.streamId)).toEqual([]);

    // Not stranded: the stats deadline, then the window, end it; live-enable makes it publishable again.
    await runDurableObjectAlarm(stub(stream.streamId));
    expect(await expectAlarmIfWaiting(stream.streamId)).toBe('DISCONNECTED');
    await sendHeartbeat(ORIGIN.originId, []); // heard again, without the session
    await runDurableObjectAlarm(stub(stream.streamId));
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    await api(ws, 'PUT', `/live/streams/${stream.streamId}/live-enable`);
    expect((await authorize(stream.streamKey)).status).toBe(200);
  });

  it('the Queue refuses once: the event stays in the outbox, the alarm sends it, with its one id', async () => {
    const stream = await createStream(ws, { reconnectWindow: 30 });
    const queue = await faultyQueue(stream.streamId);
    queue.failNext = 1;
    const grant = await json(await authorize(stream.streamKey));
    expect(await outboxDepth(stream.streamId)).toBe(1);
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeLessThanOrEqual(Date.now() + 10_000);

    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    expect(await outboxDepth(stream.streamId)).toBe(0);
    const received = await receivedWebhooks(stream.streamId, 2);
    expect(received.map((e) => e.event)).toEqual(['CREATED', 'ON_PUBLISH']);
    expect(received[1]!.sessionId).toBe(grant.sessionId);
    expect(await expectAlarmIfWaiting(stream.streamId)).toBe('STREAMING');
  });

  it('every waiting state keeps an alarm through a whole broadcast while D1 is down', async () => {
    const stream = await createStream(ws, { reconnectWindow: 10 });
    const d1 = await faultyD1(stream.streamId);
    d1.failAll = true;
    const grant = await json(await authorize(stream.streamKey));
    await expectAlarmIfWaiting(stream.streamId);
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' })]);
    expect(await expectAlarmIfWaiting(stream.streamId)).toBe('DISCONNECTED');
    await authorize(stream.streamKey);
    expect(await expectAlarmIfWaiting(stream.streamId)).toBe('STREAMING');
    d1.failAll = false;
    await runDurableObjectAlarm(stub(stream.streamId));
    const row = await env.DB.prepare('SELECT status FROM streams WHERE id = ?').bind(stream.streamId).first<{ status: string }>();
    expect(row?.status).toBe('STREAMING');
  });
});

describe('concurrent requests', () => {
  let originFetch: MockInstance<typeof fetch>;
  beforeAll(() => {
    originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(null, { status: 200 }));
  });
  afterAll(() => originFetch.mockRestore());

  it('the same event delivered three times at once: one transition, one webhook, one id', async () => {
    const { stream, sessionId } = await stoppedRecordedStream();
    const event = originEvent(stream.streamId, sessionId, 'media_durable', FINAL);
    await slowD1(stream.streamId, 30);
    const object = stub(stream.streamId);
    const outcomes = await Promise.all([0, 1, 2].map(() => object.applyOriginEvents([event as never])));
    expect(outcomes.flat().map((o) => o.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    const events = (await getStream(ws, stream.streamId)).activities.map((a: any) => a.event);
    expect(events.filter((e: string) => e === 'RECORDING_READY')).toHaveLength(1);
    expect(events.filter((e: string) => e === 'COMPLETED')).toHaveLength(1);
    const received = await receivedWebhooks(stream.streamId, events.length);
    expect(received.filter((e) => e.event === 'RECORDING_READY')).toHaveLength(1);
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
  });

  it('media made final as its deadline passes: one RECORDING_READY, the final status and the recording agree', async () => {
    const { stream, sessionId } = await stoppedRecordedStream();
    await slowD1(stream.streamId, 30);
    const object = stub(stream.streamId);
    const final = originEvent(stream.streamId, sessionId, 'media_durable', FINAL);
    await Promise.all([object.applyOriginEvents([final as never]), runDurableObjectAlarm(object)]);
    const recordingId = `rec_${sessionId.replace(/^ses_/, '')}`;
    await vi.waitFor(async () => expect((await recordingOf(stream.streamId, ws.id, recordingId))?.recordingStatus).toBe('ready'));
    const after = await getStream(ws, stream.streamId);
    expect(after.status).toBe('COMPLETED');
    expect(after.activities.filter((a: any) => a.event === 'RECORDING_READY')).toHaveLength(1);
    expect(after.activities.at(-1).streamStatus).toBe(after.status);
  });

  it('publish and complete at once: one consistent outcome, and the D1 index ends where the object does', async () => {
    const stream = await createStream(ws);
    await slowD1(stream.streamId, 30);
    const object = stub(stream.streamId);
    const keyHash = await sha256Hex(stream.streamKey);
    const [published, completed] = await Promise.all([
      object.authorize({ keyHash, protocol: 'rtmp', originId: 'origin-test', originUrl: 'http://127.0.0.1:9' }),
      object.complete(ws.id),
    ]);
    expect(published.ok).toBe(true);
    const final = await getStream(ws, stream.streamId);
    expect(final.status).toBe(completed.ok ? 'STOPPED' : 'STREAMING');
    await expectAlarmIfWaiting(stream.streamId);
    const events = final.activities.map((a: any) => a.event);
    expect(events.filter((e: string) => e === 'ON_PUBLISH')).toHaveLength(1);
    const row = await env.DB.prepare('SELECT status FROM streams WHERE id = ?').bind(stream.streamId).first<{ status: string }>();
    expect(row?.status).toBe(final.status);
  });
});

describe('webhook outbox backlog (issue 10 #9, object part)', () => {
  const bigMetadata = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`key_${i}`, 'x'.repeat(512)]));

  it('a backlog of ~30 KB events larger than one Queue batch leaves in several batches, in order', async () => {
    const stream = await createStream(ws, { metadata: bigMetadata });
    const queue = await faultyQueue(stream.streamId);
    queue.failAll = true;
    for (let i = 0; i < 14; i++) {
      expect((await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { reconnectWindow: 20 + i })).status).toBe(200);
    }
    expect(await outboxDepth(stream.streamId)).toBe(14);
    queue.failAll = false;
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    expect(await outboxDepth(stream.streamId)).toBe(0);
    const received = await receivedWebhooks(stream.streamId, 15);
    expect(received.map((e) => e.sequence)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(received.at(-1)!.data.metadata).toEqual(bigMetadata);
  });

  it('one body over the message limit is trimmed and sent; it never holds back the events after it', async () => {
    const stream = await createStream(ws);
    const queue = await faultyQueue(stream.streamId);
    queue.failAll = true;
    await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { reconnectWindow: 21 });
    await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { reconnectWindow: 22 });
    // Make the first pending event far larger than a Queue message may be.
    await runInDurableObject(stub(stream.streamId), (_o, state) => {
      const row = state.storage.sql.exec<{ sequence: number; body: string }>('SELECT sequence, body FROM webhook_outbox ORDER BY sequence LIMIT 1').one();
      const body = JSON.parse(row.body);
      body.reason = 'r'.repeat(300_000);
      state.storage.sql.exec('UPDATE webhook_outbox SET body = ? WHERE sequence = ?', JSON.stringify(body), row.sequence);
    });
    queue.failAll = false;
    await runDurableObjectAlarm(stub(stream.streamId));
    expect(await outboxDepth(stream.streamId)).toBe(0);
    const received = await receivedWebhooks(stream.streamId, 3);
    expect(received.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(received[1]!.reason!.length).toBeLessThan(2000);
    expect(received[1]!.event).toBe('UPDATED');
  });
});
