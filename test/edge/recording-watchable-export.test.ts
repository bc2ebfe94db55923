// Issue 11, recordings at the edge: a recording is watchable from the session's durable media within seconds of
// STOPPED (media_durable final, or at once when the holding origin is silent, or at the deadline), its MP4 export is a
// job handed to the holding origin if healthy else any origin with capacity (retried, bounded), reported on only by
// that origin, and a failed export never takes the recording or the stream down. The origins' control ports are played
// by a stand-in at the network boundary (globalThis.fetch), which records every command the edge sends.
import { describe, it, expect, beforeAll, beforeEach, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import {
  ORIGIN,
  api,
  call,
  createStream,
  createWorkspace,
  getStream,
  json,
  originEvent,
  sendHeartbeat,
  signedCall,
  type Workspace,
} from './helpers.ts';
import { standInControlPorts } from './control-ports.ts';
import { alarmOf, exportDeadlineOf, owedEffects, receivedWebhooks, recordingOf, setObjectVar, stub } from './stream-faults.ts';
import { ExportRecordingCommand } from '../../shared/schemas/internal.ts';
import { verifyMediaGrant } from '../../shared/media-grant.ts';
import { EXPORT_DISPATCH_ATTEMPTS, NO_ORIGIN_FOR_EXPORT, NOT_HOLDER } from '../../edge/stream/recording-flow.ts';

const MASTER = 'test-origin-secret';
const OTHER = { originId: 'origin-other', originUrl: 'http://127.0.0.2:9' };

/** Every command the edge sent an origin, and what each origin (by host) answers for each path (default 200). */
const { commands, answers } = standInControlPorts(200);
beforeEach(() => {
  answers.clear();
});

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('recording-flow');
});

const sent = (path: string, streamId: string) => commands.filter((c) => c.path === path && c.body?.streamId === streamId);

function events(originId: string, list: unknown[]) {
  return signedCall('/internal/events', { events: list }, { originId });
}

/** A recorded broadcast on ORIGIN with some durable media in R2; the origin heartbeats (healthy) unless told not to. */
async function recordedBroadcast(options: { healthy?: boolean; media?: boolean } = {}) {
  const stream = await createStream(ws, { record: true, reconnectWindow: 30 });
  const grant = await json(await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN }));
  const sessionId = grant.sessionId as string;
  if (options.healthy ?? true) await sendHeartbeat(ORIGIN.originId, [{ streamId: stream.streamId, sessionId }]);
  else await env.DB.prepare('UPDATE origin_heartbeats SET heard_at = heard_at - 60000 WHERE origin_id = ?').bind(ORIGIN.originId).run();
  await events(ORIGIN.originId, [originEvent(stream.streamId, sessionId, 'recording_started')]);
  const prefix = `live/${stream.streamId}/${sessionId}`;
  if (options.media ?? true) {
    await env.MEDIA.put(`${prefix}/master.m3u8`, '#EXTM3U\n');
    await env.MEDIA.put(`${prefix}/720p/index.m3u8`, '#EXTM3U\n#EXT-X-ENDLIST\n');
    await env.MEDIA.put(`${prefix}/720p/a1b2c3-00000.ts`, 'segment bytes');
  }
  return { stream, streamId: stream.streamId as string, sessionId, prefix, recordingId: `rec_${sessionId.replace(/^ses_/, '')}` };
}

const durable = (streamId: string, sessionId: string, final = true) =>
  originEvent(streamId, sessionId, 'media_durable', { renditions: 2, segments: 10, duration: 20.2, final });

const artifacts = (recordingId: string) => ({
  duration: 20.1,
  size: 1_234_567,
  mediaInfo: { duration: 20.1, size: 1_234_567, bitrate: 490_000, video: { codec: 'h264', width: 1280, height: 720, fps: 30, profile: 'High' }, audio: null },
  hlsPrefix: `recordings/${recordingId}/hls`,
  mp4Key: `recordings/${recordingId}/recording.mp4`,
  screenshotKey: `recordings/${recordingId}/screenshot.jpg`,
});

