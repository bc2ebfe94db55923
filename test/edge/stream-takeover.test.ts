// Issue 11 follow-ups at the edge, with the origins' control ports played by a stand-in at the network boundary
// (globalThis.fetch): a publish through another origin while the session is live asks the holder (POST /control/holds)
// and takes the session over when it no longer has the encoder; clips go to the holder if healthy else another origin,
// and only that origin reports on them; an export on an origin gone silent is handed out again from the alarm.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { api, createStream, createWorkspace, getStream, json, originEvent, signedCall, heartbeatBody, type Workspace } from './helpers.ts';
import { stub, recordingOf } from './stream-faults.ts';
import { standInSignedOrigins } from './control-ports.ts';
import { verifyMediaGrant } from '../../shared/media-grant.ts';
import { NOT_HOLDER } from '../../edge/stream/recording-flow.ts';
import { CLIP_JOB_LOST } from '../../edge/stream/clip-jobs.ts';
import { HOLDER_PROBE_TIMEOUT_MS, HOLDER_STALE_MS } from '../../edge/takeover.ts';

const MASTER = 'test-origin-secret';
const A = { originId: 'origin-ta', originUrl: 'http://127.0.0.3:9' };
const B = { originId: 'origin-tb', originUrl: 'http://127.0.0.4:9' };
const hostOf = (origin: { originUrl: string }) => new URL(origin.originUrl).host;

/** Every request the edge sent an origin, and what each answers per `host/path` (default 200 with no body). */
const { commands, answers } = standInSignedOrigins([A, B]);

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('takeover');
});

const heartbeat = (origin: typeof A, sessions: { streamId: string; sessionId: string }[] = []) =>
  signedCall('/internal/origins/heartbeat', heartbeatBody(origin.originId, sessions, { originUrl: origin.originUrl, hlsUrl: origin.originUrl }), { originId: origin.originId });
const authorizeVia = (origin: typeof A, streamKey: string) =>
  signedCall('/internal/ingest/authorize', { streamKey, protocol: 'rtmp', ...origin }, { originId: origin.originId });
const eventsFrom = (origin: typeof A, list: unknown[]) => signedCall('/internal/events', { events: list }, { originId: origin.originId });
const silence = (origin: typeof A, ms: number) =>
  env.DB.prepare('UPDATE origin_heartbeats SET heard_at = ? WHERE origin_id = ?').bind(Date.now() - ms, origin.originId).run();
const STATS = {
  sourceSegments: 15, transcodedSegments: 15, sourceSegmentsDuration: 30, transcodedSegmentsDuration: 30, sourceBytes: 1000,
  transcodedBytes: 1000, ingestRate: 1, outgoingRate: 1, isHealthy: true, issues: null,
};
const clipArtifacts = (clipId: string) => ({ clipId, duration: 6, actualStart: 2, actualEnd: 8, size: 1000, hlsPrefix: `clips/${clipId}`, mp4Key: `clips/${clipId}/clip.mp4` });
const activityEvents = async (streamId: string) => (await getStream(ws, streamId)).activities.map((a: any) => a.event as string);

/** A broadcast live on A (recorded), A heartbeating with it. */
async function liveOnA(body: Record<string, unknown> = {}) {
  const stream = await createStream(ws, { record: true, reconnectWindow: 30, ...body });
  const grant = await json(await authorizeVia(A, stream.streamKey));
  await heartbeat(A, [{ streamId: stream.streamId, sessionId: grant.sessionId }]);
  await heartbeat(B);
  commands.length = 0;
  return { stream, streamId: stream.streamId as string, sessionId: grant.sessionId as string };
}

