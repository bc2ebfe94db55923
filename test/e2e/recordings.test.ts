// Live to VOD with real encoders: a recorded broadcast with a drop and a reconnect becomes one recording that plays
// through the edge from the session's durable media in R2 seconds after STOPPED, its MP4 exported after (issue 11);
// clips are cut from it and from a live session; the recording of an origin killed mid-broadcast is built from R2.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { ffprobe, Publishers } from '../support/encoder.ts';

let stack: Stack;
const publishers = new Publishers({ size: '854x480' });
const start = (key: string, seconds?: number) =>
  publishers.start(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${key}`, seconds ? { seconds } : {});
beforeAll(async () => {
  stack = await startStack();
});
afterEach(() => publishers.stopAll());
afterAll(async () => {
  await stack?.stop();
});

/** The stream's recording once `watchable` (or, with `exportable`, once its MP4 is built too). */
async function readyRecording(streamId: string, timeoutMs = 90_000, what: 'watchable' | 'exportable' = 'exportable') {
  return waitFor(
    `the recording to be ${what}`,
    async () => {
      const { body } = await stack.api('GET', `/live/streams/${streamId}/recordings`);
      const recording = body.data[0];
      if (recording?.recordingStatus === 'failed') throw new Error(`recording failed: ${recording.error}`);
      if (what === 'exportable' && recording?.watchable && recording.error) throw new Error(`export failed: ${recording.error}`);
      return recording?.[what] ? recording : undefined;
    },
    timeoutMs,
  );
}

async function readyClip(streamId: string, clipId: string) {
  return waitFor(
    `clip ${clipId}`,
    async () => {
      const { body } = await stack.api('GET', `/on-demand/${streamId}/live-clips?limit=100`);
      const clip = body.data.find((c: any) => c.id === clipId);
      if (clip?.status === 'failed') throw new Error(`clip failed: ${clip.error}`);
      return clip?.status === 'ready' ? clip : undefined;
    },
    60_000,
  );
}

async function downloadedDuration(url: string): Promise<{ duration: number; probe: any }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'dl-')), path.basename(new URL(url).pathname));
  await writeFile(file, Buffer.from(await response.arrayBuffer()));
  const probe = await ffprobe(file);
  return { duration: Number(probe.format.duration), probe };
}

describe('recordings and clips', () => {
  let recorded: { stream: any; recording: any };

  it('a 20 s recorded broadcast with one reconnect → one session, one recording of ~20 s, COMPLETED', async () => {
    const stream = await stack.createStream({ record: true, reconnectWindow: 5 });
    const first = start(stream.streamKey, 10);
    await stack.waitForStatus(stream.streamId, 'RECORDING');
    expect(await first.exited).toBe(0);
    await stack.waitForStatus(stream.streamId, 'DISCONNECTED');
    const second = start(stream.streamKey, 10);
    await stack.waitForStatus(stream.streamId, 'RECORDING');
    expect(await second.exited).toBe(0);
    await stack.waitForStatus(stream.streamId, 'STOPPED', 20_000);
    const stoppedAt = Date.now();
    const watchable = await readyRecording(stream.streamId, 15_000, 'watchable');
    const watchableAfterMs = Date.now() - stoppedAt;
    expect(watchableAfterMs).toBeLessThan(10_000);
    expect(watchable).toMatchObject({ recordingStatus: 'ready', mp4Url: null });
    expect((await stack.getStream(stream.streamId)).status).toBe('COMPLETED');
    const early = await ffprobe(new URL(watchable.recordingUrl, stack.edgeUrl).href);
    expect(Math.abs(Number(early.format.duration) - 20)).toBeLessThanOrEqual(1.5);
    const recording = await readyRecording(stream.streamId);
    console.log(JSON.stringify({ figure: 'recording_20s', watchableAfterStopMs: watchableAfterMs, exportableAfterStopMs: Date.now() - stoppedAt }));

    const sessions = (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ reconnects: 1, record: true, recordingStatus: 'ready' });
    expect(sessions[0].sourceSegments).toBeGreaterThan(5);

    expect(Math.abs(recording.duration - 20)).toBeLessThanOrEqual(1);
    expect(recording).toMatchObject({ watchable: true, exportable: true, exportProgress: 1, queued: false, error: null, cleaned: false });
    expect(recording.mediaInfo.video).toMatchObject({ codec: 'h264', width: 854, height: 480 });
    expect(recording.size).toBeGreaterThan(100_000);
    const listed = (await stack.api('GET', '/recordings')).body.data.map((r: any) => r.id);
    expect(listed).toContain(recording.id);

    const mp4 = await downloadedDuration(new URL(recording.mp4Url, stack.edgeUrl).href);
    expect(Math.abs(mp4.duration - 20)).toBeLessThanOrEqual(1);
    const vod = await ffprobe(new URL(recording.recordingUrl, stack.edgeUrl).href);
    expect(vod.streams.some((s: any) => s.codec_type === 'video')).toBe(true);
    expect(Math.abs(Number(vod.format.duration) - 20)).toBeLessThanOrEqual(1.5);
    const thumbnail = await fetch(new URL(recording.screenshot, stack.edgeUrl).href);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');

    const activities = (await stack.getStream(stream.streamId)).activities.map((a: any) => a.event);
    expect(activities).toEqual([
      'CREATED', 'ON_PUBLISH', 'RECORDING', 'ON_PUBLISH_DONE', 'ON_PUBLISH', 'RECORDING', 'ON_PUBLISH_DONE', 'STOPPED',
      'RECORDING_READY', 'COMPLETED',
    ]);
    recorded = { stream, recording };
  });

  it('cuts clips from the recording: keyframe mode within one GOP, accurate mode within 0.1 s', async () => {
    const { stream } = recorded;
    const keyframe = (await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: 3.3, endTime: 10.7, name: 'kf' })).body.data;
    const accurate = (await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: 3.3, endTime: 10.7, accurate: true })).body.data;
    const kf = await readyClip(stream.streamId, keyframe.id);
    const ac = await readyClip(stream.streamId, accurate.id);
    // Keyframe mode: each edge moves to a keyframe at most one GOP (2 s) away from the request.
    expect(Math.abs(kf.actualStartTime - 3.3)).toBeLessThanOrEqual(2);
    expect(Math.abs(kf.actualEndTime - 10.7)).toBeLessThanOrEqual(2);
    expect(Math.abs(kf.duration - (kf.actualEndTime - kf.actualStartTime))).toBeLessThanOrEqual(0.1);
    expect(Math.abs(ac.duration - 7.4)).toBeLessThanOrEqual(0.1);

    for (const clip of [kf, ac]) {
      const mp4 = await downloadedDuration(new URL(clip.mp4Url, stack.edgeUrl).href);
      expect(Math.abs(mp4.duration - clip.duration)).toBeLessThanOrEqual(0.15);
      const hls = await ffprobe(new URL(clip.playbackUrl, stack.edgeUrl).href);
      expect(hls.streams.some((s: any) => s.codec_type === 'video')).toBe(true);
    }
    expect(Math.abs((await downloadedDuration(new URL(ac.mp4Url, stack.edgeUrl).href)).duration - 7.4)).toBeLessThanOrEqual(0.1);

    const bad = await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: 15, endTime: 40 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('endTime');
  });

  it('cuts a clip while the stream is live, from the DVR window', async () => {
    const stream = await stack.createStream();
    start(stream.streamKey);
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    await waitFor('8 s of media', async () => {
      const sessions = (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data;
      return (sessions[0]?.sourceSegmentsDuration ?? 0) >= 8 ? true : undefined;
    }, 30_000);
    const created = await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: 1, endTime: 6, accurate: true });
    expect(created.status).toBe(202);
    const clip = await readyClip(stream.streamId, created.body.data.id);
    expect(Math.abs(clip.duration - 5)).toBeLessThanOrEqual(0.1);
    expect((await stack.getStream(stream.streamId)).activities.map((a: any) => a.event)).toContain('CLIP_READY');
  });

  it('the recording of an origin killed mid-broadcast plays from R2 and is exported once an origin is back', async () => {
    const stream = await stack.createStream({ record: true, reconnectWindow: 3 });
    start(stream.streamKey);
    await stack.waitForStatus(stream.streamId, 'RECORDING');
    await waitFor('6 s recorded', async () => {
      const sessions = (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data;
      return (sessions[0]?.sourceSegmentsDuration ?? 0) >= 6 ? true : undefined;
    }, 30_000);
    await stack.stopOrigin('SIGKILL');
    await publishers.stopAll();
    await stack.startOrigin();
    // The origin is heard again without the session: STOPPED, and the recording plays from what reached R2.
    await stack.waitForStatus(stream.streamId, 'STOPPED', 60_000).catch(() => undefined);
    const watchable = await readyRecording(stream.streamId, 60_000, 'watchable');
    const vod = await ffprobe(new URL(watchable.recordingUrl, stack.edgeUrl).href);
    expect(Number(vod.format.duration)).toBeGreaterThanOrEqual(5);
    const recording = await readyRecording(stream.streamId);
    expect(recording.duration).toBeGreaterThanOrEqual(5);
    const mp4 = await downloadedDuration(new URL(recording.mp4Url, stack.edgeUrl).href);
    expect(Math.abs(mp4.duration - recording.duration)).toBeLessThanOrEqual(1);
    await stack.waitForStatus(stream.streamId, 'COMPLETED', 30_000);
  });
});
