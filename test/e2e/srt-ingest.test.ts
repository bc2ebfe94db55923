// SRT ingest end to end: ffmpeg callers using the create response's SRT URL verbatim, one UDP port for every
// stream, refusals before any transcode (a wrong key or passphrase without even an edge call), a reconnect within
// the window, and garbage datagrams while live.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { ffprobe, Publishers } from '../support/encoder.ts';

let stack: Stack;
/** 640x360 makes a source-only ladder: the transcodes copy, which keeps two cores free for the rest. */
const publishers = new Publishers({ format: 'mpegts', size: '640x360' });
const start = (url: string) => publishers.start(url);

beforeAll(async () => {
  stack = await startStack({ capacity: 3 });
});
afterAll(async () => {
  await publishers.stopAll();
  await stack?.stop();
});

async function sourcePlaylist(streamId: string, sessionId: string): Promise<string> {
  return readFile(path.join(stack.mediaDir, streamId, sessionId, 'source', 'index.m3u8'), 'utf8').catch(() => '');
}
const segments = (playlist: string) => playlist.match(/#EXTINF/g)?.length ?? 0;

async function playsThroughEdge(stream: any): Promise<any> {
  const master = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8`;
  return waitFor('playback through the edge', async () => {
    const probe = await ffprobe(master).catch(() => undefined);
    return probe?.streams?.some((s: any) => s.codec_type === 'video') ? probe : undefined;
  }, 30_000);
}

async function sendGarbage(port: number, count: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(1 + Math.floor(Math.random() * 1400));
      if (i % 4 === 0 && payload.length >= 16) payload.writeUInt32BE(0x80000000, 0); // an SRT handshake's first word
      await new Promise<void>((resolve) => socket.send(payload, port, '127.0.0.1', () => resolve()));
    }
  } finally {
    socket.close();
  }
}

let live: any; // streaming from the first test on, for the second publisher refusal

describe('SRT ingest', () => {
  it('two streams published at once to one port both go STREAMING and play through the edge, garbage UDP or not', async () => {
    const [a, b] = [await stack.createStream(), await stack.createStream()];
    expect(a.ingest.srt.port).toBe(stack.ports.srt);
    expect(a.ingest.srt.url).toContain(`srt://127.0.0.1:${stack.ports.srt}?`);
    start(a.ingest.srt.url);
    const publisherB = start(b.ingest.srt.url);
    const [liveA, liveB] = await Promise.all([stack.waitForStatus(a.streamId, 'STREAMING'), stack.waitForStatus(b.streamId, 'STREAMING')]);
    for (const probe of await Promise.all([playsThroughEdge(a), playsThroughEdge(b)])) {
      expect(probe.streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    }

    const before = [segments(await sourcePlaylist(a.streamId, liveA.currentSession.id)), segments(await sourcePlaylist(b.streamId, liveB.currentSession.id))];
    await sendGarbage(stack.ports.srt, 3000);
    await waitFor('both playlists to keep growing', async () => {
      const now = [segments(await sourcePlaylist(a.streamId, liveA.currentSession.id)), segments(await sourcePlaylist(b.streamId, liveB.currentSession.id))];
      return now[0]! > before[0]! && now[1]! > before[1]! ? true : undefined;
    }, 15_000);
    for (const stream of [a, b]) {
      const after = await stack.getStream(stream.streamId);
      expect(after.status).toBe('STREAMING');
      expect(after.currentSession.reconnects).toBe(0);
    }
    await playsThroughEdge(b);
    await publisherB.kill('SIGTERM'); // a clean SRT shutdown: its slot is free again at once
    live = a;
  });

  it('refuses a wrong key, a wrong passphrase, a disabled stream and a second publisher before any transcode starts', async () => {
    // The create response's passphrase is the one origins derive from the key, so the hook can check it alone.
    expect(live.srtSecret).toMatch(/^[0-9a-f]{32}$/);
    const transcodes = await stack.originMetric('riverhead_transcodes_started_total');
    const refusals = (reason: string) => stack.originMetric('riverhead_publish_refusals_total', { reason });
    const [unknownBefore, disabledBefore, liveBefore] = [await refusals('unknown_stream_key'), await refusals('stream_disabled'), await refusals('already_live')];

    const wrongKey = start(live.ingest.srt.url.replace(live.streamKey, 'sk_wrongwrongwrongwrongwrongwrong0'));
    const victim = await stack.createStream();
    const wrongPassphrase = start(victim.ingest.srt.url.replace(victim.srtSecret, 'not-the-passphrase-0123456789'));
    const disabled = await stack.createStream();
    await stack.api('PUT', `/live/streams/${disabled.streamId}/live-disable`);
    const toDisabled = start(disabled.ingest.srt.url);
    const second = start(live.ingest.srt.url);

    for (const refused of [wrongKey, wrongPassphrase, toDisabled, second]) expect(await refused.exited).not.toBe(0);
    expect(await stack.originMetric('riverhead_transcodes_started_total')).toBe(transcodes);
    // A wrong key cannot have the passphrase of the key it names: libsrt refuses it, the edge never hears of it.
    expect(await refusals('unknown_stream_key')).toBe(unknownBefore);
    expect(await refusals('stream_disabled')).toBe(disabledBefore + 1);
    expect(await refusals('already_live')).toBe(liveBefore + 1);
    expect(second.output()).toMatch(/Input\/output error|Connection/i);
    // The one already publishing is untouched, and a wrong passphrase never made its stream live.
    expect((await stack.getStream(live.streamId)).status).toBe('STREAMING');
    const untouched = await stack.getStream(victim.streamId);
    expect(untouched.status).toBe('NOT_STARTED');
    expect(untouched.activities.map((a: any) => a.event)).toEqual(['CREATED']);
    await publishers.stopAll('SIGTERM');
  });

  it('a caller killed and back within the window continues the same session, with one discontinuity', async () => {
    const stream = await stack.createStream({ reconnectWindow: 30 });
    const first = start(stream.ingest.srt.url);
    const streaming = await stack.waitForStatus(stream.streamId, 'STREAMING');
    const sessionId = streaming.currentSession.id;
    await waitFor('a segment', async () => (segments(await sourcePlaylist(stream.streamId, sessionId)) >= 1 ? true : undefined), 20_000);

    await first.kill('SIGKILL'); // no SRT shutdown: the origin notices when the link goes silent
    await stack.waitForStatus(stream.streamId, 'DISCONNECTED', 15_000);
    start(stream.ingest.srt.url);
    const resumed = await stack.waitForStatus(stream.streamId, 'STREAMING');
    expect(resumed.currentSession).toMatchObject({ id: sessionId, reconnects: 1 });

    const joinedAt = segments(await sourcePlaylist(stream.streamId, sessionId));
    await waitFor('segments after the join', async () => (segments(await sourcePlaylist(stream.streamId, sessionId)) >= joinedAt + 2 ? true : undefined), 20_000);
    const playlist = await sourcePlaylist(stream.streamId, sessionId);
    expect(playlist.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    const sequences = [...playlist.matchAll(/[0-9a-f]{6}-(\d{5,})\.ts/g)].map((m) => Number(m[1]));
    expect(sequences.length).toBeGreaterThan(2);
    expect(new Set(sequences).size).toBe(sequences.length);
  });
});