async function playbackPrefix(playbackId: string): Promise<string | null> {
  const row = await env.DB.prepare('SELECT media_prefix FROM playback_ids WHERE id = ?').bind(playbackId).first<{ media_prefix: string | null }>();
  return row?.media_prefix ?? null;
}

describe('watchable', () => {
  it('STOPPED asks the holding origin to finalize; media_durable final makes it watchable, recording.ready, COMPLETED', async () => {
    const b = await recordedBroadcast();
    const stoppedAt = Date.now();
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(() => expect(sent('/control/finalize', b.streamId)).toHaveLength(1));
    expect(sent('/control/finalize', b.streamId)[0]).toMatchObject({ host: '127.0.0.1:9', body: { sessionId: b.sessionId } });
    const waiting = (await recordingOf(b.streamId, ws.id, b.recordingId))!;
    expect(waiting).toMatchObject({ recordingStatus: 'processing', watchable: false, exportable: false, recordingUrl: null });
    expect((await getStream(ws, b.streamId)).status).toBe('STOPPED');

    const outcome = await json(await events(ORIGIN.originId, [durable(b.streamId, b.sessionId)]));
    expect(outcome.results[0].outcome).toBe('applied');
    const recording = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(recording).toMatchObject({
      recordingStatus: 'ready', watchable: true, exportable: false, duration: 20.2, mp4Url: null, cleanable: false, cleaned: false, expiresAt: null,
    });
    expect(recording.recordingUrl).toBe(`http://edge.test/hls/${recording.playbackId}/master.m3u8`); // absolute, on the host called
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(await playbackPrefix(recording.playbackId)).toBe(b.prefix);
    const stream = await getStream(ws, b.streamId);
    expect(stream.status).toBe('COMPLETED');
    expect(stream.activities.map((a: any) => a.event).slice(-3)).toEqual(['STOPPED', 'RECORDING_READY', 'COMPLETED']);
    const hooks = await receivedWebhooks(b.streamId, 6);
    expect(hooks.find((h) => h.event === 'RECORDING_READY')).toBeDefined();
  });

  it('a silent holding origin is not waited for: watchable at once from what R2 holds', async () => {
    const b = await recordedBroadcast({ healthy: false });
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    expect(sent('/control/finalize', b.streamId)).toHaveLength(0);
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
  });

  it('an origin that never says final is waited for only until the deadline (8 s by default)', async () => {
    const b = await recordedBroadcast();
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    const alarm = (await alarmOf(b.streamId))!;
    expect(alarm).toBeLessThanOrEqual(Date.now() + 8_000);
    expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(false);
    await runDurableObjectAlarm(stub(b.streamId));
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
  });

  it('a session with no media in R2 fails its recording and the stream says why', async () => {
    const b = await recordedBroadcast({ healthy: false, media: false });
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.recordingStatus).toBe('failed'), { timeout: 5000 });
    expect(await getStream(ws, b.streamId)).toMatchObject({ status: 'ERROR', errorReason: 'recording failed: no media of the session reached storage' });
    // Media turns up later (an origin back from the dead uploads it): retry finds it.
    await env.MEDIA.put(`${b.prefix}/master.m3u8`, '#EXTM3U\n');
    const retried = await api(ws, 'POST', `/recordings/${b.recordingId}/retry`);
    expect(retried.status).toBe(200);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
  });
});

/** A watchable recording of a broadcast whose holding origin is healthy and took the export job. */
async function exporting() {
  const b = await recordedBroadcast();
  await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
  await events(ORIGIN.originId, [durable(b.streamId, b.sessionId)]);
  await vi.waitFor(() => expect(sent('/control/export-recording', b.streamId)).toHaveLength(1));
  await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportProgress).toBe(0));
  return b;
}

