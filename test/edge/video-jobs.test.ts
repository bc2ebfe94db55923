// Issue 13, a library video's processing job at the edge (edge/video/video-jobs.ts inside the VideoObject): dispatched
// to the healthy origin with the most free capacity with a media grant for videos/{id}/ only, the next origin asked after
// a refusal, events applied from the job's origin only (through /internal/events), the job handed to another origin when
// its origin goes silent, forgets it, or reports nothing before the deadline, or says its failure may pass — three
// origins at most, then the video fails with the reason; no origin at all fails it after bounded dispatch passes. Busy
// origins (429, 503, draining) are not failures: the video stays processing, offered again on a capped backoff, until
// one takes it or the queue bound passes. The origins' control ports are a stand-in at the network boundary (globalThis.fetch) recording every command.
import { describe, it, expect, beforeAll, beforeEach, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { api, createWorkspace, json, sendHeartbeat, signedCall, type Workspace } from './helpers.ts';
import { standInControlPorts } from './control-ports.ts';
import { newId, newPlaybackId } from '../../shared/identifiers.ts';
import { verifyMediaGrant } from '../../shared/media-grant.ts';
import { VodJobCommand } from '../../shared/schemas/internal.ts';
import type { CreateVideoInput } from '../../edge/video-object.ts';
import {
  NOT_JOB_ORIGIN, NO_ORIGIN_FOR_VIDEO, ORIGINS_STAYED_BUSY, VIDEO_BUSY_RETRY_MAX_MS, VIDEO_DISPATCH_PASSES, VIDEO_JOB_ATTEMPTS, VIDEO_QUEUE_TIMEOUT_MS,
  afterLoss, answerKind, busyRetryDelay, queueTimeoutReason, queueTimedOut, videoJobLoss, type VideoJobRow,
} from '../../edge/video/video-jobs.ts';

const MASTER = 'test-origin-secret';
const A = { originId: 'vod-origin-a', url: 'http://127.0.0.11:9', host: '127.0.0.11:9' };
const B = { originId: 'vod-origin-b', url: 'http://127.0.0.12:9', host: '127.0.0.12:9' };
const C = { originId: 'vod-origin-c', url: 'http://127.0.0.13:9', host: '127.0.0.13:9' };
const hostOf = (originId: string) => [A, B, C].find((o) => o.originId === originId)!.host;

/** Every command sent; what an origin (by host) answers /control/vod-jobs with, default 202. */
const { commands, answers } = standInControlPorts(202);

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('video-jobs');
});

/** Every origin silent, then the named ones heard now with `free` units of room each (more room = picked first). */
async function origins(...heard: { originId: string; url: string; free: number; jobs?: string[]; draining?: boolean }[]) {
  await env.DB.prepare('UPDATE origins SET announced_at = 0').run();
  await env.DB.prepare('UPDATE origin_heartbeats SET heard_at = 0').run();
  for (const o of heard) {
    const r = await sendHeartbeat(o.originId, [], { originUrl: o.url, hlsUrl: o.url, capacity: { units: 10 }, load: { units: 10 - o.free, sessions: 0 }, ...(o.jobs ? { jobs: o.jobs } : {}), ...(o.draining ? { draining: true } : {}) });
    expect(r.status).toBe(200);
  }
}

const stub = (videoId: string) => env.VIDEOS.get(env.VIDEOS.idFromName(videoId));

/** An uploaded video whose upload just completed: its processing job is owed. */
async function uploadedVideo(): Promise<string> {
  const input: CreateVideoInput = { videoId: newId('vid', 16), workspaceId: ws.id, source: 'upload', title: null, metadata: {}, playbackId: newPlaybackId(), accessPolicy: 'public' };
  expect((await stub(input.videoId).create(input)).ok).toBe(true);
  expect(await stub(input.videoId).uploadCompleted({ size: 1234 })).toMatchObject({ ok: true, video: { status: 'processing' } });
  return input.videoId;
}

const jobCommands = (videoId: string) => commands.filter((c) => c.path === '/control/vod-jobs' && c.body?.videoId === videoId);
/** Waits for the job's dispatch (a background effect of the object) to have sent `n` commands. */
const dispatched = (videoId: string, n: number) => vi.waitFor(() => expect(jobCommands(videoId).length).toBeGreaterThanOrEqual(n), { timeout: 5000, interval: 20 });
const jobRow = (videoId: string) => runInDurableObject(stub(videoId), (_o, state) => state.storage.sql.exec<VideoJobRow>('SELECT * FROM video_job').toArray()[0]);
const videoOf = async (videoId: string) => (await json(await api(ws, 'GET', `/videos/${videoId}`))).data;

