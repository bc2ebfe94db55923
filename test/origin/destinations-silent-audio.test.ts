// The gap filler's silent AAC frames, decoded by real ffmpeg: an FLV of the stream's own configuration followed by
// them must decode without an error to digital silence of the right length, for mono and stereo at common rates.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { flvHeader } from '../../origin/media/flv-muxer.ts';
import { encodeTag, type MediaTag } from '../../origin/destinations/flv-tags.ts';
import { silentAudioFor } from '../../origin/destinations/silent-audio.ts';

const run = promisify(execFile);

/** FLV AAC sequence header for AAC-LC at a sampling-frequency index with a channel count. */
const aacConfig = (rateIndex: number, channels: number): MediaTag => {
  const asc = (2 << 11) | (rateIndex << 7) | (channels << 3);
  return { type: 8, timestamp: 0, data: Buffer.from([0xaf, 0, asc >> 8, asc & 0xff]) };
};

describe('silent AAC for a gap', () => {
  for (const { name, rateIndex, rate, channels } of [
    { name: 'stereo 48 kHz', rateIndex: 3, rate: 48_000, channels: 2 },
    { name: 'stereo 44.1 kHz', rateIndex: 4, rate: 44_100, channels: 2 },
    { name: 'mono 44.1 kHz', rateIndex: 4, rate: 44_100, channels: 1 },
    { name: 'mono 16 kHz', rateIndex: 8, rate: 16_000, channels: 1 },
  ]) {
    it(`${name}: decodes to silence of the length laid down`, async () => {
      const config = aacConfig(rateIndex, channels);
      const silence = silentAudioFor(config)!;
      expect(silence.frameMs).toBeCloseTo((1024 * 1000) / rate, 6);
      const frames = 200;
      const tags = [config, ...Array.from({ length: frames }, (_, i) => silence.frame(Math.round(i * silence.frameMs)))];
      const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'silence-')), 'gap.flv');
      await writeFile(file, Buffer.concat([flvHeader({ audio: true, video: false }), ...tags.map(encodeTag)]));
      const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-v', 'info', '-i', file, '-af', 'volumedetect,astats=metadata=0', '-f', 'null', '-']);
      // No decoder complaint, the configuration's layout, and nothing louder than digital silence.
      expect(stderr).not.toMatch(/error|invalid|corrupt/i);
      expect(stderr).toContain(channels === 1 ? 'mono' : 'stereo');
      expect(stderr).toMatch(/max_volume: -(inf|9\d(\.\d+)?) dB/);
      const samples = Number(/n_samples: (\d+)/.exec(stderr)?.[1]);
      expect(samples / channels).toBe(frames * 1024);
    });
  }
});
