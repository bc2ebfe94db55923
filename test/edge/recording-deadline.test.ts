// Issue 10 #8 (edge part): a recording whose origin never reports (its disk is gone) is failed after a deadline, with a
// reason, and the stream waiting on it for COMPLETED goes to ERROR saying so, instead of "processing" forever.
import { describe, it, expect, beforeAll } from 'vitest';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { authorize, createStream, createWorkspace, getStream, json, originEvent, sendEvents, type Workspace } from './helpers.ts';
import { alarmOf, recordingOf, setObjectVar, stub } from './stream-faults.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('recording-deadline');
});

const recordingIdOf = (sessionId: string) => `rec_${sessionId.replace(/^ses_/, '')}`;

/** A recorded broadcast whose encoder left and whose window ran out: STOPPED, the recording processing. */
async function stoppedWithRecording(window = 10) {
  const stream = await createStream(ws, { record: true, reconnectWindow: window });
  const grant = await json(await authorize(stream.streamKey));
  await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'origin lost' })]);
  return { stream, sessionId: grant.sessionId as string };
}

describe('recording finalization deadline', () => {
  it('STOPPED waits 15 minutes by default for the recording, then fails it and the stream says why', async () => {
    const { stream, sessionId } = await stoppedWithRecording();
    await runDurableObjectAlarm(stub(stream.streamId)); // the window ends
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    const object = stub(stream.streamId);
    expect((await recordingOf(stream.streamId, ws.id, recordingIdOf(sessionId)))?.recordingStatus).toBe('processing');
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 15 * 60_000);

    expect(await runDurableObjectAlarm(object)).toBe(true); // 15 minutes later: nobody reported
    const recording = await recordingOf(stream.streamId, ws.id, recordingIdOf(sessionId));
    expect(recording).toMatchObject({ recordingStatus: 'failed', error: 'finalization timed out: origin lost', queued: false });
    const errored = await getStream(ws, stream.streamId);
    expect(errored).toMatchObject({ status: 'ERROR', errorReason: 'recording failed: finalization timed out: origin lost' });
    expect(errored.activities.at(-1)).toMatchObject({ event: 'ERROR', streamStatus: 'ERROR' });
    expect(await alarmOf(stream.streamId)).toBeNull(); // nothing left to wait for
  });

  it('the deadline comes from RECORDING_FINALIZE_TIMEOUT_SECONDS', async () => {
    const { stream } = await stoppedWithRecording();
    await setObjectVar(stream.streamId, 'RECORDING_FINALIZE_TIMEOUT_SECONDS', '30');
    await runDurableObjectAlarm(stub(stream.streamId)); // the window ends
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    const alarm = (await alarmOf(stream.streamId))!;
    expect(alarm).toBeGreaterThan(Date.now() + 20_000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('a recording ready in time completes the stream and cancels the deadline', async () => {
    const { stream, sessionId } = await stoppedWithRecording();
    await runDurableObjectAlarm(stub(stream.streamId));
    const artifacts = {
      duration: 10, size: 1000, hlsPrefix: 'r/hls', mp4Key: 'r/recording.mp4', screenshotKey: 'r/thumb.jpg',
      mediaInfo: { duration: 10, size: 1000, bitrate: null, video: null, audio: null },
    };
    await sendEvents([originEvent(stream.streamId, sessionId, 'recording_ready', artifacts)]);
    expect((await getStream(ws, stream.streamId)).status).toBe('COMPLETED');
    expect(await alarmOf(stream.streamId)).toBeNull();
  });

  it('a recording that turns up after the timeout still completes the stream', async () => {
    const { stream, sessionId } = await stoppedWithRecording();
    await runDurableObjectAlarm(stub(stream.streamId));
    await runDurableObjectAlarm(stub(stream.streamId));
    expect((await getStream(ws, stream.streamId)).status).toBe('ERROR');
    const artifacts = {
      duration: 10, size: 1000, hlsPrefix: 'r/hls', mp4Key: 'r/recording.mp4', screenshotKey: 'r/thumb.jpg',
      mediaInfo: { duration: 10, size: 1000, bitrate: null, video: null, audio: null },
    };
    await sendEvents([originEvent(stream.streamId, sessionId, 'recording_ready', artifacts)]);
    expect((await getStream(ws, stream.streamId)).status).toBe('COMPLETED');
    expect((await recordingOf(stream.streamId, ws.id, recordingIdOf(sessionId)))?.recordingStatus).toBe('ready');
  });
});