describe('a publish through another origin while the session is live there', () => {
  it('is refused when the holder says its encoder is still publishing (a second publisher)', async () => {
    const { stream, streamId, sessionId } = await liveOnA();
    answers.set(`${hostOf(A)}/control/holds`, { json: { publishing: true } });
    const response = await authorizeVia(B, stream.streamKey);
    expect(response.status).toBe(403);
    expect((await json(response)).reason).toBe('already_live');
    const asked = commands.filter((c) => c.path === '/control/holds');
    expect(asked).toEqual([{ host: hostOf(A), path: '/control/holds', body: { streamId, sessionId }, signedBy: hostOf(A) }]);
    const live = await getStream(ws, streamId);
    expect(live.currentSession).toMatchObject({ id: sessionId, reconnects: 0 });
    expect(live.status).toBe('STREAMING');
  });

  it('an origin that answers but cannot say (404: an older origin) keeps the session', async () => {
    const { stream } = await liveOnA();
    answers.set(`${hostOf(A)}/control/holds`, 404);
    expect((await json(await authorizeVia(B, stream.streamKey))).reason).toBe('already_live');
  });

  it('is the same session on the new origin when the holder no longer has the encoder: webhooks in order, the old origin told to let go', async () => {
    const { stream, streamId, sessionId } = await liveOnA();
    answers.set(`${hostOf(A)}/control/holds`, { json: { publishing: false } });
    const response = await authorizeVia(B, stream.streamKey);
    expect(response.status).toBe(200);
    const grant = await json(response);
    expect(grant).toMatchObject({ sessionId, resume: true, resumeFrom: { originId: A.originId }, durablePrefix: `live/${streamId}/${sessionId}/` });
    expect((await verifyMediaGrant(MASTER, grant.mediaGrant, B.originId, `live/${streamId}/${sessionId}/source/x.ts`, Date.now())).ok).toBe(true);
    const live = await getStream(ws, streamId);
    expect(live.status).toBe('STREAMING');
    expect(live.currentSession).toMatchObject({ id: sessionId, reconnects: 1 });
    expect((await activityEvents(streamId)).slice(-2)).toEqual(['ON_PUBLISH_DONE', 'ON_PUBLISH']);
    await vi.waitFor(() => expect(commands.find((c) => c.path === '/control/kick')).toMatchObject({ host: hostOf(A), body: { sessionId, final: false } }));
    // A's word on the session is no longer taken; B's is.
    const late = await json(await eventsFrom(A, [originEvent(streamId, sessionId, 'publish_done', { reason: 'eof' })]));
    expect(late.results[0]).toMatchObject({ outcome: 'refused', reason: 'not-session-holder' });
    const fromB = await json(await eventsFrom(B, [originEvent(streamId, sessionId, 'recording_started')]));
    expect(fromB.results[0].outcome).toBe('applied');
    expect((await getStream(ws, streamId)).status).toBe('RECORDING');
    // A second publisher now, through A, is asked of B: still publishing, refused.
    answers.set(`${hostOf(B)}/control/holds`, { json: { publishing: true } });
    expect((await json(await authorizeVia(A, stream.streamKey))).reason).toBe('already_live');
  });

  it('takes over at once from a holder that refuses the connection, and within the deadline from one that does not answer', async () => {
    const refused = await liveOnA();
    answers.set(`${hostOf(A)}/control/holds`, 'refuse-connection');
    expect((await authorizeVia(B, refused.stream.streamKey)).status).toBe(200);
    expect((await getStream(ws, refused.streamId)).currentSession.id).toBe(refused.sessionId);

    const hung = await liveOnA();
    answers.set(`${hostOf(A)}/control/holds`, 'hang');
    const started = Date.now();
    const response = await authorizeVia(B, hung.stream.streamKey);
    expect(response.status).toBe(200);
    expect((await json(response)).sessionId).toBe(hung.sessionId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLDER_PROBE_TIMEOUT_MS - 100);
    expect(Date.now() - started).toBeLessThan(HOLDER_PROBE_TIMEOUT_MS + 2500);
  });

  it('does not ask a holder whose heartbeat lapsed (two intervals): the session moves at once', async () => {
    const { stream, sessionId } = await liveOnA();
    await silence(A, HOLDER_STALE_MS + 1000);
    answers.set(`${hostOf(A)}/control/holds`, { json: { publishing: true } }); // would refuse, were it asked
    const response = await authorizeVia(B, stream.streamKey);
    expect(response.status).toBe(200);
    expect((await json(response)).sessionId).toBe(sessionId);
    expect(commands.filter((c) => c.path === '/control/holds')).toEqual([]);
  });

  it('the same origin again is not a takeover: refused as before, nobody asked', async () => {
    const { stream } = await liveOnA();
    expect((await json(await authorizeVia(A, stream.streamKey))).reason).toBe('already_live');
    expect(commands.filter((c) => c.path === '/control/holds')).toEqual([]);
  });
});