let counter = 0;
function videoEvent(videoId: string, type: string, data: Record<string, unknown>, attempt = 1) {
  counter += 1;
  return { id: `oev-vj-${Date.now()}-${counter}`, streamId: videoId, sessionId: `vod-${attempt}`, type, at: new Date().toISOString(), data: { videoId, ...data } };
}
async function send(originId: string, events: unknown[]) {
  const r = await signedCall('/internal/events', { events }, { originId });
  expect(r.status).toBe(200);
  return (await json(r)).results as { outcome: string; reason?: string }[];
}

/** The running job's deadline moved into the past, then the alarm: the job counts as lost. */
async function expireJob(videoId: string) {
  await runInDurableObject(stub(videoId), (_o, state) => {
    state.storage.sql.exec('UPDATE video_job SET deadline = ?', Date.now() - 1);
  });
  await runDurableObjectAlarm(stub(videoId));
}

beforeEach(() => answers.clear());

describe('video job decisions (pure)', () => {
  const row = (over: Partial<VideoJobRow>): VideoJobRow => ({
    kind: 'process', status: 'running', origin_id: 'o1', attempts: 1, passes: 0, dispatched_at: 1000, deadline: 100_000, last_reason: null, exclude: '[]',
    queued_since: null, busy_passes: 0, retry_at: null, ...over,
  });
  it('a job is lost when its origin is silent, forgot it, or the deadline passed; an unreadable heartbeat proves nothing', () => {
    const heard = { heardAt: 50_000, sessionIds: [], jobIds: ['vid_x'] };
    expect(videoJobLoss(row({}), heard, 55_000, 'vid_x')).toBeNull();
    expect(videoJobLoss(row({}), { ...heard, heardAt: 40_000 }, 55_000, 'vid_x')).toBe('origin-silent');
    expect(videoJobLoss(row({}), { ...heard, jobIds: [] }, 55_000, 'vid_x')).toBe('origin-dropped-job');
    expect(videoJobLoss(row({}), { ...heard, jobIds: null }, 55_000, 'vid_x')).toBeNull();
    expect(videoJobLoss(row({ deadline: 50_000 }), undefined, 55_000, 'vid_x')).toBe('deadline');
    expect(videoJobLoss(row({ status: 'queued' }), null, 55_000, 'vid_x')).toBeNull();
  });
  it('after a loss: queued for another origin (the lost one excluded when asked), failed with the reason after the last attempt', () => {
    expect(afterLoss(row({}), 'gone', true)).toEqual({ next: expect.objectContaining({ status: 'queued', origin_id: null, exclude: '["o1"]' }), fail: null });
    expect(afterLoss(row({}), 'forgot', false).next.exclude).toBe('[]');
    expect(afterLoss(row({ busy_passes: 4, queued_since: 5 }), 'gone', true).next).toMatchObject({ busy_passes: 0, queued_since: null, retry_at: null });
    expect(afterLoss(row({ attempts: VIDEO_JOB_ATTEMPTS }), 'gone', true)).toEqual({ next: expect.objectContaining({ status: 'over' }), fail: `processing failed after ${VIDEO_JOB_ATTEMPTS} attempts: gone` });
  });

  it('busy (429 full, 503 draining) is not a refusal; the busy backoff doubles from 5 s, never above the cap, jitter only shortens it', () => {
    expect([202, 200, 429, 503, 400, 409, 500, 502, 0].map(answerKind)).toEqual(['taken', 'taken', 'busy', 'busy', 'refused', 'refused', 'refused', 'refused', 'refused']);
    expect([0, 1, 2, 3].map((n) => busyRetryDelay(n, null, 0))).toEqual([5_000, 10_000, 20_000, 40_000]);
    for (let n = 0; n < 100; n++) {
      for (const random of [0, 0.5, 0.999]) {
        const delay = busyRetryDelay(n, n % 2 ? 30 : 3600, random);
        expect(delay).toBeLessThanOrEqual(VIDEO_BUSY_RETRY_MAX_MS);
        expect(delay).toBeGreaterThanOrEqual(Math.min(VIDEO_BUSY_RETRY_MAX_MS, 5_000 * 2 ** n) * 0.8);
      }
    }
    expect(VIDEO_BUSY_RETRY_MAX_MS).toBeLessThanOrEqual(60_000);
    expect(busyRetryDelay(0, 30, 0)).toBe(30_000); // the origin's Retry-After is a floor (within the cap)
    expect(queueTimedOut(row({ status: 'queued', queued_since: 1000 }), 1000 + VIDEO_QUEUE_TIMEOUT_MS - 1, VIDEO_QUEUE_TIMEOUT_MS)).toBe(false);
    expect(queueTimedOut(row({ status: 'queued', queued_since: 1000 }), 1000 + VIDEO_QUEUE_TIMEOUT_MS, VIDEO_QUEUE_TIMEOUT_MS)).toBe(true);
    expect(queueTimeoutReason(VIDEO_QUEUE_TIMEOUT_MS)).toBe(`${NO_ORIGIN_FOR_VIDEO}: ${ORIGINS_STAYED_BUSY} 24 h (VIDEO_QUEUE_TIMEOUT_SECONDS)`);
    expect(queueTimeoutReason(90_000)).toContain('90 s');
  });
});

