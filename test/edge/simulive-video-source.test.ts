// A SIMULIVE event whose source is a video of the library (issues 12 + 13), in workerd: create takes `simulive.videoId`
// (a ready upload/import, or a recording or clip video) and refuses a missing, foreign or unready one naming the field;
// PLAYBACK mode plays the video's own HLS (`videos/{id}/hls`); the dispatch sends the origin that video's MP4 key with
// a media grant covering exactly it.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { api, call, createWorkspace, json, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';
import { verifyMediaGrant } from '../../shared/media-grant.ts';
import { SimuliveCommand, videoKeys } from '../../shared/schemas/internal.ts';
import { checkSimuliveSource, startSimulive } from '../../edge/event/simulive-dispatch.ts';
import { newVideo, videoJobEvent, videoStub } from './video-fixtures.ts';

vi.setConfig({ testTimeout: 20_000 });

const HOUR = 3600_000;
let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('simulive-video');
  other = await createWorkspace('simulive-video-other');
});

const jobEvent = videoJobEvent;
const MEDIA_INFO = {
  duration: 4,
  size: 1000,
  bitrate: 2000,
  video: { codec: 'h264', width: 1280, height: 720, fps: 30, profile: 'High' },
  audio: { codec: 'aac', sampleRate: 48000, channels: 2 },
};

/** An uploaded video driven through its object's RPC; `ready`: processed, with its HLS and MP4 in R2 as the VOD job leaves them. */
async function uploadedVideo(workspace: Workspace, ready: boolean): Promise<string> {
  const { videoId } = await newVideo(workspace);
  await videoStub(videoId).uploadStarted();
  expect((await videoStub(videoId).uploadCompleted({ size: 1000 })).ok).toBe(true);
  if (!ready) return videoId;
  const keys = videoKeys(videoId);
  await env.MEDIA.put(`${keys.hls}/master.m3u8`, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\n720p/index.m3u8\n');
  await env.MEDIA.put(`${keys.hls}/720p/index.m3u8`, '#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.0,\nseg-00000.ts\n#EXT-X-ENDLIST\n');
  await env.MEDIA.put(keys.mp4, 'mp4 bytes');
  const [applied] = await videoStub(videoId).applyVideoEvents([
    jobEvent(videoId, 'video_ready', { duration: 4, size: 1000, mediaInfo: MEDIA_INFO, renditions: ['720p'] }),
  ]);
  expect(applied!.outcome).toBe('applied');
  return videoId;
}

/** A recording video: its recording's D1 row (exportable or not) and the library row its stream's index effect writes. */
async function recordingVideo(workspace: Workspace, exportable: boolean): Promise<{ videoId: string; recordingId: string; sessionId: string }> {
  const x = crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  const [recordingId, videoId, sessionId] = [`rec_${x}`, `vid_${x}`, `ses_${x}`];
  const now = new Date().toISOString();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at, watchable, exportable)
       VALUES (?, ?, 'ls_simsource', ?, 'ready', ?, ?, 1, ?)`,
    ).bind(recordingId, workspace.id, sessionId, now, now, exportable ? 1 : 0),
    env.DB.prepare(
      `INSERT INTO videos (id, workspace_id, source, status, created_at, stream_id, recording_id) VALUES (?, ?, 'recording', 'ready', ?, 'ls_simsource', ?)`,
    ).bind(videoId, workspace.id, now, recordingId),
  ]);
  await env.MEDIA.put(`recordings/${recordingId}/recording.mp4`, 'mp4 bytes');
  return { videoId, recordingId, sessionId };
}

/** A clip video: the library row of a cut clip, and its clip.mp4. */
async function clipVideo(workspace: Workspace): Promise<{ videoId: string; clipId: string }> {
  const x = crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  const [clipId, videoId] = [`clip_${x}`, `vid_${x}`];
  await env.DB.prepare(
    `INSERT INTO videos (id, workspace_id, source, status, created_at, stream_id, clip_id) VALUES (?, ?, 'clip', 'ready', ?, 'ls_simsource', ?)`,
  )
    .bind(videoId, workspace.id, new Date().toISOString(), clipId)
    .run();
  await env.MEDIA.put(`clips/${clipId}/clip.mp4`, 'mp4 bytes');
  return { videoId, clipId };
}

const body = (simulive: unknown, overrides: Record<string, unknown> = {}) => ({
  type: 'LIVE_TYPE_SIMULIVE',
  broadcastMode: 'BROADCAST_MODE_PLAYBACK',
  resolution: '720p',
  security: { accessPolicy: 'public', allowedDomains: [] },
  ullEnabled: false,
  scheduledStartAt: new Date(Date.now() + HOUR).toISOString(),
  simulive,
  ...overrides,
});

async function problem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  const answer = await json(response);
  expect(answer.type).toBe(`https://riverhead.dev/problems/${type}`);
  return answer;
}
const fields = (answer: any): string[] => (answer.errors ?? []).map((e: any) => e.field);

