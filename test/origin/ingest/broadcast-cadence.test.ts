// The session health's frameRate and keyframeInterval: measured by the Broadcast from the encoder's own video — a real
// ffmpeg publishing over RTMP to the RtmpServer on loopback, and ffmpeg's MPEG-TS (what SRT carries) — and reported in
// its stats events; plus the cadence's own rules (timeline breaks, an overdue keyframe, FLV tag kinds).
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Broadcast } from '../../../origin/ingest/broadcast.ts';
import { RtmpServer } from '../../../origin/rtmp/server.ts';
import { VideoCadence, flvVideoFrame } from '../../../origin/media/video-cadence.ts';
import type { IngestProtocol, OriginEvent, SessionStats } from '../../../shared/schemas/internal.ts';
import { declinedBroadcast, ingestGrant, removeMediaDirs } from '../../support/declined-broadcast.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => removeMediaDirs(dirs));

/** A Broadcast whose transcode is declined (the cadence is measured from the ingest, before any transcode). */
const broadcastFor = (streamId: string, protocol: IngestProtocol, events: OriginEvent[]) =>
  declinedBroadcast(ingestGrant(streamId), protocol, { events, dirs, statsIntervalMs: 500 });

const lastStats = (events: OriginEvent[]) => events.filter((e) => e.type === 'stats').at(-1)?.data as SessionStats | undefined;

/** ffmpeg's encoder arguments for `fps` frames a second and a keyframe every `gop` seconds. */
const encoder = (fps: number, gop: number) => [
  '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${fps}`,
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(fps * gop), '-keyint_min', String(fps * gop), '-sc_threshold', '0',
  '-c:a', 'aac',
];

