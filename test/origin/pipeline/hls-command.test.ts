// ffmpeg argument lists for live ABR HLS: mapping, codecs, keyframe alignment, HLS muxer flags, resume.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildHlsCommand, commandArgs, newLegTag, segmentPattern, thumbnailOutputArgs } from '../../../origin/pipeline/hls-command.ts';
import type { HlsCommandOptions } from '../../../origin/pipeline/hls-command.ts';
import { chooseLadder } from '../../../origin/pipeline/ladder.ts';
import type { EncodedRendition, Rendition } from '../../../origin/pipeline/ladder.ts';

const ladder = chooseLadder({ width: 1280, height: 720, fps: 30, videoBitrate: 2_500_000 });
const base: HlsCommandOptions = { input: 'flv', outDir: '/media/s1', renditions: ladder, legTag: '0a1b2c' };

/** Value following `flag` in an argument list. */
function valueOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildHlsCommand', () => {
  const cmd = buildHlsCommand(base);
  const out = cmd.outputOptions;

  it('reads the input format from stdin with a short probe', () => {
    expect(cmd.inputOptions.slice(0, 2)).toEqual(['-f', 'flv']);
    expect(valueOf(cmd.inputOptions, '-analyzeduration')).toBe('2000000');
    expect(buildHlsCommand({ ...base, input: 'mpegts' }).inputOptions.slice(0, 2)).toEqual(['-f', 'mpegts']);
  });

  it('maps video and audio once per rendition', () => {
    const maps = out.flatMap((a, i) => (a === '-map' ? [out[i + 1]] : []));
    expect(maps).toEqual(['0:v:0', '0:a:0', '0:v:0', '0:a:0', '0:v:0', '0:a:0']);
  });

  it('copies the source video and audio, encodes the rungs with x264 and AAC', () => {
    expect(valueOf(out, '-c:v:0')).toBe('copy');
    expect(valueOf(out, '-c:a:0')).toBe('copy');
    for (const i of [1, 2]) {
      expect(valueOf(out, `-c:v:${i}`)).toBe('libx264');
      expect(valueOf(out, `-preset:v:${i}`)).toBe('veryfast');
      expect(valueOf(out, `-c:a:${i}`)).toBe('aac');
    }
    expect(valueOf(out, '-filter:v:1')).toBe('scale=854:480');
    expect(valueOf(out, '-b:v:1')).toBe('1400000');
    expect(valueOf(out, '-maxrate:v:1')).toBe('1540000');
    expect(valueOf(out, '-profile:v:1')).toBe('main');
    expect(valueOf(out, '-level:v:1')).toBe('3.1');
  });

  it('forces keyframes on the 2 s grid with a fixed GOP and no scene cuts', () => {
    for (const i of [1, 2]) {
      expect(valueOf(out, `-force_key_frames:v:${i}`)).toBe('expr:gte(t,n_forced*2)');
      expect(valueOf(out, `-sc_threshold:v:${i}`)).toBe('0');
      expect(valueOf(out, `-g:v:${i}`)).toBe('60');
      expect(valueOf(out, `-keyint_min:v:${i}`)).toBe('60');
    }
    expect(valueOf(out, '-fps_mode')).toBe('passthrough');
  });

  it('writes EVENT playlists of 2 s MPEG-TS segments named per rendition, without ENDLIST', () => {
    expect(valueOf(out, '-f')).toBe('hls');
    expect(valueOf(out, '-hls_time')).toBe('2');
    expect(valueOf(out, '-hls_playlist_type')).toBe('event');
    expect(valueOf(out, '-hls_list_size')).toBe('0');
    expect(valueOf(out, '-hls_segment_type')).toBe('mpegts');
    expect(valueOf(out, '-hls_segment_filename')).toBe('/media/s1/%v/0a1b2c-%05d.ts');
    expect(valueOf(out, '-var_stream_map')).toBe('v:0,a:0,name:source v:1,a:1,name:480p v:2,a:2,name:360p');
    expect(cmd.output).toBe('/media/s1/%v/index.m3u8');
    expect(valueOf(out, '-hls_flags')!.split('+').sort()).toEqual(['independent_segments', 'omit_endlist', 'program_date_time', 'temp_file']);
    // Our own master replaces ffmpeg's (which lacks CODECS for a copied stream).
    expect(out).not.toContain('-master_pl_name');
  });

  it('names segments after a fresh leg tag per launch', () => {
    const tags = new Set(Array.from({ length: 50 }, () => newLegTag()));
    expect(tags.size).toBeGreaterThan(45);
    for (const tag of tags) expect(segmentPattern(tag)).toMatch(/^[0-9a-f]{6}-%05d\.ts$/);
    for (const bad of ['', 'ABCDEF', '0a1b2', '0a1b2c3', '../x00']) expect(() => buildHlsCommand({ ...base, legTag: bad })).toThrow();
  });

  it('appends to the existing playlists only when resuming', () => {
    expect(valueOf(buildHlsCommand({ ...base, resume: true }).outputOptions, '-hls_flags')).toContain('append_list');
    expect(valueOf(out, '-hls_flags')).not.toContain('append_list');
  });

  it('drops audio entirely for a video-only source', () => {
    const o = buildHlsCommand({ ...base, hasAudio: false }).outputOptions;
    expect(o.some((a) => a.startsWith('-c:a'))).toBe(false);
    expect(o.filter((a) => a === '0:a:0')).toHaveLength(0);
    expect(valueOf(o, '-var_stream_map')).toBe('v:0,name:source v:1,name:480p v:2,name:360p');
  });

  it('re-encodes the source audio when it is not AAC', () => {
    const o = buildHlsCommand({ ...base, sourceAudio: 'aac' }).outputOptions;
    expect(valueOf(o, '-c:v:0')).toBe('copy');
    expect(valueOf(o, '-c:a:0')).toBe('aac');
  });

  it('turns quality, reduced frame rate, constrained high and the preset into x264 options', () => {
    const rung: EncodedRendition = {
      name: 'low',
      copy: false,
      width: 640,
      height: 360,
      videoBitrate: 600_000,
      audioBitrate: 96_000,
      fps: 15,
      fpsDen: 1,
      gop: 1,
      profile: 'H264ConstrainedHigh',
      level: 30,
      quality: 27,
      reducedFps: true,
    };
    const o = buildHlsCommand({ ...base, renditions: [rung], preset: 'ultrafast' }).outputOptions;
    expect(valueOf(o, '-crf:v:0')).toBe('27');
    expect(o).not.toContain('-b:v:0');
    expect(valueOf(o, '-maxrate:v:0')).toBe('660000');
    expect(valueOf(o, '-filter:v:0')).toBe('scale=640:360,fps=15/1');
    expect(valueOf(o, '-profile:v:0')).toBe('high');
    expect(valueOf(o, '-bf:v:0')).toBe('0');
    expect(valueOf(o, '-g:v:0')).toBe('15');
    expect(valueOf(o, '-force_key_frames:v:0')).toBe('expr:gte(t,n_forced*1)');
    expect(valueOf(o, '-preset:v:0')).toBe('ultrafast');
  });

  it('refuses an empty ladder', () => {
    expect(() => buildHlsCommand({ ...base, renditions: [] })).toThrow();
  });

  it('a live thumbnail is an output of its own before the HLS one, whose options stay the same', () => {
    const thumbnail = { file: '/media/s1/thumbnail.jpg', everySeconds: 10, maxHeight: 720 };
    const withThumb = buildHlsCommand({ ...base, thumbnail }).outputOptions;
    const ends = withThumb.indexOf(thumbnail.file);
    expect(withThumb.slice(0, ends + 1)).toEqual(thumbnailOutputArgs(thumbnail));
    expect(withThumb.slice(ends + 1)).toEqual(out);
    expect(valueOf(withThumb, '-vf')).toBe("select='isnan(prev_selected_t)+gte(abs(t-prev_selected_t),10)',scale=-2:'min(ih,720)'");
    expect(valueOf(withThumb, '-atomic_writing')).toBe('1');
    expect(out).not.toContain('mjpeg');
    expect(() => thumbnailOutputArgs({ ...thumbnail, everySeconds: 0 })).toThrow();
  });

  it('commandArgs puts the input between input and output options', () => {
    const args = commandArgs(cmd);
    expect(args.slice(args.indexOf('-i'), args.indexOf('-i') + 2)).toEqual(['-i', 'pipe:0']);
    expect(args.at(-1)).toBe(cmd.output);
  });
});

describe('properties', () => {
  const ladders = fc
    .record({ width: fc.integer({ min: 64, max: 3840 }), height: fc.integer({ min: 64, max: 2160 }), fps: fc.integer({ min: 10, max: 60 }) })
    .map((s) => chooseLadder(s));

  it('output options are flag/value pairs and every rendition is mapped and named once', () => {
    fc.assert(
      fc.property(ladders, fc.boolean(), fc.boolean(), (l: Rendition[], hasAudio, resume) => {
        const o = buildHlsCommand({ ...base, renditions: l, hasAudio, resume }).outputOptions;
        expect(o.length % 2).toBe(0);
        for (let i = 0; i < o.length; i += 2) expect(o[i]).toMatch(/^-[a-z_]+(:[va](:\d+)?)?$/);
        expect(o.filter((a) => a === '0:v:0')).toHaveLength(l.length);
        const names = valueOf(o, '-var_stream_map')!.split(' ').map((e) => /name:(.+)$/.exec(e)?.[1]);
        expect(names).toEqual(l.map((r) => r.name));
        l.forEach((r, i) => expect(valueOf(o, `-c:v:${i}`)).toBe(r.copy ? 'copy' : 'libx264'));
      }),
    );
  });
});