describe('video jobs in the VideoObject', () => {
  it('dispatches to the origin with most room, a grant for the video only; events from that origin only; ready', async () => {
    await origins({ ...A, free: 2 }, { ...B, free: 6 });
    const videoId = await uploadedVideo();
    await dispatched(videoId, 1);
    const [sent] = jobCommands(videoId);
    expect(sent!.host).toBe(B.host);
    const command = VodJobCommand.parse(sent!.body);
    expect(command).toMatchObject({ videoId, workspaceId: ws.id, kind: 'process', attempt: 1 });
    expect(command.sourceUrl).toBeUndefined();
    for (const key of [`videos/${videoId}/source`, `videos/${videoId}/hls/720p/seg-00000.ts`, `videos/${videoId}/video.mp4`]) {
      expect((await verifyMediaGrant(MASTER, command.grant, B.originId, key, Date.now())).ok).toBe(true);
    }
    expect(await verifyMediaGrant(MASTER, command.grant, B.originId, 'videos/vid_someoneElse00/source', Date.now())).toEqual({ ok: false, reason: 'not-covered' });
    expect(await verifyMediaGrant(MASTER, command.grant, A.originId, `videos/${videoId}/source`, Date.now())).toEqual({ ok: false, reason: 'wrong-origin' });
    expect(await jobRow(videoId)).toMatchObject({ status: 'running', origin_id: B.originId, attempts: 1 });

    // Another origin's word on the job is refused; the job's origin's applies, routed by videoId.
    expect(await send(A.originId, [videoEvent(videoId, 'video_progress', { phase: 'processing', progress: 40 })])).toEqual([{ id: expect.any(String), outcome: 'refused', reason: NOT_JOB_ORIGIN }]);
    const before = (await jobRow(videoId))!.deadline!;
    await new Promise((r) => setTimeout(r, 5));
    expect((await send(B.originId, [videoEvent(videoId, 'video_progress', { phase: 'processing', progress: 40 })]))[0]!.outcome).toBe('applied');
    expect((await jobRow(videoId))!.deadline!).toBeGreaterThan(before); // heard: the silence deadline moved
    expect(await videoOf(videoId)).toMatchObject({ status: 'processing', progress: 40 });
    const mediaInfo = { duration: 8, size: 1234, bitrate: 1000, video: { codec: 'h264', width: 854, height: 480, fps: 30, profile: 'High' }, audio: null };
    expect((await send(B.originId, [videoEvent(videoId, 'video_ready', { duration: 8, size: 1234, mediaInfo, renditions: ['480p', '360p'] })]))[0]!.outcome).toBe('applied');
    expect(await videoOf(videoId)).toMatchObject({ status: 'ready', progress: 100, duration: 8 });
    expect(await jobRow(videoId)).toMatchObject({ status: 'over' });
    // A stream's event shape with a video type and a bad id is rejected by the schema, naming the field.
    const bad = await send(B.originId, [videoEvent('vid_!!', 'video_progress', { phase: 'processing', progress: 1 })]);
    expect(bad[0]).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/videoId/) });
  });

  it('an origin that refuses (429) or does not answer is passed over for the next in the same pass', async () => {
    await origins({ ...A, free: 9 }, { ...B, free: 5 }, { ...C, free: 1 });
    answers.set(A.host, 429);
    answers.set(B.host, 503);
    const videoId = await uploadedVideo();
    await dispatched(videoId, 3);
    expect(jobCommands(videoId).map((c) => c.host)).toEqual([A.host, B.host, C.host]);
    await vi.waitFor(async () => expect(await jobRow(videoId)).toMatchObject({ status: 'running', origin_id: C.originId, attempts: 1 }), { timeout: 3000 });
  });

  it('a job lost three times (silence, a restart, no progress) fails the video with the reason', async () => {
    await origins({ ...A, free: 9 }, { ...B, free: 5 });
    const videoId = await uploadedVideo();
    await dispatched(videoId, 1);
    expect(jobCommands(videoId)[0]!.host).toBe(A.host);
    // A goes silent: at the next look the job goes to B, A excluded.
    await env.DB.prepare('UPDATE origin_heartbeats SET heard_at = heard_at - 60000 WHERE origin_id = ?').bind(A.originId).run();
    await env.DB.prepare('UPDATE origins SET announced_at = announced_at - 60000 WHERE id = ?').bind(A.originId).run();
    await runDurableObjectAlarm(stub(videoId));
    await dispatched(videoId, 2);
    expect(jobCommands(videoId)[1]).toMatchObject({ host: B.host, body: { attempt: 2 } });
    expect(await jobRow(videoId)).toMatchObject({ status: 'running', origin_id: B.originId, attempts: 2, last_reason: 'the origin processing it went silent' });

    // B restarts and forgets the job (heard well after the dispatch, its beat not listing the video): back to B.
    await runInDurableObject(stub(videoId), (_o, state) => {
      state.storage.sql.exec('UPDATE video_job SET dispatched_at = ?', Date.now() - 60_000);
    });
    await sendHeartbeat(B.originId, [], { originUrl: B.url, hlsUrl: B.url, capacity: { units: 10 }, load: { units: 5, sessions: 0 }, jobs: [] });
    await runDurableObjectAlarm(stub(videoId));
    await dispatched(videoId, 3);
    expect(jobCommands(videoId)[2]).toMatchObject({ host: B.host, body: { attempt: 3 } });

    // The third origin reports nothing in time: no attempt left, the video fails with why.
    await expireJob(videoId);
    const video = await videoOf(videoId);
    expect(video).toMatchObject({ status: 'failed', error: `processing failed after ${VIDEO_JOB_ATTEMPTS} attempts: the origin processing it reported no progress in time` });
    expect(jobCommands(videoId)).toHaveLength(3);
  });

  it('a failure that may pass goes to another origin; a permanent one fails the video at once', async () => {
    await origins({ ...A, free: 9 }, { ...B, free: 5 });
    const videoId = await uploadedVideo();
    await dispatched(videoId, 1);
    expect((await send(A.originId, [videoEvent(videoId, 'video_failed', { reason: 'storage unavailable', permanent: false })]))[0]!.outcome).toBe('applied');
    await dispatched(videoId, 2);
    expect(jobCommands(videoId)[1]!.host).toBe(B.host); // the origin that failed is not asked again while another can
    await vi.waitFor(async () => expect(await jobRow(videoId)).toMatchObject({ status: 'running', origin_id: B.originId, attempts: 2 }), { timeout: 3000 });
    expect(await videoOf(videoId)).toMatchObject({ status: 'processing' });
    const reason = 'the source is not a readable video: the MP4/MOV is incomplete';
    expect((await send(B.originId, [videoEvent(videoId, 'video_failed', { reason, permanent: true }, 2)]))[0]!.outcome).toBe('applied');
    expect(await videoOf(videoId)).toMatchObject({ status: 'failed', error: reason });
  });

  it('with no origin to take it, the video fails after bounded dispatch passes (never processing forever)', async () => {
    await origins();
    const videoId = await uploadedVideo();
    // Each pass is the object's owed effect, retried by its alarm.
    for (let i = 0; i < VIDEO_DISPATCH_PASSES + 2; i++) {
      const video = await videoOf(videoId);
      if (video.status === 'failed') break;
      await runDurableObjectAlarm(stub(videoId));
      await new Promise((r) => setTimeout(r, 30));
    }
    await vi.waitFor(async () => expect(await videoOf(videoId)).toMatchObject({ status: 'failed', error: expect.stringContaining(NO_ORIGIN_FOR_VIDEO) }), { timeout: 3000 });
    expect(jobCommands(videoId)).toHaveLength(0);
  });
  it('20 busy answers in a row (429, 503) do not fail the video: processing, no attempt spent, backoff within the cap; it starts once an origin has room', async () => {
    await origins({ ...A, free: 9 }, { ...B, free: 5 });
    answers.set(A.host, 429);
    answers.set(B.host, 503);
    const videoId = await uploadedVideo();
    const delays: number[] = [];
    for (let pass = 1; pass <= 20; pass++) {
      await dispatched(videoId, 2 * pass);
      await vi.waitFor(async () => expect((await jobRow(videoId))!.busy_passes).toBe(pass), { timeout: 3000, interval: 20 });
      const row = (await jobRow(videoId))!;
      expect(row).toMatchObject({ status: 'queued', attempts: 0, passes: 0 });
      delays.push(row.retry_at! - Date.now());
      expect(await videoOf(videoId)).toMatchObject({ status: 'processing', error: null });
      // The object's alarm is set for the retry; running it now is the retry's time come.
      await runDurableObjectAlarm(stub(videoId));
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(VIDEO_BUSY_RETRY_MAX_MS);
    expect(delays[0]!).toBeLessThanOrEqual(5_000);
    expect(delays.at(-1)!).toBeGreaterThan(VIDEO_BUSY_RETRY_MAX_MS * 0.8 - 1000); // doubled up to the cap
    // A frees up: the next retry hands it over, as the job's first attempt.
    answers.set(A.host, 202);
    await dispatched(videoId, 41);
    await vi.waitFor(async () => expect(await jobRow(videoId)).toMatchObject({ status: 'running', origin_id: A.originId, attempts: 1, busy_passes: 0, queued_since: null }), { timeout: 3000 });
    expect(jobCommands(videoId).at(-1)!.body.attempt).toBe(1);
    expect(await videoOf(videoId)).toMatchObject({ status: 'processing' });
  });

  it('an origin that is only draining counts as busy (not "no origin"): the video waits', async () => {
    await origins({ ...A, free: 9, draining: true });
    const videoId = await uploadedVideo();
    await vi.waitFor(async () => expect((await jobRow(videoId))!.busy_passes).toBe(1), { timeout: 3000, interval: 20 });
    for (let i = 0; i < VIDEO_DISPATCH_PASSES + 2; i++) {
      await runDurableObjectAlarm(stub(videoId));
      await vi.waitFor(async () => expect((await jobRow(videoId))!.busy_passes).toBe(i + 2), { timeout: 3000, interval: 20 });
    }
    expect(await videoOf(videoId)).toMatchObject({ status: 'processing' });
    expect(jobCommands(videoId)).toHaveLength(0); // a draining origin is not sent work
  });

  it('a video waiting behind busy origins past VIDEO_QUEUE_TIMEOUT_SECONDS fails, saying every origin stayed busy', async () => {
    await origins({ ...A, free: 9 });
    answers.set(A.host, 429);
    const videoId = await uploadedVideo();
    await vi.waitFor(async () => expect((await jobRow(videoId))!.busy_passes).toBe(1), { timeout: 3000, interval: 20 });
    expect(await videoOf(videoId)).toMatchObject({ status: 'processing' });
    await runInDurableObject(stub(videoId), (_o, state) => {
      state.storage.sql.exec('UPDATE video_job SET queued_since = ?', Date.now() - VIDEO_QUEUE_TIMEOUT_MS - 1);
    });
    await runDurableObjectAlarm(stub(videoId));
    await vi.waitFor(async () => expect(await videoOf(videoId)).toMatchObject({ status: 'failed', error: queueTimeoutReason(VIDEO_QUEUE_TIMEOUT_MS) }), { timeout: 3000 });
    expect((await videoOf(videoId)).error).toContain(`${ORIGINS_STAYED_BUSY} 24 h`);
    expect(jobCommands(videoId)).toHaveLength(1); // the bound is checked before asking again
    expect(await jobRow(videoId)).toMatchObject({ status: 'over' });
  });

  it('real refusals (400: the command is invalid) still fail the video after the bounded passes', async () => {
    await origins({ ...A, free: 9 });
    answers.set(A.host, 400);
    const videoId = await uploadedVideo();
    for (let i = 0; i < VIDEO_DISPATCH_PASSES + 2; i++) {
      if ((await videoOf(videoId)).status === 'failed') break;
      await runDurableObjectAlarm(stub(videoId));
      await new Promise((r) => setTimeout(r, 30));
    }
    await vi.waitFor(async () => expect(await videoOf(videoId)).toMatchObject({ status: 'failed', error: `${NO_ORIGIN_FOR_VIDEO} (${A.originId} answered 400)` }), { timeout: 3000 });
    expect(jobCommands(videoId)).toHaveLength(VIDEO_DISPATCH_PASSES);
  });
});
