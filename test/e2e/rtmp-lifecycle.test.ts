// The lifecycle driven by real encoders: refusals start no transcode, reconnects continue the session's playlists,
// the window's end closes them, and deleting a stream disconnects its encoder.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { Publishers } from '../support/encoder.ts';
import { durableReader } from '../support/durable-media.ts';

let stack: Stack;
/** 854x480 gives a two-rendition ladder (source + 360p) at little CPU. */
const publishers = new Publishers({ size: '854x480' });
const start = (url: string) => publishers.start(url);
beforeAll(async () => {
  stack = await startStack();
});
afterEach(() => publishers.stopAll());
afterAll(async () => {
  await stack?.stop();
});

const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${stack.ports.rtmp}/live/${key}`;

async function playlistOf(stream: any, rendition = 'source'): Promise<string> {
  const sessionId = (await stack.getStream(stream.streamId)).currentSession?.id;
  return readFile(path.join(stack.mediaDir, stream.streamId, sessionId, rendition, 'index.m3u8'), 'utf8');
}

describe('refusals start no transcode', () => {
  it('refuses a wrong key, a reset key, a disabled stream, a second publisher and a publish beyond capacity', async () => {
    const before = await stack.originMetric('riverhead_transcodes_started_total');
    // Counted from here, not from the origin's start: a retry (CI) runs on the origin the first attempt used.
    const refusals = async (reason: string) => stack.originMetric('riverhead_publish_refusals_total', { reason });
    const refusedBefore = Object.fromEntries(
      await Promise.all(['already_live', 'unknown_stream_key', 'stream_disabled', 'origin_at_capacity'].map(async (r) => [r, await refusals(r)] as const)),
    );
    const refusedSince = async (reason: string) => (await refusals(reason)) - refusedBefore[reason]!;

    const wrong = start(rtmpUrl('sk_wrong_key_000000000000000000000'));
    expect(await wrong.exited).not.toBe(0);

    const reset = await stack.createStream();
    await stack.api('POST', `/live/streams/${reset.streamId}/reset-stream-key`);
    const old = start(rtmpUrl(reset.streamKey));
    expect(await old.exited).not.toBe(0);

    const disabled = await stack.createStream();
    await stack.api('PUT', `/live/streams/${disabled.streamId}/live-disable`);
    const toDisabled = start(rtmpUrl(disabled.streamKey));
    expect(await toDisabled.exited).not.toBe(0);

    expect(await stack.originMetric('riverhead_transcodes_started_total')).toBe(before);
    for (const s of [reset, disabled]) expect(existsSync(path.join(stack.mediaDir, s.streamId))).toBe(false);

    const live = await stack.createStream();
    start(rtmpUrl(live.streamKey));
    await stack.waitForStatus(live.streamId, 'STREAMING');
    await waitFor('the first transcode', async () => ((await stack.originMetric('riverhead_transcodes_started_total')) === before + 1 ? true : undefined), 10_000);
    const second = start(rtmpUrl(live.streamKey));
    expect(await second.exited).not.toBe(0);
    expect(await stack.originMetric('riverhead_transcodes_started_total')).toBe(before + 1);
    expect(await refusedSince('already_live')).toBe(1);
    expect(await refusedSince('unknown_stream_key')).toBe(2);
    expect(await refusedSince('stream_disabled')).toBe(1);

    // The origin runs 2 live transcodes at most: a third publisher is refused, and its stream never goes live.
    const other = await stack.createStream();
    start(rtmpUrl(other.streamKey));
    await stack.waitForStatus(other.streamId, 'STREAMING');
    const third = await stack.createStream();
    const beyond = start(rtmpUrl(third.streamKey));
    expect(await beyond.exited).not.toBe(0);
    expect(await refusedSince('origin_at_capacity')).toBe(1);
    expect((await stack.getStream(third.streamId)).status).toBe('NOT_STARTED');
  });
});

describe('reconnect window', () => {
  it('a reconnect within the window continues the session with one discontinuity; past it, STOPPED and ENDLIST', async () => {
    const stream = await stack.createStream({ reconnectWindow: 4 });
    const first = start(rtmpUrl(stream.streamKey));
    const live = await stack.waitForStatus(stream.streamId, 'STREAMING');
    const sessionId = live.currentSession.id;
    await waitFor('two segments', async () => ((await playlistOf(stream)).match(/#EXTINF/g)?.length ?? 0) >= 2 || undefined, 20_000);

    await first.kill();
    await stack.waitForStatus(stream.streamId, 'DISCONNECTED');
    const second = start(rtmpUrl(stream.streamKey));
    const resumed = await stack.waitForStatus(stream.streamId, 'STREAMING');
    expect(resumed.currentSession).toMatchObject({ id: sessionId, reconnects: 1 });
    const before = (await playlistOf(stream)).match(/#EXTINF/g)!.length;
    await waitFor('segments after the join', async () => ((await playlistOf(stream)).match(/#EXTINF/g)!.length >= before + 2 ? true : undefined), 20_000);

    const joined = await playlistOf(stream);
    expect(joined.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    const sequences = [...joined.matchAll(/[0-9a-f]{6}-(\d{5,})\.ts/g)].map((m) => Number(m[1]));
    expect(sequences.length).toBeGreaterThan(2);
    expect(new Set(sequences).size).toBe(sequences.length);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    for (const rendition of ['360p']) {
      expect((await playlistOf(stream, rendition)).match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    }

    const r2 = await durableReader(stack, stream.streamId, sessionId);
    await second.kill();
    await stack.waitForStatus(stream.streamId, 'DISCONNECTED');
    await stack.waitForStatus(stream.streamId, 'STOPPED', 15_000);
    // The session's durable playlists (R2) are closed; the origin then frees its folder.
    await waitFor('ENDLIST in every rendition', async () => {
      for (const rendition of ['source', '360p']) {
        const playlist = await r2.playlist(`${rendition}/index.m3u8`);
        if (!playlist?.endList || playlist.segments.filter((s) => s.discontinuity).length !== 1) return undefined;
      }
      return true;
    }, 15_000);
    await waitFor('the session folder freed', async () => (existsSync(path.join(stack.mediaDir, stream.streamId, sessionId)) ? undefined : true), 15_000);
    const stopped = await stack.getStream(stream.streamId);
    expect(stopped.activities.map((a: any) => a.event)).toEqual([
      'CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'STOPPED',
    ]);
  });
});

describe('commands from the edge', () => {
  it('deleting a stream disconnects its encoder within a second or two', async () => {
    const stream = await stack.createStream();
    const publisher = start(rtmpUrl(stream.streamKey));
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    const deletedAt = Date.now();
    expect((await stack.api('DELETE', `/live/streams/${stream.streamId}`)).status).toBe(204);
    await Promise.race([publisher.exited, new Promise((r) => setTimeout(r, 5000))]);
    expect(publisher.process.exitCode ?? publisher.process.signalCode).not.toBeNull();
    expect(Date.now() - deletedAt).toBeLessThan(2500);
  });

  it('complete ends the broadcast: the encoder is dropped and the playlists end at once', async () => {
    const stream = await stack.createStream();
    const publisher = start(rtmpUrl(stream.streamKey));
    const live = await stack.waitForStatus(stream.streamId, 'STREAMING');
    await waitFor('a segment', async () => ((await playlistOf(stream)).includes('#EXTINF') ? true : undefined), 20_000);
    const r2 = await durableReader(stack, stream.streamId, live.currentSession.id);
    expect((await stack.api('POST', `/live/streams/${stream.streamId}/complete`)).status).toBe(200);
    await publisher.exited;
    await waitFor('ENDLIST', async () => ((await r2.playlist('source/index.m3u8'))?.endList ? true : undefined), 10_000);
    expect((await stack.getStream(stream.streamId)).status).toBe('STOPPED');
  });
});

describe('edge cache', () => {
  it('many concurrent viewers of one segment cost the origin one fetch at most', async () => {
    const stream = await stack.createStream();
    start(rtmpUrl(stream.streamKey));
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    const playbackId = stream.playbackIds[0].id;
    const base = `${stack.edgeUrl}/hls/${playbackId}`;
    const master = await waitFor('master', async () => {
      const r = await fetch(`${base}/master.m3u8`);
      return r.ok ? r.text() : undefined;
    }, 30_000);
    const variant = master.split('\n').find((l) => l && !l.startsWith('#'))!;
    const media = await waitFor('a segment', async () => {
      const text = await (await fetch(`${base}/${variant}`)).text();
      return text.includes('#EXTINF') ? text : undefined;
    }, 20_000);
    const segment = media.split('\n').find((l) => l.endsWith('.ts'))!;
    const segmentUrl = `${base}/${path.posix.join(path.posix.dirname(variant), segment)}`;

    const before = await stack.originMetric('riverhead_origin_http_requests_total', { route: 'hls' });
    const responses = await Promise.all(Array.from({ length: 50 }, () => fetch(segmentUrl)));
    const bodies = await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    expect(new Set(bodies.map((b) => b.byteLength)).size).toBe(1);
    expect(responses[0]!.headers.get('cache-control')).toContain('immutable');
    const after = await stack.originMetric('riverhead_origin_http_requests_total', { route: 'hls' });
    // At most one fetch reaches the origin: none when the edge finds the segment in R2 (durable media), one otherwise.
    expect(after - before).toBeLessThanOrEqual(1);
  });
});