describe('clips', () => {
  const clipOf = async (streamId: string, clipId: string) =>
    (await json(await api(ws, 'GET', `/on-demand/${streamId}/live-clips`))).data.find((c: any) => c.id === clipId);

  async function liveWithMedia() {
    const live = await liveOnA();
    await eventsFrom(A, [originEvent(live.streamId, live.sessionId, 'stats', STATS)]);
    commands.length = 0;
    return live;
  }

  it('go to the holder while it is healthy, and only the holder reports on them', async () => {
    const { streamId, sessionId } = await liveWithMedia();
    const created = await api(ws, 'POST', `/live/streams/${streamId}/clips`, { startTime: 2, endTime: 8 });
    expect(created.status).toBe(202);
    const clip = (await json(created)).data;
    const sent = commands.filter((c) => c.path === '/control/clips');
    expect(sent.map((c) => c.host)).toEqual([hostOf(A)]);
    const ready = clipArtifacts(clip.id);
    const foreign = await json(await eventsFrom(B, [originEvent(streamId, sessionId, 'clip_ready', ready)]));
    expect(foreign.results[0]).toMatchObject({ outcome: 'refused', reason: NOT_HOLDER });
    expect((await clipOf(streamId, clip.id)).status).toBe('processing');
  });

  it('go to another origin when the holder is silent, with a grant for that origin; a clip on a dead origin\'s session is still built', async () => {
    const { streamId, sessionId } = await liveWithMedia();
    await silence(A, 60_000);
    const created = await api(ws, 'POST', `/live/streams/${streamId}/clips`, { startTime: 2, endTime: 8 });
    expect(created.status).toBe(202);
    const clip = (await json(created)).data;
    const sent = commands.filter((c) => c.path === '/control/clips');
    expect(sent.map((c) => c.host)).toEqual([hostOf(B)]);
    expect(sent[0]!.signedBy).toBe(hostOf(B));
    const grant = sent[0]!.body.mediaGrant;
    expect((await verifyMediaGrant(MASTER, grant, B.originId, `clips/${clip.id}/clip.mp4`, Date.now())).ok).toBe(true);
    expect((await verifyMediaGrant(MASTER, grant, A.originId, `clips/${clip.id}/clip.mp4`, Date.now())).ok).toBe(false);
    const failedFromA = await json(await eventsFrom(A, [originEvent(streamId, sessionId, 'clip_failed', { clipId: clip.id, reason: 'late word' })]));
    expect(failedFromA.results[0]).toMatchObject({ outcome: 'refused', reason: NOT_HOLDER });
    const ready = clipArtifacts(clip.id);
    const fromB = await json(await eventsFrom(B, [originEvent(streamId, sessionId, 'clip_ready', ready)]));
    expect(fromB.results[0].outcome).toBe('applied');
    expect((await clipOf(streamId, clip.id)).status).toBe('ready');
  });

  it('fail once their origin, heard more than 10 s after taking the job, no longer lists it (it restarted at once)', async () => {
    const { streamId, sessionId } = await liveWithMedia();
    const held = [{ streamId, sessionId }];
    const beat = (jobs: string[]) =>
      signedCall('/internal/origins/heartbeat', heartbeatBody(A.originId, held, { originUrl: A.originUrl, hlsUrl: A.originUrl, jobs }), { originId: A.originId });
    const clip = (await json(await api(ws, 'POST', `/live/streams/${streamId}/clips`, { startTime: 2, endTime: 8 }))).data;
    // Within 10 s of the dispatch a beat may predate the job: not listing it proves nothing.
    await beat([]);
    await runDurableObjectAlarm(stub(streamId));
    expect((await clipOf(streamId, clip.id)).status).toBe('processing');
    // 11 s on, listed: still being cut.
    await runInDurableObject(stub(streamId), (_o, state) => state.storage.sql.exec('UPDATE clips SET updated_at = updated_at - 11000 WHERE id = ?', clip.id));
    await beat([clip.id]);
    await runDurableObjectAlarm(stub(streamId));
    expect((await clipOf(streamId, clip.id)).status).toBe('processing');
    // Not listed any more: the origin forgot it, and the clip says so instead of processing forever.
    await beat(['rec_other']);
    await runDurableObjectAlarm(stub(streamId));
    expect(await clipOf(streamId, clip.id)).toMatchObject({ status: 'failed', error: CLIP_JOB_LOST });
  });

  it('go to another origin when the healthy holder does not take the job', async () => {
    const { streamId } = await liveWithMedia();
    answers.set(`${hostOf(A)}/control/clips`, 503);
    const created = await api(ws, 'POST', `/live/streams/${streamId}/clips`, { startTime: 2, endTime: 8 });
    expect(created.status).toBe(202);
    expect(commands.filter((c) => c.path === '/control/clips').map((c) => c.host)).toEqual([hostOf(A), hostOf(B)]);
  });
});

