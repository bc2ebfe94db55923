// Issue 11 deadlines of a stopped session's recording: it waits for the holding origin to make the media final only
// RECORDING_WATCHABLE_TIMEOUT_SECONDS (8 s by default), then plays from what R2 holds; its MP4 export job then has
// RECORDING_FINALIZE_TIMEOUT_SECONDS (15 minutes by default) without word from its origin before it is handed out again.
// The origin's control port is a stand-in at the network boundary that accepts every command.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { ORIGIN, authorize, createStream, createWorkspace, getStream, json, originEvent, sendEvents, sendHeartbeat, type Workspace } from './helpers.ts';
import { alarmOf, exportDeadlineOf, recordingOf, setObjectVar, stub } from './stream-faults.ts';
import { EXPORT_LIVENESS_CHECK_MS } from '../../edge/stream/recording-flow.ts';

let originFetch: MockInstance<typeof fetch>;
beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(null, { status: 202 }));
});
afterAll(() => originFetch.mockRestore());

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('recording-deadline');
});

const recordingIdOf = (sessionId: string) => `rec_${sessionId.replace(/^ses_/, '')}`;

/**
 * A recorded broadcast with durable media whose encoder left, its origin healthy (so the edge waits for it); the
 * window is then run out: STOPPED, the recording processing.
 */
async function stoppedWithRecording(setup?: (streamId: string) => Promise<void>) {
  // A window shorter than the wait: the alarm run early for the window counts as run at the window's end.
  const stream = await createStream(ws, { record: true, reconnectWindow: 1 });
  const grant = await json(await authorize(stream.streamKey));
  const sessionId = grant.sessionId as string;
  await env.MEDIA.put(`live/${stream.streamId}/${sessionId}/master.m3u8`, '#EXTM3U\n');
  await sendHeartbeat(ORIGIN.originId, [{ streamId: stream.streamId, sessionId }]);
  await sendEvents([originEvent(stream.streamId, sessionId, 'publish_done', { reason: 'encoder left' })]);
  await setup?.(stream.streamId);
  await runDurableObjectAlarm(stub(stream.streamId)); // the window ends
  expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
  return { stream, sessionId, recordingId: recordingIdOf(sessionId) };
}

describe('recording deadlines', () => {
  it('STOPPED waits 8 s by default for the media to be made final, then the recording plays from R2', async () => {
    const { stream, recordingId } = await stoppedWithRecording();
    expect((await recordingOf(stream.streamId, ws.id, recordingId))?.recordingStatus).toBe('processing');
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeGreaterThan(Date.now() + 5_000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 8_000);
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true); // 8 s later: the origin never said final
    await vi.waitFor(async () => expect(await recordingOf(stream.streamId, ws.id, recordingId)).toMatchObject({ recordingStatus: 'ready', watchable: true }));
    expect((await getStream(ws, stream.streamId)).status).toBe('COMPLETED');
  });

  it('the wait comes from RECORDING_WATCHABLE_TIMEOUT_SECONDS', async () => {
    const { stream } = await stoppedWithRecording((streamId) => setObjectVar(streamId, 'RECORDING_WATCHABLE_TIMEOUT_SECONDS', '3'));
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeLessThanOrEqual(Date.now() + 3_000);
  });

  it('media made final in time completes the stream; then the export job has 15 minutes to be heard from', async () => {
    const { stream, sessionId, recordingId } = await stoppedWithRecording();
    await sendEvents([originEvent(stream.streamId, sessionId, 'media_durable', { renditions: 1, segments: 5, duration: 10, final: true })]);
    expect((await getStream(ws, stream.streamId)).status).toBe('COMPLETED');
    await vi.waitFor(async () => expect((await recordingOf(stream.streamId, ws.id, recordingId))?.exportProgress).toBe(0));
    const deadline = await exportDeadlineOf(stream.streamId);
    expect(deadline).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    // Meanwhile the alarm looks at the job's origin every few seconds (a dead one loses the job at once).
    expect((await alarmOf(stream.streamId))!).toBeLessThanOrEqual(Date.now() + EXPORT_LIVENESS_CHECK_MS);
  });
});
