// Ladder selection: default rungs below the source, maxResolution caps, explicit profiles, metadata.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseLadder, describeSource, h264Level, rationalFps } from '../../../origin/pipeline/ladder.ts';
import type { EncodedRendition, Profile, Rendition } from '../../../origin/pipeline/ladder.ts';

const shape = (l: Rendition[]): string[] => l.map((r) => `${r.name}:${r.width}x${r.height}${r.copy ? ':copy' : ''}`);
const encoded = (l: Rendition[]): EncodedRendition[] => l.filter((r): r is EncodedRendition => !r.copy);

describe('default ladder', () => {
  it.each([
    [{ width: 1280, height: 720, fps: 30 }, {}, ['source:1280x720:copy', '480p:854x480', '360p:640x360']],
    [{ width: 1920, height: 1080, fps: 30 }, {}, ['source:1920x1080:copy', '720p:1280x720', '480p:854x480', '360p:640x360']],
    [{ width: 3840, height: 2160, fps: 30 }, {}, ['source:3840x2160:copy', '1080p:1920x1080', '720p:1280x720', '480p:854x480', '360p:640x360']],
    [{ width: 640, height: 360, fps: 30 }, {}, ['source:640x360:copy']],
    [{ width: 320, height: 240, fps: 15 }, {}, ['source:320x240:copy']],
    [{ width: 1366, height: 768, fps: 30 }, {}, ['source:1366x768:copy', '720p:1280x720', '480p:854x480', '360p:640x360']],
    [{ width: 1440, height: 1080, fps: 30 }, {}, ['source:1440x1080:copy', '720p:960x720', '480p:640x480', '360p:480x360']],
    // Portrait: lines are counted on the short side.
    [{ width: 720, height: 1280, fps: 30 }, {}, ['source:720x1280:copy', '480p:480x854', '360p:360x640']],
    [{ width: 1920, height: 1080, fps: 30 }, { maxResolution: '720p' as const }, ['720p:1280x720', '480p:854x480', '360p:640x360']],
    [{ width: 1280, height: 720, fps: 30 }, { maxResolution: '720p' as const }, ['source:1280x720:copy', '480p:854x480', '360p:640x360']],
    [{ width: 3840, height: 2160, fps: 30 }, { maxResolution: '1440p' as const }, ['1440p:2560x1440', '1080p:1920x1080', '720p:1280x720', '480p:854x480', '360p:640x360']],
    [{ width: 1280, height: 720, fps: 30 }, { maxResolution: '360p' as const }, ['360p:640x360']],
    [{ width: 1280, height: 720, fps: 30 }, { maxResolution: '2160p' as const }, ['source:1280x720:copy', '480p:854x480', '360p:640x360']],
  ])('%j %j', (source, settings, expected) => {
    expect(shape(chooseLadder(source, settings))).toEqual(expected);
  });

  it('keeps 60 fps on HD rungs and halves it below 720p', () => {
    const l = encoded(chooseLadder({ width: 1920, height: 1080, fps: 60 }));
    expect(l.map((r) => [r.name, r.fps, r.fpsDen, r.reducedFps])).toEqual([
      ['720p', 60, 1, false],
      ['480p', 30, 1, true],
      ['360p', 30, 1, true],
    ]);
  });

  it('keeps NTSC rates exact', () => {
    const l = chooseLadder({ width: 1920, height: 1080, fps: 59.94 });
    expect(l.map((r) => `${r.fps}/${r.fpsDen}`)).toEqual(['60000/1001', '60000/1001', '60000/2002', '60000/2002']);
  });

  it('gives rungs no more bits than the source carries', () => {
    const l = chooseLadder({ width: 1920, height: 1080, fps: 30, videoBitrate: 2_000_000 });
    expect(l[0]).toMatchObject({ name: 'source', videoBitrate: 2_000_000 });
    expect(encoded(l).map((r) => r.videoBitrate)).toEqual([2_000_000, 1_400_000, 800_000]);
  });

  it('sets a fixed 2 s GOP, a level and a profile on every encoded rung', () => {
    for (const r of encoded(chooseLadder({ width: 1920, height: 1080, fps: 30 }))) {
      expect(r.gop).toBe(2);
      expect(r.level).toBeGreaterThanOrEqual(30);
      expect(['H264High', 'H264Main']).toContain(r.profile);
    }
  });
});