describe('create with simulive.videoId', () => {
  it('a ready uploaded video: 201, the event names it; PLAYBACK mode at LIVE plays videos/{id}/hls', async () => {
    expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200); // an origin can take it: WAIT_FOR_PREVIEW at once
    const videoId = await uploadedVideo(ws, true);
    const response = await api(ws, 'POST', '/live/events', body({ videoId }));
    expect(response.status).toBe(201);
    const event = (await json(response)).data;
    expect(event).toMatchObject({ type: 'LIVE_TYPE_SIMULIVE', simulive: { videoId }, ingest: null, status: 'LIVE_STATUS_WAIT_FOR_PREVIEW' });
    expect(event.simulive.recordingId).toBeUndefined();

    const started = await api(ws, 'POST', `/live/events/${event.eventId}/start`);
    expect(started.status).toBe(200);
    expect((await json(started)).data.status).toBe('LIVE_STATUS_LIVE');
    const master = await call(`/hls/${event.playbackIds.public.id}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(await master.text()).toContain('720p/index.m3u8');
    const media = await call(`/hls/${event.playbackIds.public.id}/720p/index.m3u8`);
    expect(await media.text()).toContain('seg-00000.ts');
  });

  it('recording and clip videos of the workspace are sources too', async () => {
    const recording = await recordingVideo(ws, true);
    const clip = await clipVideo(ws);
    for (const videoId of [recording.videoId, clip.videoId]) {
      const response = await api(ws, 'POST', '/live/events', body({ videoId }, { broadcastMode: 'BROADCAST_MODE_DVR' }));
      expect(response.status, videoId).toBe(201);
      expect((await json(response)).data.simulive).toEqual({ videoId });
    }
  });

  it('a video still processing (or a recording video not exportable) → 409 simulive-source-not-ready naming simulive.videoId', async () => {
    const processing = await uploadedVideo(ws, false);
    const answer = await problem(await api(ws, 'POST', '/live/events', body({ videoId: processing })), 409, 'simulive-source-not-ready');
    expect(fields(answer)).toEqual(['simulive.videoId']);
    expect(answer.detail).toContain('processing');
    const building = await recordingVideo(ws, false);
    const again = await problem(await api(ws, 'POST', '/live/events', body({ videoId: building.videoId })), 409, 'simulive-source-not-ready');
    expect(again.detail).toContain('not exportable yet');
  });

  it("a missing video, or another workspace's → 400 naming simulive.videoId", async () => {
    const theirs = await uploadedVideo(other, true);
    const theirRecording = await recordingVideo(other, true);
    for (const videoId of ['vid_doesnotexist00', theirs, theirRecording.videoId]) {
      const answer = await problem(await api(ws, 'POST', '/live/events', body({ videoId })), 400, 'invalid-request');
      expect(fields(answer), videoId).toEqual(['simulive.videoId']);
    }
  });

  it('both recordingId and videoId, or neither → 400 naming the field', async () => {
    const videoId = await uploadedVideo(ws, true);
    const both = await problem(await api(ws, 'POST', '/live/events', body({ videoId, recordingId: 'rec_x' })), 400, 'invalid-request');
    expect(fields(both)).toEqual(['simulive']);
    const neither = await problem(await api(ws, 'POST', '/live/events', body({})), 400, 'invalid-request');
    expect(fields(neither)).toEqual(['simulive.recordingId']);
  });

  it('/start checks the source again: a video deleted since → 409 simulive-source-not-ready', async () => {
    expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200);
    const videoId = await uploadedVideo(ws, true);
    const event = (await json(await api(ws, 'POST', '/live/events', body({ videoId })))).data;
    expect((await api(ws, 'DELETE', `/videos/${videoId}`)).status).toBe(204);
    const gone = await problem(await api(ws, 'POST', `/live/events/${event.eventId}/start`), 409, 'simulive-source-not-ready');
    expect(gone.detail).toContain('no longer exists');
  });
});

describe('the dispatch of a video source', () => {
  it("picks each kind's MP4 and a grant covering just its folder; refuses one whose MP4 is not in R2", async () => {
    expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200);
    const uploaded = await uploadedVideo(ws, true);
    const recording = await recordingVideo(ws, true);
    const clip = await clipVideo(ws);
    const expected: [string, string, string][] = [
      [uploaded, `videos/${uploaded}/video.mp4`, `videos/vid_other/video.mp4`],
      [recording.videoId, `recordings/${recording.recordingId}/recording.mp4`, `recordings/rec_other/recording.mp4`],
      [clip.videoId, `clips/${clip.clipId}/clip.mp4`, `clips/clip_other/clip.mp4`],
    ];
    const sent: { url: string; body: string }[] = [];
    const origin = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      sent.push({ url: request.url, body: await request.text() });
      return new Response(null, { status: 202 });
    });
    try {
      for (const [videoId, key, outside] of expected) {
        const outcome = await startSimulive(env, { streamId: 'ls_simtarget', workspaceId: ws.id, source: { videoId }, zone: null }, async () => 'slt_0123456789abcdef0123');
        expect(outcome).toEqual({ ok: true, originId: ORIGIN.originId });
        const last = sent.at(-1)!;
        expect(new URL(last.url).pathname).toBe('/control/simulive');
        const command = SimuliveCommand.parse(JSON.parse(last.body)); // what the origin's control route parses
        expect(command.source).toEqual({ videoId, key });
        expect(await verifyMediaGrant(env.ORIGIN_SECRET, command.grant, ORIGIN.originId, key, Date.now())).toMatchObject({ ok: true });
        expect(await verifyMediaGrant(env.ORIGIN_SECRET, command.grant, ORIGIN.originId, outside, Date.now())).toEqual({ ok: false, reason: 'not-covered' });
      }
    } finally {
      origin.mockRestore();
    }
    await env.MEDIA.delete(`clips/${clip.clipId}/clip.mp4`);
    expect(await checkSimuliveSource(env, ws.id, { videoId: clip.videoId })).toMatchObject({ ok: false, detail: expect.stringMatching(/no MP4 in storage/) });
  });
});
