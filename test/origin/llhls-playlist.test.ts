// The LL-HLS media playlist as text (rfc8216bis), and the blocking-reload query rules (400s, what satisfies a request).
import { describe, expect, it } from 'vitest';
import { advancePartLimit, blockingRefusal, blockingSatisfied, parseBlockingQuery } from '../../origin/llhls/blocking-reload.ts';
import { lastPartOf, parseMediaName, renderLlPlaylist, type LlPart, type LlRenditionView, type LlSegment } from '../../origin/llhls/ll-playlist.ts';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 0);
const parts = (n: number, last = 0.2): LlPart[] => Array.from({ length: n }, (_, i) => ({ duration: i === n - 1 ? last : 0.2, independent: i === 0 }));
const segment = (msn: number, legTag: string, disc: number, withParts = true): LlSegment => ({
  msn,
  legTag,
  duration: 1,
  programDateTime: T0 + (msn - 10) * 1000,
  discontinuitySequence: disc,
  ...(withParts ? { parts: parts(5) } : {}),
});

describe('renderLlPlaylist', () => {
  it('renders segments, parts of the last three and the one in progress, the hint and rendition reports', () => {
    const view: LlRenditionView = {
      targetDuration: 1,
      partTarget: 0.2,
      segments: [segment(10, 'aaaaaa', 0), segment(11, 'aaaaaa', 0), segment(12, 'bbbbbb', 1), segment(13, 'bbbbbb', 1)],
      current: { msn: 14, legTag: 'bbbbbb', parts: parts(2) },
    };
    // Segment 10's parts are held but it is not among the last three: no EXT-X-PART for it.
    expect(renderLlPlaylist(view, { reports: [{ uri: '../360p/index.m3u8', lastMsn: 14, lastPart: 0 }] })).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:10',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0',
        '#EXT-X-PART-INF:PART-TARGET=0.2',
        '#EXT-X-MAP:URI="init-aaaaaa.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.000Z',
        '#EXTINF:1.00000,',
        'aaaaaa-00010.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:06.000Z',
        '#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00011.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00011.1.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00011.2.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00011.3.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00011.4.m4s"',
        '#EXTINF:1.00000,',
        'aaaaaa-00011.m4s',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="init-bbbbbb.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:07.000Z',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00012.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00012.1.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00012.2.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00012.3.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00012.4.m4s"',
        '#EXTINF:1.00000,',
        'bbbbbb-00012.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:08.000Z',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00013.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00013.1.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00013.2.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00013.3.m4s"',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00013.4.m4s"',
        '#EXTINF:1.00000,',
        'bbbbbb-00013.m4s',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00014.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00014.1.m4s"',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="bbbbbb-00014.2.m4s"',
        '#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=14,LAST-PART=0',
        '',
      ].join('\n'),
    );
  });

  it('renders a delta update: segments wholly before the skip boundary become EXT-X-SKIP, the map is repeated', () => {
    const segments = Array.from({ length: 10 }, (_, i) => segment(100 + i, i < 3 ? 'aaaaaa' : 'bbbbbb', i < 3 ? 4 : 5, i >= 7));
    const view: LlRenditionView = { targetDuration: 1, partTarget: 0.2, segments, current: { msn: 110, legTag: 'bbbbbb', parts: [] } };
    const text = renderLlPlaylist(view, { skip: true });
    // 10 one-second segments, boundary 6 s: the first four lie wholly before it (6 s or more follow each).
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:100',
        '#EXT-X-DISCONTINUITY-SEQUENCE:4',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0',
        '#EXT-X-PART-INF:PART-TARGET=0.2',
        '#EXT-X-SKIP:SKIPPED-SEGMENTS=4',
        '#EXT-X-MAP:URI="init-bbbbbb.mp4"',
        ...[104, 105, 106].flatMap((msn) => [`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + (msn - 10) * 1000).toISOString()}`, '#EXTINF:1.00000,', `bbbbbb-00${msn}.m4s`]),
        ...[107, 108, 109].flatMap((msn) => [
          `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + (msn - 10) * 1000).toISOString()}`,
          ...[0, 1, 2, 3, 4].map((p) => `#EXT-X-PART:DURATION=0.20000,URI="bbbbbb-00${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`),
          '#EXTINF:1.00000,',
          `bbbbbb-00${msn}.m4s`,
        ]),
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="bbbbbb-00110.0.m4s"',
        '',
      ].join('\n'),
    );
    // The full playlist has the discontinuity between the legs where the delta update skipped it.
    const fullText = renderLlPlaylist(view);
    expect(fullText).not.toContain('EXT-X-SKIP');
    expect(fullText.match(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-bbbbbb.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:1.00000,\nbbbbbb-00103.m4s/)).not.toBeNull();
  });

  it('skips nothing while the playlist is shorter than the skip boundary', () => {
    const view: LlRenditionView = { targetDuration: 2, partTarget: 0.2, segments: [segment(1, 'aaaaaa', 0)], current: { msn: 2, legTag: 'aaaaaa', parts: parts(1) } };
    expect(renderLlPlaylist(view, { skip: true })).not.toContain('EXT-X-SKIP');
  });

  it('renders the first parts of a stream before any segment closed', () => {
    const view: LlRenditionView = { targetDuration: 2, partTarget: 0.25, segments: [], current: { msn: 0, legTag: 'cccccc', parts: parts(1, 0.25) } };
    expect(renderLlPlaylist(view)).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.75,CAN-SKIP-UNTIL=12.0',
        '#EXT-X-PART-INF:PART-TARGET=0.25',
        '#EXT-X-MAP:URI="init-cccccc.mp4"',
        '#EXT-X-PART:DURATION=0.25000,URI="cccccc-00000.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cccccc-00000.1.m4s"',
        '',
      ].join('\n'),
    );
    expect(lastPartOf(view)).toEqual({ msn: 0, part: 0 });
  });

  it('names and recognises the files of a low-mode rendition', () => {
    expect(parseMediaName('index.m3u8')).toEqual({ kind: 'playlist' });
    expect(parseMediaName('init-abc123.mp4')).toEqual({ kind: 'init', legTag: 'abc123' });
    expect(parseMediaName('abc123-00042.m4s')).toEqual({ kind: 'segment', legTag: 'abc123', msn: 42 });
    expect(parseMediaName('abc123-123456.7.m4s')).toEqual({ kind: 'part', legTag: 'abc123', msn: 123456, part: 7 });
    for (const other of ['master.m3u8', 'abc123-00001.ts', 'abc123-1.m4s', 'ABC-00001.m4s', 'init-.mp4', 'abc123-00001.x.m4s', 'thumb.jpg']) expect(parseMediaName(other)).toBeUndefined();
  });
});

