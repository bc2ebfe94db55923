// Media that outlives its origin: a recorded broadcast through HAProxy ends; then the origin that carried it loses its
// whole media folder and is killed. The recording must still play through the edge (every segment of its VOD playlists,
// from R2) and its MP4 export must still complete — built by the other origin from object storage. Twice: the origin is
// lost once its broadcast has ended (before the export is handed out), and while it is building the export.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { waitFor } from '../support/stack.ts';
import { ffprobe, publish, type Publisher } from '../support/encoder.ts';
import { parseMediaPlaylist, variantsOf } from '../support/live-player.ts';

const SECONDS = 12;

let cluster: Cluster;
let encoder: Publisher | null = null;
beforeAll(async () => {
  cluster = await startCluster({ origins: 2 });
});
afterAll(async () => {
  await encoder?.kill();
  await cluster?.stop();
});

const figure = (name: string, value: unknown) => console.log(`[figure] cluster-durable-recording ${name}=${JSON.stringify(value)}`);

async function recordingOf(streamId: string) {
  return ((await cluster.stack.api('GET', `/live/streams/${streamId}/recordings`)).body.data as any[])[0] ?? null;
}

async function recording(streamId: string, what: 'watchable' | 'exportable', timeoutMs: number) {
  return waitFor(`the recording to be ${what}`, async () => {
    const r = await recordingOf(streamId);
    if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
    return r?.[what] ? r : undefined;
  }, timeoutMs);
}

/** A SECONDS-long recorded broadcast through HAProxy; resolves once the encoder is done, with the origin that took it. */
async function recordedBroadcast(protocol: 'rtmp' | 'rtmps') {
  const { stack } = cluster;
  await cluster.waitForOrigins(cluster.origins.map((o) => o.id));
  const stream = await stack.createStream({ record: true, reconnectWindow: 3 });
  encoder = publish(cluster.ingestUrl(stream.streamKey, protocol), { size: '854x480', seconds: SECONDS });
  await stack.waitForStatus(stream.streamId, 'RECORDING', 30_000);
  const [holder] = await waitFor('HAProxy to carry the encoder', async () => {
    const carriers = await cluster.carriers();
    return carriers.length === 1 ? carriers : undefined;
  }, 10_000);
  expect(await encoder.exited).toBe(0);
  return { stream, holder: holder!, other: cluster.origins.find((o) => o.id !== holder!.id)! };
}

/** Every segment of every rendition of the recording through the edge, and ffprobe of the whole: SECONDS long. */
async function expectRecordingPlays(recordingUrl: string) {
  const { stack } = cluster;
  const master = await stack.edgeFetch(new URL(recordingUrl, stack.edgeUrl).href);
  expect(master.status).toBe(200);
  const masterUrl = new URL(recordingUrl, stack.edgeUrl).href;
  const variants = variantsOf(await master.text());
  expect(variants.length).toBeGreaterThanOrEqual(2);
  for (const variant of variants) {
    const playlistUrl = new URL(variant, masterUrl).toString();
    const playlist = await stack.edgeFetch(playlistUrl);
    expect(playlist.status, variant).toBe(200);
    const text = await playlist.text();
    expect(text).toContain('#EXT-X-ENDLIST');
    const segments = parseMediaPlaylist(text);
    expect(Math.abs(segments.reduce((sum, s) => sum + s.duration, 0) - SECONDS), variant).toBeLessThanOrEqual(1.5);
    for (const segment of segments) {
      const response = await stack.edgeFetch(new URL(segment.uri, playlistUrl).toString());
      expect(response.status, segment.uri).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  }
  const vod = await ffprobe(masterUrl);
  expect(Math.abs(Number(vod.format.duration) - SECONDS)).toBeLessThanOrEqual(1.5);
}

async function expectMp4(mp4Url: string) {
  const mp4 = await ffprobe(new URL(mp4Url, cluster.stack.edgeUrl).href);
  expect(Math.abs(Number(mp4.format.duration) - SECONDS)).toBeLessThanOrEqual(1.5);
  expect(mp4.streams.map((s: any) => s.codec_type).sort()).toEqual(['audio', 'video']);
}

/** The origin that ran the export of this recording, by its own log (recording_export_started). */
const exportRanOn = (recordingId: string) =>
  cluster.origins.filter((o) => o.logs.some((l) => l.includes('"recording_export_started"') && l.includes(recordingId))).map((o) => o.id);

/** The origin's disk goes, then the origin itself. */
async function loseOrigin(origin: (typeof cluster.origins)[number]) {
  await rm(origin.mediaDir, { recursive: true, force: true });
  expect(existsSync(origin.mediaDir)).toBe(false);
  await origin.kill();
}

describe('durable recording: the origin that recorded it is gone, disk and all', () => {
  it('lost after its broadcast ended: the recording plays from R2 and the other origin exports the MP4', { timeout: 110_000 }, async () => {
    const { stack } = cluster;
    // RTMPS through HAProxy: TLS passed through to the origin, which terminates it.
    const { stream, holder, other } = await recordedBroadcast('rtmps');
    // The broadcast's media is flushed to R2 when its encoder leaves; then the holder loses everything.
    await waitFor('the holder to flush the broadcast to R2', async () =>
      holder.logs.some((l) => l.includes('"durable_flushed"') && l.includes(stream.streamId)) ? true : undefined, 15_000);
    await loseOrigin(holder);
    const lostAt = Date.now();
    await cluster.waitForEnded(stream.streamId, 30_000);

    const watchable = await recording(stream.streamId, 'watchable', 30_000);
    figure('watchableAfterLossSeconds', Number(((Date.now() - lostAt) / 1000).toFixed(1)));
    await expectRecordingPlays(watchable.recordingUrl);
    const exportable = await recording(stream.streamId, 'exportable', 60_000);
    figure('exportableAfterLossSeconds', Number(((Date.now() - lostAt) / 1000).toFixed(1)));
    await expectMp4(exportable.mp4Url);
    expect(exportRanOn(exportable.id)).toEqual([other.id]);
    expect(cluster.grantsInLogs()).toEqual([]);
  });

  it('lost while it builds the export: the export is handed to the other origin and completes', { timeout: 110_000 }, async () => {
    // The origin lost by the test before comes back (empty disk), so both can take the broadcast.
    for (const origin of cluster.origins) if (!origin.running()) await origin.start();
    const { stream, holder, other } = await recordedBroadcast('rtmp');
    await cluster.waitForEnded(stream.streamId, 30_000);
    const watchable = await recording(stream.streamId, 'watchable', 30_000);
    await waitFor('the holder to start the export', async () => (exportRanOn(watchable.id).includes(holder.id) ? true : undefined), 20_000);
    await loseOrigin(holder);
    const lostAt = Date.now();
    // (Otherwise the export finished before the loss and this test proves nothing.)
    expect((await recordingOf(stream.streamId)).exportable, 'exportable before the holder was lost').toBe(false);

    await expectRecordingPlays(watchable.recordingUrl);
    const exportable = await recording(stream.streamId, 'exportable', 60_000);
    figure('exportableAfterLossMidExportSeconds', Number(((Date.now() - lostAt) / 1000).toFixed(1)));
    await expectMp4(exportable.mp4Url);
    expect(exportRanOn(exportable.id)).toContain(other.id);
    expect(cluster.grantsInLogs()).toEqual([]);
  });
});
