// Recordings and clips from object storage, on the real stack: a recorded broadcast ends, the origin then loses its
// whole media folder, and the recording's MP4 export still completes — built from the session's durable media in R2
// (the origin's log says how many bytes it fetched) — and plays with the broadcast's duration; a frame-accurate clip
// cut afterwards, from R2 too, plays with the asked length.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { originLogEvents, recordingOf as readRecording } from '../support/stack-reads.ts';
import { ffprobe, publish, type Publisher } from '../support/encoder.ts';

const SECONDS = 16;

let stack: Stack;
let tmp: string;
let encoder: Publisher | null = null;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'recording-export-'));
  stack = await startStack();
});
afterAll(async () => {
  await encoder?.kill();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const figure = (name: string, value: unknown) => console.log(`[figure] recording-export ${name}=${JSON.stringify(value)}`);

const recordingOf = (streamId: string) => readRecording(stack, streamId);

/** Downloads a playback URL of the edge into a file, for ffprobe. */
async function download(url: string, name: string): Promise<string> {
  const response = await stack.edgeFetch(new URL(url, stack.edgeUrl).href);
  expect(response.status).toBe(200);
  const file = path.join(tmp, name);
  await writeFile(file, new Uint8Array(await response.arrayBuffer()));
  return file;
}

/** The origin's structured log lines of one event. */
const originEvents = (event: string) => originLogEvents(stack, event);

describe('recording export and clips from R2', () => {
  it('exports the MP4 after the origin lost its media folder, and cuts a clip from R2', async () => {
    const stream = await stack.createStream({ record: true, reconnectWindow: 2 });
    encoder = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, { size: '854x480', seconds: SECONDS });
    await stack.waitForStatus(stream.streamId, 'RECORDING', 30_000);
    expect(await encoder.exited).toBe(0);
    const endedAt = Date.now();

    const watchable = await waitFor('the recording to be watchable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.watchable ? r : undefined;
    }, 60_000);
    figure('encoderEndToWatchableMs', Date.now() - endedAt);

    // The origin loses its media, disk and all.
    await rm(stack.mediaDir, { recursive: true, force: true });

    const exported = await waitFor('the recording to be exportable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.exportable ? r : undefined;
    }, 90_000);
    figure('encoderEndToExportableMs', Date.now() - endedAt);
    expect(exported.id).toBe(watchable.id);
    expect(exported.mp4Url).toEqual(expect.any(String));

    // Built from what the origin fetched from R2 through the edge.
    const runs = originEvents('recording_exported').filter((e) => e.recordingId === exported.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.bytes).toBeGreaterThan(100_000);
    figure('export', { ms: runs[0]!.ms, downloadMs: runs[0]!.downloadMs, muxMs: runs[0]!.muxMs, uploadMs: runs[0]!.uploadMs, bytes: runs[0]!.bytes });

    const mp4 = await download(exported.mp4Url, 'recording.mp4');
    const probed = await ffprobe(mp4);
    expect(probed.streams.map((s: any) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(Math.abs(Number(probed.format.duration) - SECONDS)).toBeLessThan(1);
    expect(Math.abs(exported.duration - SECONDS)).toBeLessThan(1);

    // A clip after the loss: any origin cuts it from the durable media (here the same origin, its folder gone).
    const created = await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: 3, endTime: 9, accurate: true, sessionId: exported.sessionId });
    expect(created.status).toBe(202);
    const clip = await waitFor('the clip to be cut', async () => {
      const c = (await stack.api('GET', `/on-demand/${stream.streamId}/live-clips?limit=10`)).body.data.find((x: any) => x.id === created.body.data.id);
      if (c?.status === 'failed') throw new Error(`clip failed: ${c.error}`);
      return c?.status === 'ready' ? c : undefined;
    }, 60_000);
    expect(Math.abs(clip.actualStartTime - 3)).toBeLessThan(0.1);
    const clipFile = await download(clip.mp4Url, 'clip.mp4');
    const clipProbe = await ffprobe(clipFile);
    expect(Math.abs(Number(clipProbe.format.duration) - 6)).toBeLessThan(0.2);
    const hls = await ffprobe(new URL(clip.playbackUrl, stack.edgeUrl).href);
    expect(Math.abs(Number(hls.format.duration) - 6)).toBeLessThan(0.3);
  }, 180_000);
});
