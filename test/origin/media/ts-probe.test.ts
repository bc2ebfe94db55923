// What an MPEG-TS stream tells the ladder: SPS fixtures from x264 (cropping, 4:2:2, VUI frame rates), MPEG-TS made
// by ffmpeg with and without audio, fed in odd-sized pieces and after garbage, and arbitrary bytes never throwing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSps, unescapeRbsp } from '../../../origin/media/h264-sps.ts';
import { TsProbe } from '../../../origin/media/ts-probe.ts';
import { describeSource } from '../../../origin/pipeline/ladder.ts';

const run = promisify(execFile);
const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

describe('parseSps', () => {
  const cases: [string, string, object][] = [
    ['x264 baseline 1280x720 at 30 fps', '6742c01fda014016ec0440000003004000000f03c60ca8', { profileIdc: 66, levelIdc: 31, width: 1280, height: 720, fps: 30 }],
    ['x264 high 1920x1080 (8 rows cropped) at 25 fps', '67640028acd940780227e5c044000003000400000300c83c60c658', { profileIdc: 100, levelIdc: 40, width: 1920, height: 1080, fps: 25 }],
    ['x264 high 4:2:2 854x480 at 29.97 fps', '677a001fbcd940d83de6f01100000303e90000ea600f183196', { profileIdc: 122, width: 854, height: 480, fps: 29.97 }],
  ];
  for (const [name, sps, expected] of cases) {
    it(name, () => expect(parseSps(hex(sps))).toMatchObject(expected));
  }

  it('refuses what is not an SPS, or ends early', () => {
    expect(parseSps(hex('68ce0fc8'))).toBeNull(); // a PPS
    expect(parseSps(hex('6742c01f'))).toBeNull();
    expect(parseSps(new Uint8Array())).toBeNull();
  });

  it('removes emulation prevention bytes', () => {
    expect(unescapeRbsp(hex('0000030100000300'))).toEqual(hex('000001000000'));
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const info = parseSps(Uint8Array.of(0x67, ...bytes));
      if (info) expect(info.width > 0 && info.height > 0).toBe(true);
    }));
  });
});

async function transportStream(args: string[]): Promise<Uint8Array> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args, '-t', '0.5', '-f', 'mpegts', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 32 * 1024 * 1024,
  });
  return new Uint8Array(stdout);
}

function probeIn(bytes: Uint8Array, pieceSize: number) {
  const probe = new TsProbe();
  for (let offset = 0; offset < bytes.length; offset += pieceSize) {
    const found = probe.push(bytes.subarray(offset, offset + pieceSize));
    if (found) return found;
  }
  return null;
}

describe('TsProbe on ffmpeg output', () => {
  const video = (size: string, rate: string) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`];
  const tone = ['-f', 'lavfi', '-i', 'sine=sample_rate=48000'];
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

  it('reads size, frame rate and AAC, in SRT-sized pieces', async () => {
    const ts = await transportStream([...video('854x480', '30'), ...tone, ...x264, '-c:a', 'aac']);
    const meta = probeIn(ts, 1316);
    expect(meta).toEqual({ width: 854, height: 480, framerate: 30, audiocodecid: 'mp4a' });
    expect(describeSource(meta)).toMatchObject({ width: 854, height: 480, fps: 30, audio: 'aac' });
  });

  it('says there is no audio when the PMT lists none', async () => {
    const ts = await transportStream([...video('1920x1080', '25'), ...x264]);
    const meta = probeIn(ts, 7);
    expect(meta).toEqual({ width: 1920, height: 1080, framerate: 25 });
    expect(describeSource(meta).audio).toBe('none');
  });

  it('marks audio other than AAC, so it is re-encoded', async () => {
    const ts = await transportStream([...video('640x360', '30'), ...tone, ...x264, '-c:a', 'mp2']);
    expect(describeSource(probeIn(ts, 65536)).audio).toBe('other');
  });

  it('finds its way after garbage, in a stream joined mid-packet', async () => {
    // Headers repeated and short GOPs, as a caller joining a running encoder would see them.
    const ts = await transportStream([...video('640x360', '30'), ...tone, ...x264, '-g', '5', '-c:a', 'aac', '-mpegts_flags', 'resend_headers']);
    const garbage = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff);
    const meta = probeIn(Uint8Array.from([...garbage, ...ts.subarray(100)]), 1316);
    expect(meta).toMatchObject({ width: 640, height: 360, audiocodecid: 'mp4a' });
  });

  it('gives up after a few MiB without a PMT, and never throws on arbitrary bytes', () => {
    const probe = new TsProbe();
    let result = null;
    for (let i = 0; i < 5 && !result; i++) result = probe.push(new Uint8Array(1024 * 1024).fill(0x47));
    expect(result).toEqual({});
    expect(probe.done).toBe(true);
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 20 }), (pieces) => {
      const p = new TsProbe();
      for (const piece of pieces) p.push(piece);
    }));
  });
});