describe('RTMP: a real ffmpeg publish', () => {
  let server: RtmpServer;
  let port: number;
  const broadcasts = new Map<string, { broadcast: Broadcast; events: OriginEvent[]; closed: Promise<void> }>();

  beforeAll(async () => {
    server = new RtmpServer({
      port: 0,
      host: '127.0.0.1',
      log: () => {},
      onPublish: async (request, connection) => {
        const events: OriginEvent[] = [];
        const broadcast = await broadcastFor(request.streamKey, 'rtmp', events);
        connection.on('metadata', (m) => broadcast.push({ type: 'metadata', timestamp: m.timestamp, properties: m.properties }));
        connection.on('audio', (f) => broadcast.push({ type: 'audio', timestamp: f.timestamp, payload: f.payload }));
        connection.on('video', (f) => broadcast.push({ type: 'video', timestamp: f.timestamp, payload: f.payload }));
        const closed = new Promise<void>((resolve) => connection.on('close', ({ reason }) => (broadcast.end(reason), resolve())));
        broadcasts.set(request.streamKey, { broadcast, events, closed });
        return { ok: true };
      },
    });
    port = (await server.listen()).rtmp.port;
  });
  afterAll(async () => {
    await server?.close();
  });

  async function publish(streamKey: string, fps: number, gop: number, seconds: number) {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', ...encoder(fps, gop), '-t', String(seconds), '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${streamKey}`];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('ffmpeg', args, { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
      child.on('error', reject);
      child.on('close', (c) => (clearTimeout(timer), resolve(c)));
    });
    expect(code).toBe(0);
    const { events, closed, broadcast } = broadcasts.get(streamKey)!;
    await closed;
    await broadcast.reported;
    return events;
  }

  it('30 fps with a keyframe every second reports ≈30 fps and ≈1 s', async () => {
    const events = await publish('ls_rtmp30', 30, 1, 4);
    const stats = lastStats(events)!;
    expect(stats.frameRate).toBeGreaterThan(29.5);
    expect(stats.frameRate).toBeLessThan(30.5);
    expect(stats.keyframeInterval).toBeGreaterThan(0.95);
    expect(stats.keyframeInterval).toBeLessThan(1.05);
  }, 40_000);

  it('25 fps with a keyframe every 2 s reports ≈25 fps and ≈2 s', async () => {
    const events = await publish('ls_rtmp25', 25, 2, 5);
    const stats = lastStats(events)!;
    expect(stats.frameRate).toBeGreaterThan(24.5);
    expect(stats.frameRate).toBeLessThan(25.5);
    expect(stats.keyframeInterval).toBeGreaterThan(1.95);
    expect(stats.keyframeInterval).toBeLessThan(2.05);
  }, 40_000);
});

describe('MPEG-TS (SRT): ffmpeg muxed', () => {
  it('30 fps with a keyframe every second reports ≈30 fps and ≈1 s, read from PES times and random-access flags', async () => {
    const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...encoder(30, 1), '-t', '4', '-f', 'mpegts', 'pipe:1'], {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    });
    const events: OriginEvent[] = [];
    const broadcast = await broadcastFor('ls_srt30', 'srt', events);
    // SRT hands the stream over in 1316-byte payloads (7 TS packets); packets straddle no boundary here, but odd
    // chunking must not matter: push in 1000-byte pieces.
    for (let offset = 0; offset < stdout.length; offset += 1000) broadcast.pushBytes(new Uint8Array(stdout.subarray(offset, offset + 1000)));
    broadcast.end('test over');
    await broadcast.reported;
    const stats = lastStats(events)!;
    expect(stats.frameRate).toBeGreaterThan(29.5);
    expect(stats.frameRate).toBeLessThan(30.5);
    expect(stats.keyframeInterval).toBeGreaterThan(0.95);
    expect(stats.keyframeInterval).toBeLessThan(1.05);
  }, 30_000);
});

describe('VideoCadence', () => {
  const feed = (cadence: VideoCadence, fps: number, gop: number, seconds: number, from = 0) => {
    for (let i = 0; i < fps * seconds; i++) cadence.frame(from + i / fps, i % (fps * gop) === 0);
  };

  it('null until measured; then the rate over the last seconds and the mean of the last keyframe intervals', () => {
    const cadence = new VideoCadence();
    expect(cadence.read()).toEqual({ frameRate: null, keyframeInterval: null });
    cadence.frame(0, true);
    expect(cadence.read()).toEqual({ frameRate: null, keyframeInterval: null });
    const measured = new VideoCadence();
    feed(measured, 60, 2, 10);
    expect(measured.read()).toEqual({ frameRate: 60, keyframeInterval: 2 });
  });

  it('a timestamp going back (a new timeline) forgets the old one; a keyframe overdue longer than usual is the interval', () => {
    const cadence = new VideoCadence();
    feed(cadence, 30, 1, 10, 1000);
    feed(cadence, 25, 2, 6, 0);
    expect(cadence.read()).toEqual({ frameRate: 25, keyframeInterval: 2 });
    // The last keyframe came at 4 s; none since, up to 13 s: the health says 9 s rather than the 2 s of before.
    for (let i = 1; i <= 7 * 25; i++) cadence.frame(6 + i / 25, false);
    expect(cadence.read().keyframeInterval).toBeCloseTo(9, 2);
  });

  it('reads FLV video tags: pictures with their key flag; configuration, end of sequence and commands are no frames', () => {
    expect(flvVideoFrame(Uint8Array.of(0x17, 0x01, 0, 0, 0))).toEqual({ keyframe: true }); // AVC keyframe NALU
    expect(flvVideoFrame(Uint8Array.of(0x27, 0x01, 0, 0, 0))).toEqual({ keyframe: false }); // AVC inter frame
    expect(flvVideoFrame(Uint8Array.of(0x17, 0x00, 0, 0, 0))).toBeNull(); // AVC sequence header
    expect(flvVideoFrame(Uint8Array.of(0x17, 0x02, 0, 0, 0))).toBeNull(); // end of sequence
    expect(flvVideoFrame(Uint8Array.of(0x57, 0x01))).toBeNull(); // command frame
    expect(flvVideoFrame(Uint8Array.of(0x90 | 0x01, 0x68, 0x76, 0x63, 0x31))).toEqual({ keyframe: true }); // E-RTMP hvc1 coded frames
    expect(flvVideoFrame(Uint8Array.of(0xa0 | 0x03, 0x61, 0x76, 0x30, 0x31))).toEqual({ keyframe: false }); // E-RTMP av01 frames X
    expect(flvVideoFrame(Uint8Array.of(0x90 | 0x00, 0x68, 0x76, 0x63, 0x31))).toBeNull(); // E-RTMP sequence start
  });
});
