// Each leg's PDT lines rewritten from its anchor: byte-level expectations, other legs untouched, prefix stability,
// the durable playlist cut carrying them, and the anchors file read back defensively.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { durablePlaylistText } from '../../../origin/durable/durable-playlist.ts';
import { formatProgramDateTime, legAnchorsText, legOfSegment, parseLegAnchors, rewriteProgramDateTimes } from '../../../origin/durable/program-date-time.ts';

const HEADER = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-INDEPENDENT-SEGMENTS'];

// ffmpeg 5.1's own shape: PDT right after EXTINF, whole-second origin, DISCONTINUITY before a resumed leg's EXTINF.
const FFMPEG = [
  ...HEADER,
  '#EXTINF:2.000000,',
  '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:01.000+0000',
  'a1b2c3-00000.ts',
  '#EXTINF:1.966667,',
  '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:03.000+0000',
  'a1b2c3-00001.ts',
  '#EXT-X-DISCONTINUITY',
  '#EXTINF:2.033333,',
  '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:20.000+0000',
  'd4e5f6-00002.ts',
  '#EXTINF:2.000000,',
  '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:22.033+0000',
  'd4e5f6-00003.ts',
  '',
].join('\n');

const at = (iso: string): number => Date.parse(iso);

describe('rewriteProgramDateTimes', () => {
  it('writes anchor + the leg’s earlier EXTINF for every segment of an anchored leg, in place, byte for byte', () => {
    const text = rewriteProgramDateTimes(FFMPEG, { a1b2c3: at('2026-11-28T14:00:00.250Z'), d4e5f6: at('2026-11-28T14:00:19.004Z') });
    expect(text).toBe(
      [
        ...HEADER,
        '#EXTINF:2.000000,',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:00.250+0000',
        'a1b2c3-00000.ts',
        '#EXTINF:1.966667,',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:02.250+0000',
        'a1b2c3-00001.ts',
        '#EXT-X-DISCONTINUITY',
        '#EXTINF:2.033333,',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:19.004+0000',
        'd4e5f6-00002.ts',
        '#EXTINF:2.000000,',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:21.037+0000',
        'd4e5f6-00003.ts',
        '',
      ].join('\n'),
    );
  });

  it('leaves legs without an anchor exactly as ffmpeg wrote them, and the whole text when there are none', () => {
    expect(rewriteProgramDateTimes(FFMPEG, {})).toBe(FFMPEG);
    const text = rewriteProgramDateTimes(FFMPEG, { d4e5f6: at('2026-11-28T14:00:19.000Z') });
    const lines = text.split('\n');
    expect(lines.slice(0, HEADER.length + 6)).toEqual(FFMPEG.split('\n').slice(0, HEADER.length + 6));
    expect(lines).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:21.033+0000');
  });

  it('adds the line right after EXTINF when a segment had none, and keeps other segment tags around it', () => {
    const bare = [...HEADER, '#EXT-X-DISCONTINUITY', '#EXTINF:2.000000,', '#EXT-X-BYTERANGE:100@0', 'a1b2c3-00000.ts', '#EXT-X-ENDLIST', ''].join('\n');
    expect(rewriteProgramDateTimes(bare, { a1b2c3: at('2026-01-02T03:04:05.006Z') })).toBe(
      [...HEADER, '#EXT-X-DISCONTINUITY', '#EXTINF:2.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.006+0000', '#EXT-X-BYTERANGE:100@0', 'a1b2c3-00000.ts', '#EXT-X-ENDLIST', ''].join('\n'),
    );
  });

  it('never changes what a shorter playlist said when segments are added (R2 legs stay put)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 500, max: 4000 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 29 }), fc.integer({ min: 1, max: 29 }), (ms, cut, legAt) => {
        const lines = [...HEADER];
        ms.forEach((d, i) => {
          if (i === legAt) lines.push('#EXT-X-DISCONTINUITY');
          lines.push(`#EXTINF:${(d / 1000).toFixed(6)},`, '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:00.000+0000', `${i < legAt ? 'aaaaaa' : 'bbbbbb'}-${String(i).padStart(5, '0')}.ts`);
        });
        const full = `${lines.join('\n')}\n`;
        const anchors = { aaaaaa: at('2026-11-28T14:00:00.123Z'), bbbbbb: at('2026-11-28T15:00:00.987Z') };
        const through = Math.min(cut, ms.length - 1);
        const short = rewriteProgramDateTimes(durablePlaylistText(full, through), anchors);
        const long = rewriteProgramDateTimes(full, anchors);
        expect(long.startsWith(short)).toBe(true);
        expect(durablePlaylistText(full, through, false, anchors)).toBe(short);
      }),
    );
  });
});

describe('durablePlaylistText with anchors', () => {
  it('cuts ffmpeg’s playlist and rewrites the PDTs of anchored legs', () => {
    const text = durablePlaylistText(FFMPEG, 2, true, { d4e5f6: at('2026-11-28T14:00:19.500Z') });
    expect(text.split('\n').slice(-5)).toEqual(['#EXTINF:2.033333,', '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:19.500+0000', 'd4e5f6-00002.ts', '#EXT-X-ENDLIST', '']);
    expect(text).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-28T14:00:03.000+0000');
  });
});

describe('PDT helpers', () => {
  it('formats like ffmpeg (milliseconds, +0000) and rounds to the millisecond', () => {
    expect(formatProgramDateTime(Date.UTC(2026, 10, 28, 13, 57, 13, 123))).toBe('2026-11-28T13:57:13.123+0000');
    expect(formatProgramDateTime(Date.UTC(2026, 10, 28, 13, 57, 13) + 999.6)).toBe('2026-11-28T13:57:14.000+0000');
  });

  it('knows a segment’s leg from its name only when it is one of ours', () => {
    expect(legOfSegment('a1b2c3-00042.ts')).toBe('a1b2c3');
    expect(legOfSegment('segment0.ts')).toBeNull();
    expect(legOfSegment('A1B2C3-00042.ts')).toBeNull();
  });

  it('reads back only well-formed anchors, and writes them in a stable order', () => {
    expect(parseLegAnchors('{"a1b2c3":1796479033123,"zzz":1,"d4e5f6":"x","bbbbbb":5,"cccccc":1796479033000.4}')).toEqual({ a1b2c3: 1796479033123, cccccc: 1796479033000 });
    expect(parseLegAnchors('[1,2]')).toEqual({});
    expect(parseLegAnchors('not json')).toEqual({});
    expect(legAnchorsText({ d4e5f6: 2, a1b2c3: 1 })).toBe('{"a1b2c3":1,"d4e5f6":2}\n');
  });
});