describe('blocking reload rules', () => {
  it('parses _HLS_msn, _HLS_part and _HLS_skip, ignoring other parameters', () => {
    expect(parseBlockingQuery('')).toEqual({ ok: true, request: { skip: false } });
    expect(parseBlockingQuery('_HLS_msn=12&_HLS_part=3&token=x')).toEqual({ ok: true, request: { msn: 12, part: 3, skip: false } });
    expect(parseBlockingQuery('_HLS_msn=12&_HLS_skip=YES')).toEqual({ ok: true, request: { msn: 12, skip: true } });
    expect(parseBlockingQuery('_HLS_skip=v2')).toEqual({ ok: true, request: { skip: true } });
  });

  it('refuses _HLS_part without _HLS_msn, and malformed values, naming the field', () => {
    expect(parseBlockingQuery('_HLS_part=1')).toMatchObject({ ok: false, field: '_HLS_part' });
    expect(parseBlockingQuery('_HLS_msn=-1')).toMatchObject({ ok: false, field: '_HLS_msn' });
    expect(parseBlockingQuery('_HLS_msn=1.5')).toMatchObject({ ok: false, field: '_HLS_msn' });
    expect(parseBlockingQuery('_HLS_msn=1&_HLS_msn=2')).toMatchObject({ ok: false, field: '_HLS_msn' });
    expect(parseBlockingQuery('_HLS_msn=1&_HLS_part=x')).toMatchObject({ ok: false, field: '_HLS_part' });
    expect(parseBlockingQuery('_HLS_skip=NO')).toMatchObject({ ok: false, field: '_HLS_skip' });
  });

  const at = { lastClosedMsn: 20, lastPart: { msn: 21, part: 2 }, partTarget: 0.2 };

  it('answers 400 for a segment more than two past the last, or a part beyond the advance part limit', () => {
    expect(advancePartLimit(0.2)).toBe(15);
    expect(advancePartLimit(1)).toBe(3);
    expect(blockingRefusal({ msn: 23, skip: false }, at)).toBeUndefined();
    expect(blockingRefusal({ msn: 24, skip: false }, at)).toMatchObject({ field: '_HLS_msn' });
    expect(blockingRefusal({ msn: 21, part: 17, skip: false }, at)).toBeUndefined();
    expect(blockingRefusal({ msn: 21, part: 18, skip: false }, at)).toMatchObject({ field: '_HLS_part' });
    expect(blockingRefusal({ skip: true }, at)).toBeUndefined();
  });

  it('is satisfied by the segment or part asked for, or anything later', () => {
    expect(blockingSatisfied({ skip: false }, at)).toBe(true);
    expect(blockingSatisfied({ msn: 20, skip: false }, at)).toBe(true);
    expect(blockingSatisfied({ msn: 21, skip: false }, at)).toBe(false);
    expect(blockingSatisfied({ msn: 21, part: 2, skip: false }, at)).toBe(true);
    expect(blockingSatisfied({ msn: 21, part: 3, skip: false }, at)).toBe(false);
    expect(blockingSatisfied({ msn: 20, part: 9, skip: false }, at)).toBe(true);
    expect(blockingSatisfied({ msn: 22, part: 0, skip: false }, at)).toBe(false);
  });
});