describe('export', () => {
  it('is handed to the healthy holding origin with a grant for its output and the session media; progress, then exportable', async () => {
    const b = await exporting();
    const [command] = sent('/control/export-recording', b.streamId);
    expect(command!.host).toBe('127.0.0.1:9');
    const body = ExportRecordingCommand.parse(command!.body);
    expect(body).toMatchObject({ recordingId: b.recordingId, sessionId: b.sessionId, outputPrefix: `recordings/${b.recordingId}` });
    expect(body.durablePrefix.replace(/\/$/, '')).toBe(b.prefix);
    const now = Date.now();
    expect((await verifyMediaGrant(MASTER, body.mediaGrant, ORIGIN.originId, `recordings/${b.recordingId}/recording.mp4`, now)).ok).toBe(true);
    expect((await verifyMediaGrant(MASTER, body.mediaGrant, ORIGIN.originId, `${b.prefix}/720p/a1b2c3-00000.ts`, now)).ok).toBe(true);
    expect((await verifyMediaGrant(MASTER, body.mediaGrant, OTHER.originId, `recordings/${b.recordingId}/recording.mp4`, now)).ok).toBe(false);
    expect((await verifyMediaGrant(MASTER, body.mediaGrant, ORIGIN.originId, `recordings/rec_other/recording.mp4`, now)).ok).toBe(false);
    expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ watchable: true, exportable: false, exportProgress: 0, queued: true });

    await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_progress', { recordingId: b.recordingId, progress: 0.4 })]);
    expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportProgress).toBe(0.4);
    const done = await json(await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(done.results[0].outcome).toBe('applied');
    const recording = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(recording).toMatchObject({ watchable: true, exportable: true, exportProgress: 1, queued: false, size: 1_234_567, duration: 20.1, error: null });
    expect(recording.mp4Url).toBe(`http://edge.test/hls/${recording.playbackId}/recording.mp4`);
    expect(recording.mediaInfo.video).toMatchObject({ width: 1280 });
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
  });

  it('job events from an origin the job did not go to are refused', async () => {
    const b = await exporting();
    const foreign = [
      originEvent(b.streamId, b.sessionId, 'recording_progress', { recordingId: b.recordingId, progress: 0.9 }),
      originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId)),
      originEvent(b.streamId, b.sessionId, 'recording_failed', { reason: 'not mine' }),
    ];
    const answer = await json(await events(OTHER.originId, foreign));
    expect(answer.results.map((r: any) => [r.outcome, r.reason])).toEqual([
      ['refused', NOT_HOLDER],
      ['refused', NOT_HOLDER],
      ['refused', NOT_HOLDER],
    ]);
    expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ exportable: false, exportProgress: 0, error: null });
  });

  it('a failed export leaves the recording watchable and the stream COMPLETED; retry hands it out again', async () => {
    const b = await exporting();
    await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_failed', { reason: 'ffmpeg exited 1' })]);
    const failed = (await recordingOf(b.streamId, ws.id, b.recordingId))!;
    expect(failed).toMatchObject({ watchable: true, exportable: false, error: 'ffmpeg exited 1', recordingStatus: 'ready', queued: false });
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
    expect((await api(ws, 'POST', `/recordings/${b.recordingId}/retry`)).status).toBe(200);
    await vi.waitFor(() => expect(sent('/control/export-recording', b.streamId)).toHaveLength(2));
    await vi.waitFor(async () => expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ exportProgress: 0, error: null }));
    // Not failed any more: nothing to retry.
    expect((await api(ws, 'POST', `/recordings/${b.recordingId}/retry`)).status).toBe(409);
  });

  it('goes to another origin when the holder is silent; a refused dispatch is retried (the alarm), and only that origin speaks for the job', async () => {
    const b = await recordedBroadcast({ healthy: false });
    // The only other origin answers 503: no origin takes the job.
    await signedCall('/internal/origins/heartbeat', {
      originId: OTHER.originId, originUrl: OTHER.originUrl, region: 'local', ingestHost: '127.0.0.1', ports: { rtmp: 1935, rtmps: null, srt: null },
      hlsUrl: OTHER.originUrl, capacity: { units: 4 }, load: { units: 0, sessions: 0 }, draining: false, sessions: [],
    }, { originId: OTHER.originId });
    answers.set('127.0.0.2:9/control/export-recording', 503);
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    await vi.waitFor(() => expect(sent('/control/export-recording', b.streamId).length).toBeGreaterThanOrEqual(1));
    expect(sent('/control/export-recording', b.streamId).every((c) => c.host === '127.0.0.2:9')).toBe(true);
    await vi.waitFor(async () => expect(await owedEffects(b.streamId)).toContain(`recording_export:${b.recordingId}`));
    expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportable).toBe(false);

    // The other origin takes it on a later attempt (the alarm is the retry).
    answers.set('127.0.0.2:9/control/export-recording', 202);
    await runDurableObjectAlarm(stub(b.streamId));
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportProgress).toBe(0));
    const taken = sent('/control/export-recording', b.streamId).at(-1)!;
    expect((await verifyMediaGrant(MASTER, taken.body.mediaGrant, OTHER.originId, `recordings/${b.recordingId}/recording.mp4`, Date.now())).ok).toBe(true);
    // Now only that origin speaks for the job, not the session's holder.
    const holder = await json(await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(holder.results[0]).toMatchObject({ outcome: 'refused', reason: NOT_HOLDER });
    const other = await json(await events(OTHER.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(other.results[0].outcome).toBe('applied');
    expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportable).toBe(true);
  });

  it('with no origin at all the dispatch is retried a bounded number of times, then the export fails', async () => {
    await env.DB.prepare("UPDATE origin_heartbeats SET heard_at = heard_at - 60000").run();
    await env.DB.prepare("UPDATE origins SET announced_at = announced_at - 60000 WHERE announced_at IS NOT NULL").run();
    const b = await recordedBroadcast({ healthy: false });
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    for (let i = 0; i < EXPORT_DISPATCH_ATTEMPTS + 2; i++) {
      await vi.waitFor(async () => expect(await alarmOf(b.streamId)).not.toBeNull());
      await runDurableObjectAlarm(stub(b.streamId));
      if ((await recordingOf(b.streamId, ws.id, b.recordingId))?.error) break;
    }
    expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ watchable: true, exportable: false, error: NO_ORIGIN_FOR_EXPORT, queued: false });
    expect(await owedEffects(b.streamId)).not.toContain(`recording_export:${b.recordingId}`);
    expect(sent('/control/export-recording', b.streamId)).toHaveLength(0);
    expect((await getStream(ws, b.streamId)).status).toBe('COMPLETED');
  });

  it('an export no origin has taken yet is the session holder\'s to report; no other origin\'s', async () => {
    answers.set('127.0.0.1:9/control/export-recording', 503);
    answers.set('127.0.0.2:9/control/export-recording', 503);
    const b = await recordedBroadcast({ healthy: false });
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    const other = await json(await events(OTHER.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(other.results[0]).toMatchObject({ outcome: 'refused', reason: NOT_HOLDER });
    const holder = await json(await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(holder.results[0].outcome).toBe('applied');
    expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ exportable: true, exportProgress: 1 });
  });

  it('a job that goes silent past RECORDING_FINALIZE_TIMEOUT_SECONDS is handed out again', async () => {
    const b = await exporting();
    await setObjectVar(b.streamId, 'RECORDING_FINALIZE_TIMEOUT_SECONDS', '60');
    await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_progress', { recordingId: b.recordingId, progress: 0.2 })]);
    const deadline = await exportDeadlineOf(b.streamId);
    expect(deadline).toBeGreaterThan(Date.now() + 50_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 60_000);
    // Its origin still heartbeats: a look at it from the alarm leaves the job there.
    await sendHeartbeat(ORIGIN.originId, []);
    await runDurableObjectAlarm(stub(b.streamId));
    expect(sent('/control/export-recording', b.streamId)).toHaveLength(1);
    // 60 s later, not heard from: the next alarm hands it out again.
    await runInDurableObject(stub(b.streamId), (_o, state) => state.storage.sql.exec('UPDATE recordings SET export_deadline = ?', Date.now() - 1));
    await runDurableObjectAlarm(stub(b.streamId));
    await vi.waitFor(() => expect(sent('/control/export-recording', b.streamId)).toHaveLength(2));
  });
});

