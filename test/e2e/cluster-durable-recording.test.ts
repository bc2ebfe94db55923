// Media that outlives its origin: a recorded broadcast through HAProxy ends; then the origin that carried it loses its
// whole media folder and is killed. The recording must still play through the edge (every segment of its VOD playlists,
// from R2) and its MP4 export must still complete — built by the other origin from object storage.
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

describe('durable recording: the origin that recorded it is gone, disk and all', () => {
  it('the recording still plays from R2 and its MP4 export completes on the other origin', { timeout: 150_000 }, async () => {
    const { stack } = cluster;
    const stream = await stack.createStream({ record: true, reconnectWindow: 3 });
    encoder = publish(cluster.ingestUrl(stream.streamKey), { size: '854x480', seconds: SECONDS });
    await stack.waitForStatus(stream.streamId, 'RECORDING', 30_000);
    const [holder] = await waitFor('HAProxy to carry the encoder', async () => {
      const carriers = await cluster.carriers();
      return carriers.length === 1 ? carriers : undefined;
    }, 10_000);
    const other = cluster.origins.find((o) => o.id !== holder!.id)!;
    expect(await encoder.exited).toBe(0);
    await cluster.waitForEnded(stream.streamId, 30_000);
    const stoppedAt = Date.now();
    const sessionId = ((await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data as any[])[0].id;

    const watchable = await waitFor('the recording to be watchable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.watchable ? r : undefined;
    }, 30_000);
    figure('watchableAfterStoppedSeconds', Number(((Date.now() - stoppedAt) / 1000).toFixed(1)));

    // The origin's disk goes, then the origin itself.
    const exportedBeforeLoss = watchable.exportable;
    await rm(holder!.mediaDir, { recursive: true, force: true });
    expect(existsSync(holder!.mediaDir)).toBe(false);
    await holder!.kill();
    figure('exportableBeforeTheOriginWasLost', exportedBeforeLoss);

    // Every segment of every rendition of the recording plays through the edge.
    const master = await stack.edgeFetch(`${stack.edgeUrl}${watchable.recordingUrl}`);
    expect(master.status).toBe(200);
    const masterUrl = master.url || `${stack.edgeUrl}${watchable.recordingUrl}`;
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
    const vod = await ffprobe(`${stack.edgeUrl}${watchable.recordingUrl}`);
    expect(Math.abs(Number(vod.format.duration) - SECONDS)).toBeLessThanOrEqual(1.5);

    // The MP4: exportable once built, from R2, by the origin that is left.
    const exportable = await waitFor('the recording to be exportable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.exportable ? r : undefined;
    }, 90_000);
    figure('exportableAfterStoppedSeconds', Number(((Date.now() - stoppedAt) / 1000).toFixed(1)));
    const mp4 = await ffprobe(`${stack.edgeUrl}${exportable.mp4Url}`);
    expect(Math.abs(Number(mp4.format.duration) - SECONDS)).toBeLessThanOrEqual(1.5);
    expect(mp4.streams.map((s: any) => s.codec_type).sort()).toEqual(['audio', 'video']);
    if (!exportedBeforeLoss) {
      // The export ran where the media could still be read: the other origin, from object storage.
      expect(other.logs.some((line) => line.includes(exportable.id)), `${other.id} logged the export of ${exportable.id}`).toBe(true);
    }
    expect(sessionId).toMatch(/^ses_/);
    // A media grant is a credential: no origin logs it.
    expect(cluster.grantsInLogs()).toEqual([]);
  });
});
