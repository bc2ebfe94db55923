// RTMP and RTMPS publish → STREAMING through the public API → the ABR ladder plays through the edge.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, ffprobe, type Publisher } from '../support/encoder.ts';

let stack: Stack;
const publishers: Publisher[] = [];
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await Promise.all(publishers.map((p) => p.kill()));
  await stack?.stop();
});

async function masterPlaylist(playbackId: string): Promise<string> {
  return waitFor(
    'a master playlist whose every rendition has a segment',
    async () => {
      const response = await fetch(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8`);
      if (!response.ok) return undefined;
      const text = await response.text();
      const variants = text.split('\n').filter((l) => l && !l.startsWith('#'));
      if (variants.length === 0) return undefined;
      for (const variant of variants) {
        const media = await fetch(`${stack.edgeUrl}/hls/${playbackId}/${variant}`);
        if (!media.ok || !(await media.text()).includes('#EXTINF')) return undefined;
      }
      return text;
    },
    30_000,
  );
}

describe('RTMP ingest to live HLS through the edge', () => {
  it('publishes over RTMP: STREAMING, a ladder below the source, playable with ffprobe through the edge', async () => {
    const stream = await stack.createStream();
    const publisher = publish(stream.ingest.rtmp.url, { size: '1280x720' });
    publishers.push(publisher);
    const live = await stack.waitForStatus(stream.streamId, 'STREAMING');
    expect(live.currentSession.id).toMatch(/^ses_/);

    const playbackId = stream.playbackIds[0].id;
    const master = await masterPlaylist(playbackId);
    expect(master).toMatch(/#EXT-X-STREAM-INF:.*BANDWIDTH=\d+/);
    expect(master).toMatch(/RESOLUTION=1280x720/);
    expect(master).toMatch(/CODECS="avc1\.[0-9a-fA-F]{6},mp4a\.40\.2"/);
    const resolutions = [...master.matchAll(/RESOLUTION=(\d+)x(\d+)/g)].map((m) => Number(m[2]));
    expect(resolutions).toEqual(expect.arrayContaining([720, 480, 360]));
    expect(Math.max(...resolutions)).toBe(720);

    const response = await fetch(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8`);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');

    // Every rendition through the edge: ~2 s segments, each starting on a keyframe, aligned across renditions.
    const variants = master.split('\n').filter((l) => l && !l.startsWith('#'));
    await waitFor('three segments in every rendition', async () => {
      for (const variant of variants) {
        const text = await (await fetch(`${stack.edgeUrl}/hls/${playbackId}/${variant}`)).text();
        if ((text.match(/#EXTINF/g)?.length ?? 0) < 3) return undefined;
      }
      return true;
    }, 30_000);
    const segmentLists: { durations: number[]; uris: string[] }[] = [];
    for (const variant of variants) {
      const text = await (await fetch(`${stack.edgeUrl}/hls/${playbackId}/${variant}`)).text();
      const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
      const uris = text.split('\n').filter((l) => l.endsWith('.ts'));
      segmentLists.push({ durations, uris });
      for (const duration of durations) expect(duration).toBeLessThanOrEqual(2.1);
      const first = `${stack.edgeUrl}/hls/${playbackId}/${variant.replace(/[^/]+$/, '')}${uris[0]}`;
      const packets = await ffprobe(first, ['-select_streams', 'v:0', '-show_packets', '-read_intervals', '%+#1']);
      expect(packets.packets[0].flags).toContain('K');
    }
    const counts = segmentLists.map((l) => l.durations.length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    const shortest = Math.min(...counts);
    for (let i = 0; i < shortest - 1; i++) {
      const column = segmentLists.map((l) => l.durations[i]!);
      expect(Math.max(...column) - Math.min(...column)).toBeLessThan(0.1);
    }

    const probe = await ffprobe(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8`);
    const video = probe.streams.filter((s: any) => s.codec_type === 'video');
    expect(video.map((s: any) => s.height).sort()).toEqual(expect.arrayContaining([360, 480, 720]));
    expect(probe.streams.some((s: any) => s.codec_name === 'aac')).toBe(true);

    await publisher.kill();
    await stack.waitForStatus(stream.streamId, 'DISCONNECTED');
  });

  it('publishes over RTMPS', async () => {
    const stream = await stack.createStream({ maxResolution: '360p' });
    const publisher = publish(stream.ingest.rtmps.url, { size: '640x360' });
    publishers.push(publisher);
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    const master = await masterPlaylist(stream.playbackIds[0].id);
    expect(master).toMatch(/RESOLUTION=640x360/);
    await publisher.kill();
  });
});
