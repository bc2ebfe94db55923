// Real encoders against RtmpServer on loopback: FFmpeg over RTMP (FLV rebuilt from the messages and read
// by ffprobe), FFmpeg refused by the hook, FFmpeg over RTMPS with a throwaway cert, GStreamer's rtmp2sink.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { FlvMuxer } from '../../../origin/media/flv-muxer.ts';
import type { FlvInput } from '../../../origin/media/flv-muxer.ts';
import type { PublishRequest } from '../../../origin/rtmp/connection.ts';
import { RtmpServer } from '../../../origin/rtmp/server.ts';

const hasGst = spawnSync('gst-launch-1.0', ['--version']).status === 0;
// x264enc lives in plugins-ugly, which Debian images often lack; openh264enc (plugins-bad) does the same job here.
const gstEncoder = hasGst ? ['x264enc', 'openh264enc'].find((e) => spawnSync('gst-inspect-1.0', [e]).status === 0) : undefined;

interface Publish {
  request: PublishRequest;
  media: FlvInput[];
  closed: Promise<string>;
}

interface RunResult {
  code: number | null;
  ms: number;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Date.now() - t0, stderr });
    });
  });
}

const ffmpegPublish = (url: string, seconds: number) => [
  '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
  '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-c:a', 'aac',
  '-t', String(seconds), '-f', 'flv', url,
];

let dir: string;
let server: RtmpServer;
let rtmpPort: number;
let rtmpsPort: number;
const publishes = new Map<string, Publish>();
const logs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rtmp-it-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', keyPath, '-out', certPath]);
  if (openssl.status !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`);

  server = new RtmpServer({
    port: 0,
    host: '127.0.0.1',
    // One as PEM text, one as a path: both forms are accepted.
    tls: { port: 0, cert: readFileSync(certPath, 'utf8'), key: keyPath },
    log: (event, fields) => logs.push(`${event} ${JSON.stringify(fields)}`),
    onPublish: async (request, connection) => {
      const media: FlvInput[] = [];
      connection.on('metadata', (m) => media.push({ type: 'metadata', ...m }));
      connection.on('audio', (f) => media.push({ type: 'audio', ...f }));
      connection.on('video', (f) => media.push({ type: 'video', ...f }));
      const closed = new Promise<string>((resolve) => connection.on('close', ({ reason }) => resolve(reason)));
      publishes.set(request.streamKey, { request, media, closed });
      return request.streamKey.startsWith('reject') ? { ok: false, reason: 'Stream key refused.' } : { ok: true };
    },
  });
  const addresses = await server.listen();
  rtmpPort = addresses.rtmp.port;
  rtmpsPort = addresses.rtmps!.port;
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const count = (media: FlvInput[], type: FlvInput['type']) => media.filter((m) => m.type === type).length;

describe.concurrent('RtmpServer with real encoders', () => {
  it('receives FFmpeg over RTMP, and the FLV rebuilt from its messages has h264 and aac for ffprobe', async ({ expect }) => {
    const result = await run('ffmpeg', ffmpegPublish(`rtmp://127.0.0.1:${rtmpPort}/live/testkey`, 3));
    expect(result.code, result.stderr).toBe(0);
    const publish = publishes.get('testkey')!;
    expect(await publish.closed).toBe('unpublished');
    expect(publish.request).toEqual({ app: 'live', streamKey: 'testkey', remoteAddress: '127.0.0.1', protocol: 'rtmp' });

    const metadata = publish.media.find((m) => m.type === 'metadata');
    expect(metadata).toMatchObject({ properties: { width: 640, height: 360, videocodecid: 7, audiocodecid: 10 } });
    expect(count(publish.media, 'video')).toBeGreaterThanOrEqual(60);
    expect(count(publish.media, 'audio')).toBeGreaterThanOrEqual(60);
    // The first frames are the AVC and AAC sequence headers.
    const firstVideo = publish.media.find((m) => m.type === 'video');
    const firstAudio = publish.media.find((m) => m.type === 'audio');
    expect(firstVideo?.type === 'video' && [...firstVideo.payload.subarray(0, 2)]).toEqual([0x17, 0x00]);
    expect(firstAudio?.type === 'audio' && [firstAudio.payload[0]! >> 4, firstAudio.payload[1]]).toEqual([10, 0]);

    const muxer = new FlvMuxer({ audio: true, video: true });
    const flvPath = path.join(dir, 'testkey.flv');
    writeFileSync(flvPath, Buffer.concat(publish.media.map((m) => muxer.push(m))));
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', flvPath]);
    expect(probe.status, probe.stderr.toString()).toBe(0);
    const streams = (JSON.parse(probe.stdout.toString()) as { streams: { codec_name: string; width?: number; height?: number }[] }).streams;
    expect(streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(streams.find((s) => s.codec_name === 'h264')).toMatchObject({ width: 640, height: 360 });
  });

  it('refuses FFmpeg when the hook says no: FFmpeg fails fast and no media is delivered', async ({ expect }) => {
    const result = await run('ffmpeg', ffmpegPublish(`rtmp://127.0.0.1:${rtmpPort}/live/rejectme`, 3));
    expect(result.code).not.toBe(0);
    expect(result.ms).toBeLessThan(3000);
    const publish = publishes.get('rejectme')!;
    expect(await publish.closed).toBe('publish rejected');
    expect(publish.media).toEqual([]);
    expect(logs.join('\n')).not.toContain('rejectme');
  });

  it('receives FFmpeg over RTMPS', async ({ expect }) => {
    const result = await run('ffmpeg', ffmpegPublish(`rtmps://127.0.0.1:${rtmpsPort}/live/key`, 1));
    expect(result.code, result.stderr).toBe(0);
    const publish = publishes.get('key')!;
    expect(await publish.closed).toBe('unpublished');
    expect(publish.request).toMatchObject({ app: 'live', streamKey: 'key', protocol: 'rtmps' });
    expect(count(publish.media, 'metadata')).toBeGreaterThanOrEqual(1);
    expect(count(publish.media, 'video')).toBeGreaterThanOrEqual(15);
    expect(count(publish.media, 'audio')).toBeGreaterThanOrEqual(15);
  });

  // Skipped only where gst-launch-1.0 (or any H.264 encoder element for it) is not installed.
  it.skipIf(!hasGst || !gstEncoder)('receives GStreamer rtmp2sink', async ({ expect }) => {
    const pipeline = [
      '-q', 'videotestsrc', 'num-buffers=90', '!', gstEncoder!, '!', 'h264parse', '!', 'flvmux', 'name=m', '!',
      'rtmp2sink', `location=rtmp://127.0.0.1:${rtmpPort}/live/gstkey`,
    ];
    const result = await run('gst-launch-1.0', pipeline);
    expect(result.code, result.stderr).toBe(0);
    const publish = publishes.get('gstkey')!;
    await publish.closed;
    expect(publish.request).toMatchObject({ app: 'live', streamKey: 'gstkey', protocol: 'rtmp' });
    expect(publish.media.find((m) => m.type === 'metadata')).toMatchObject({ properties: { videocodecid: 7 } });
    expect(count(publish.media, 'video')).toBeGreaterThanOrEqual(90);
  });
});