describe('an export on an origin that goes silent', () => {
  it('is handed to another origin from the alarm once its origin is not heard for more than 10 s', async () => {
    const { stream, streamId, sessionId } = await liveOnA();
    const prefix = `live/${streamId}/${sessionId}`;
    await env.MEDIA.put(`${prefix}/master.m3u8`, '#EXTM3U\n');
    await env.MEDIA.put(`${prefix}/source/index.m3u8`, '#EXTM3U\n#EXT-X-ENDLIST\n');
    await env.MEDIA.put(`${prefix}/source/a1b2c3-00000.ts`, 'segment bytes');
    const recordingId = `rec_${sessionId.replace(/^ses_/, '')}`;
    await api(ws, 'POST', `/live/streams/${streamId}/complete`);
    await eventsFrom(A, [originEvent(streamId, sessionId, 'media_durable', { renditions: 1, segments: 1, duration: 2, final: true })]);
    await vi.waitFor(() => expect(commands.filter((c) => c.path === '/control/export-recording').map((c) => c.host)).toEqual([hostOf(A)]), { timeout: 5000 });
    await vi.waitFor(async () => expect((await recordingOf(streamId, ws.id, recordingId))?.exportProgress).toBe(0));

    // Heard lately: the alarm leaves the job where it is.
    await runDurableObjectAlarm(stub(streamId));
    expect(commands.filter((c) => c.path === '/control/export-recording')).toHaveLength(1);

    await silence(A, 11_000);
    await heartbeat(B);
    await runDurableObjectAlarm(stub(streamId));
    await vi.waitFor(() => expect(commands.filter((c) => c.path === '/control/export-recording').map((c) => c.host)).toEqual([hostOf(A), hostOf(B)]), { timeout: 5000 });
    const handedOut = commands.filter((c) => c.path === '/control/export-recording').at(-1)!;
    expect((await verifyMediaGrant(MASTER, handedOut.body.mediaGrant, B.originId, `recordings/${recordingId}/recording.mp4`, Date.now())).ok).toBe(true);
    // The silent origin's word on the job is no longer taken.
    const artifacts = {
      duration: 2, size: 10, mediaInfo: { duration: 2, size: 10, bitrate: 40, video: { codec: 'h264', width: 1280, height: 720, fps: 30, profile: 'High' }, audio: null },
      hlsPrefix: `recordings/${recordingId}/hls`, mp4Key: `recordings/${recordingId}/recording.mp4`, screenshotKey: `recordings/${recordingId}/screenshot.jpg`,
    };
    const late = await json(await eventsFrom(A, [originEvent(streamId, sessionId, 'recording_ready', artifacts)]));
    expect(late.results[0]).toMatchObject({ outcome: 'refused', reason: NOT_HOLDER });
    expect(stream.streamId).toBe(streamId);
  });
});