describe('export on an origin that restarted at once (its heartbeat lists its jobs)', () => {
  /** Moves the running job's dispatch back in time, as if `ms` had passed since the edge handed it out. */
  const dispatchedAgo = (streamId: string, ms: number) =>
    runInDurableObject(stub(streamId), (_o, state) => state.storage.sql.exec("UPDATE recordings SET export_dispatched_at = ? WHERE export_status = 'running'", Date.now() - ms));

  it('a beat more than 10 s after the dispatch that does not list the job hands it out again; one that lists it does not', async () => {
    const b = await exporting();
    // Within 10 s of the dispatch a beat may predate the job: not listing it proves nothing.
    await sendHeartbeat(ORIGIN.originId, [], { jobs: [] });
    await runDurableObjectAlarm(stub(b.streamId));
    expect(sent('/control/export-recording', b.streamId)).toHaveLength(1);
    // 11 s after the dispatch, the origin lists the job: it stays.
    await dispatchedAgo(b.streamId, 11_000);
    await sendHeartbeat(ORIGIN.originId, [], { jobs: ['clip_other', b.recordingId] });
    await runDurableObjectAlarm(stub(b.streamId));
    expect(sent('/control/export-recording', b.streamId)).toHaveLength(1);
    expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ exportProgress: 0, error: null });
    // Then a beat without it (the origin was SIGKILLed and came back at once): handed out again, to the same healthy
    // origin, which may report on the new job.
    await sendHeartbeat(ORIGIN.originId, [], { jobs: ['clip_other'] });
    await runDurableObjectAlarm(stub(b.streamId));
    await vi.waitFor(() => expect(sent('/control/export-recording', b.streamId)).toHaveLength(2));
    expect(sent('/control/export-recording', b.streamId).at(-1)!.host).toBe('127.0.0.1:9');
    await vi.waitFor(async () => expect(await recordingOf(b.streamId, ws.id, b.recordingId)).toMatchObject({ exportProgress: 0, queued: true }));
    const done = await json(await events(ORIGIN.originId, [originEvent(b.streamId, b.sessionId, 'recording_ready', artifacts(b.recordingId))]));
    expect(done.results[0].outcome).toBe('applied');
    expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.exportable).toBe(true);
  });

  it('an origin whose beats do not list jobs at all is trusted until its deadline', async () => {
    const b = await exporting();
    await dispatchedAgo(b.streamId, 60_000);
    await sendHeartbeat(ORIGIN.originId, []);
    await runDurableObjectAlarm(stub(b.streamId));
    expect(sent('/control/export-recording', b.streamId)).toHaveLength(1);
  });
});

describe('playback of a watchable recording', () => {
  it('its playback ID resolves to the durable prefix; the MP4 is not there before the export', async () => {
    const b = await recordedBroadcast({ healthy: false });
    await api(ws, 'POST', `/live/streams/${b.streamId}/complete`);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.watchable).toBe(true), { timeout: 5000 });
    const recording = (await recordingOf(b.streamId, ws.id, b.recordingId))!;
    expect(await playbackPrefix(recording.playbackId)).toBe(b.prefix);
    expect(recording.mp4Url).toBeNull();
    const mp4 = await call(`/hls/${recording.playbackId}/recording.mp4`);
    expect(mp4.status).toBe(404);
    await mp4.arrayBuffer();
  });
});