describe('explicit profiles', () => {
  const p = (over: Partial<Profile>): Profile => ({ name: '720p', width: 1280, height: 720, bitrate: 3_000_000, fps: 30, ...over });

  it('replaces the default rungs and keeps the source', () => {
    const l = chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({}), p({ name: '240p', width: 426, height: 240, bitrate: 300_000 })] });
    expect(shape(l)).toEqual(['source:1920x1080:copy', '720p:1280x720', '240p:426x240']);
    expect(encoded(l)[1]).toMatchObject({ videoBitrate: 300_000, profile: 'H264Main' });
  });

  it('drops profiles that would upscale or exceed maxResolution', () => {
    const l = chooseLadder({ width: 1280, height: 720, fps: 30 }, { profiles: [p({ name: '1080p', width: 1920, height: 1080 }), p({})], maxResolution: '480p' });
    // Nothing fits under 480p: one rung at the cap rather than an empty ladder.
    expect(shape(l)).toEqual(['480p:854x480']);
  });

  it('sanitises and de-duplicates names', () => {
    const l = chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({ name: '../Evil Name!' }), p({ name: 'evil-name' }), p({ name: 'source' }), p({ name: '' })] });
    expect(l.map((r) => r.name)).toEqual(['source', 'evil-name', 'evil-name-2', 'source-2', '720p']);
  });

  it('never raises the frame rate and honours a lower one', () => {
    const [, up, down] = chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({ fps: 60 }), p({ name: 'low', fps: 15 })] }) as [Rendition, EncodedRendition, EncodedRendition];
    expect([up.fps, up.reducedFps]).toEqual([30, false]);
    expect([down.fps, down.fpsDen, down.reducedFps]).toEqual([15, 1, true]);
  });

  it('keeps a GOP that divides the segment and replaces one that does not', () => {
    const l = encoded(chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({ gop: 1 }), p({ gop: 3 }), p({ gop: 0.5 }), p({ gop: 0 })] }));
    expect(l.map((r) => r.gop)).toEqual([1, 2, 0.5, 2]);
  });

  it('carries profile and clamps quality', () => {
    const [, r] = chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({ profile: 'H264Baseline', quality: 99 })] }) as [Rendition, EncodedRendition];
    expect(r).toMatchObject({ profile: 'H264Baseline', quality: 44 });
  });

  it('fills a missing side from the source aspect ratio', () => {
    const l = chooseLadder({ width: 1920, height: 1080, fps: 30 }, { profiles: [p({ width: 0, height: 360 })] });
    expect(shape(l)[1]).toBe('720p:640x360');
  });
});

describe('h264Level', () => {
  it.each([
    [640, 360, 30, 30],
    [854, 480, 30, 31],
    [640, 480, 25, 30],
    [1280, 720, 30, 31],
    [1280, 720, 60, 32],
    [1920, 1080, 30, 40],
    [1920, 1080, 60, 42],
    [2560, 1440, 30, 50],
    [3840, 2160, 30, 51],
    [3840, 2160, 60, 52],
  ])('%ix%i@%i → %i', (w, h, fps, level) => {
    expect(h264Level(w, h, fps)).toBe(level);
  });
});

describe('rationalFps', () => {
  it.each([
    [30, 30, 1],
    [29.97, 30000, 1001],
    [59.94, 60000, 1001],
    [23.976, 24000, 1001],
    [25, 25, 1],
    [0, 30, 1],
    [Number.NaN, 30, 1],
  ])('%d', (fps, num, den) => {
    expect(rationalFps(fps)).toEqual({ fps: num, fpsDen: den });
  });
});

describe('describeSource', () => {
  it('reads onMetaData with kbps rates and the AAC codec id', () => {
    expect(describeSource({ width: 1280, height: 720, framerate: 30, videodatarate: 2500, audiodatarate: 128, audiocodecid: 10 })).toEqual({
      width: 1280,
      height: 720,
      fps: 30,
      videoBitrate: 2_500_000,
      audioBitrate: 128_000,
      audio: 'aac',
    });
  });
  it.each([
    [{ width: 640, height: 360, audiocodecid: 2 }, 'other'],
    [{ width: 640, height: 360 }, 'none'],
    [{ width: 640, height: 360, stereo: true }, 'unknown'],
    [null, 'unknown'],
  ])('%j → audio %s', (meta, audio) => {
    expect(describeSource(meta).audio).toBe(audio);
  });
  it('ignores nonsense values', () => {
    expect(describeSource({ width: 'x', height: -5, framerate: Number.POSITIVE_INFINITY })).toEqual({ width: 1280, height: 720, audio: 'unknown' });
  });
});

describe('properties', () => {
  const source = fc.record({
    width: fc.integer({ min: 16, max: 4096 }),
    height: fc.integer({ min: 16, max: 4096 }),
    fps: fc.double({ min: 1, max: 120, noNaN: true }),
  });
  const maxResolution = fc.option(fc.constantFrom('2160p', '1440p', '1080p', '720p', '480p', '360p') as fc.Arbitrary<'720p'>, { nil: undefined });

  it('every ladder is non-empty, uniquely and safely named, even-sized and admitted by its level', () => {
    fc.assert(
      fc.property(source, maxResolution, (s, max) => {
        const l = chooseLadder(s, max ? { maxResolution: max } : {});
        expect(l.length).toBeGreaterThan(0);
        expect(new Set(l.map((r) => r.name)).size).toBe(l.length);
        for (const r of l) {
          expect(r.name).toMatch(/^[a-z0-9_-]+$/);
          expect(r.width % 2).toBe(0);
          expect(r.height % 2).toBe(0);
          expect(r.videoBitrate).toBeGreaterThan(0);
          if (!r.copy) expect(h264Level(r.width, r.height, r.fps / r.fpsDen)).toBeLessThanOrEqual(r.level);
        }
      }),
    );
  });

  it('default rungs sit strictly below the source and never above the cap', () => {
    fc.assert(
      fc.property(source, maxResolution, (s, max) => {
        const l = chooseLadder(s, max ? { maxResolution: max } : {});
        const srcLines = Math.min(s.width, s.height);
        const cap = max ? Number.parseInt(max, 10) : Number.POSITIVE_INFINITY;
        const hasSource = l.some((r) => r.copy);
        expect(hasSource).toBe(Math.round(srcLines / 2) * 2 <= cap || srcLines <= cap);
        for (const r of encoded(l)) {
          const lines = Math.min(r.width, r.height);
          expect(lines).toBeLessThanOrEqual(Math.min(cap, Math.max(2, Math.round(srcLines / 2) * 2)));
          if (hasSource) expect(lines).toBeLessThan(srcLines);
          expect(r.fps / r.fpsDen).toBeLessThanOrEqual(Math.max(s.fps, 30) + 0.5);
        }
      }),
    );
  });
});
