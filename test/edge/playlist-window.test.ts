// The windows of a live media playlist (edge/playlist-window.ts), byte for byte on playlists shaped like ffmpeg's
// (program_date_time: each segment's PROGRAM-DATE-TIME between its EXTINF and its URI, `+0000` offsets; append_list
// resumes marked by a DISCONTINUITY), and fast-check properties of the sequence numbers.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { applyLiveWindow, cutBetween, slidingWindow, windowFrom } from '../../edge/playlist-window.ts';
import { asVodPlaylist } from '../../edge/playlist-rewrite.ts';

const T0 = Date.parse('2026-11-28T13:00:00.000Z');
/** ffmpeg's date format: milliseconds and a `+0000` offset. */
const pdt = (ms: number) => `#EXT-X-PROGRAM-DATE-TIME:${new Date(ms).toISOString().replace('Z', '+0000')}`;

interface Fixture {
  durations: number[];
  /** indexes of segments preceded by a DISCONTINUITY */
  breaks?: number[];
  dated?: boolean;
  mediaSequence?: number;
  ended?: boolean;
  /** the date of segment i; by default T0 + the durations before it */
  startOf?: (i: number) => number;
}

/** A playlist as ffmpeg writes it with -hls_playlist_type event -hls_flags program_date_time. */
function playlist({ durations, breaks = [], dated = true, mediaSequence = 0, ended = false, startOf }: Fixture): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`, '#EXT-X-PLAYLIST-TYPE:EVENT'];
  let at = T0;
  durations.forEach((d, i) => {
    if (breaks.includes(i)) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${d.toFixed(6)},`);
    if (dated) lines.push(pdt(startOf ? startOf(i) : at));
    lines.push(`seg-${String(mediaSequence + i).padStart(5, '0')}.ts`);
    at += d * 1000;
  });
  if (ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

const uris = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const tag = (text: string, name: string) => {
  const m = new RegExp(`^#${name}:(.*)$`, 'm').exec(text);
  return m ? m[1] : undefined;
};

describe('slidingWindow', () => {
  it('keeps the last 60 s, advancing MEDIA-SEQUENCE by the dropped count and dropping PLAYLIST-TYPE:EVENT', () => {
    const text = playlist({ durations: Array(40).fill(2), mediaSequence: 5 });
    expect(slidingWindow(text)).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:15',
        ...Array.from({ length: 30 }, (_, k) => [`#EXTINF:2.000000,`, pdt(T0 + (10 + k) * 2000), `seg-${String(15 + k).padStart(5, '0')}.ts`]).flat(),
        '',
      ].join('\n'),
    );
  });

  it('keeps whole segments: at least the window, never less', () => {
    const text = playlist({ durations: [2, 2, 2, 1.5, 2, 2] });
    expect(uris(slidingWindow(text, 5))).toEqual(['seg-00003.ts', 'seg-00004.ts', 'seg-00005.ts']);
    expect(uris(slidingWindow(text, 4))).toEqual(['seg-00004.ts', 'seg-00005.ts']);
    expect(tag(slidingWindow(text, 4), 'EXT-X-MEDIA-SEQUENCE')).toBe('4');
  });

  it('advances DISCONTINUITY-SEQUENCE by the discontinuities dropped, adding the tag when there was none', () => {
    // ffmpeg marks an append_list resume with a DISCONTINUITY; two legs dropped, the third's join kept.
    const text = playlist({ durations: Array(12).fill(2), breaks: [3, 6, 9] });
    const window = slidingWindow(text, 8);
    expect(uris(window)).toEqual(['seg-00008.ts', 'seg-00009.ts', 'seg-00010.ts', 'seg-00011.ts']);
    expect(tag(window, 'EXT-X-DISCONTINUITY-SEQUENCE')).toBe('2');
    expect(window.match(/#EXT-X-DISCONTINUITY$/gm)).toHaveLength(1);
    const withTag = text.replace('#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:4');
    expect(tag(slidingWindow(withTag, 8), 'EXT-X-DISCONTINUITY-SEQUENCE')).toBe('6');
  });

  it('a playlist shorter than the window, not typed EVENT, comes back byte for byte', () => {
    const text = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\nb0b0b0-00007.ts\n';
    expect(slidingWindow(text)).toBe(text);
    const noNewline = '#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2.000,\r\na.ts';
    expect(slidingWindow(noNewline)).toBe(noNewline);
  });

  it('an ended playlist keeps its ENDLIST; what is not a playlist is left alone', () => {
    const window = slidingWindow(playlist({ durations: Array(40).fill(2), ended: true }));
    expect(window.endsWith('seg-00039.ts\n#EXT-X-ENDLIST\n')).toBe(true);
    expect(slidingWindow('not a playlist')).toBe('not a playlist');
    expect(slidingWindow('#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n')).toBe('#EXTM3U\n');
  });

  it('an init section or key set by a dropped segment is carried onto the first one kept', () => {
    const text = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:2,', 'a.m4s', '#EXTINF:2,', 'b.m4s', ''].join('\n');
    expect(slidingWindow(text, 2)).toBe(['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:1', '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:2,', 'b.m4s', ''].join('\n'));
  });
});

describe('windowFrom', () => {
  const text = playlist({ durations: Array(10).fill(2) }); // segments start at T0, T0+2 s, … T0+18 s; ends T0+20 s

  it('starts at the boundary nearest to the instant, keeping PLAYLIST-TYPE:EVENT (the list only grows)', () => {
    const window = windowFrom(text, T0 + 6900);
    expect(uris(window)).toEqual(['seg-00003.ts', 'seg-00004.ts', 'seg-00005.ts', 'seg-00006.ts', 'seg-00007.ts', 'seg-00008.ts', 'seg-00009.ts']);
    expect(tag(window, 'EXT-X-MEDIA-SEQUENCE')).toBe('3');
    expect(tag(window, 'EXT-X-PLAYLIST-TYPE')).toBe('EVENT');
    expect(window.startsWith(['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:3', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXTINF:2.000000,', pdt(T0 + 6000), 'seg-00003.ts'].join('\n'))).toBe(true);
    expect(uris(windowFrom(text, T0 + 7100))[0]).toBe('seg-00004.ts');
    expect(windowFrom(text, T0 - 60_000)).toBe(text);
  });

  it('before a segment reaches the instant the list is empty, numbered for the segment to come', () => {
    const window = windowFrom(text, T0 + 25_000);
    expect(uris(window)).toEqual([]);
    expect(tag(window, 'EXT-X-MEDIA-SEQUENCE')).toBe('10');
    // The next segment [20 s, 22 s] arrives: the instant is nearer its end, the list stays empty at 11.
    const longer = playlist({ durations: Array(11).fill(2) });
    expect(tag(windowFrom(longer, T0 + 25_000), 'EXT-X-MEDIA-SEQUENCE')).toBe('11');
  });

  it('reads PROGRAM-DATE-TIME with or without a colon in the offset, and derives undated segments from the one before', () => {
    const colon = text.replaceAll('+0000', '+00:00');
    expect(uris(windowFrom(colon, T0 + 6900))[0]).toBe('seg-00003.ts');
    const sparse = text.split('\n').filter((line, i, all) => !(line.startsWith('#EXT-X-PROGRAM-DATE-TIME') && all[i + 1] !== 'seg-00000.ts')).join('\n');
    expect(sparse.match(/PROGRAM-DATE-TIME/g)).toHaveLength(1);
    expect(uris(windowFrom(sparse, T0 + 6900))[0]).toBe('seg-00003.ts');
  });

  it('segments without PROGRAM-DATE-TIME (older sessions): the whole list', () => {
    const undated = playlist({ durations: Array(10).fill(2), dated: false });
    expect(windowFrom(undated, T0 + 6900)).toBe(undated);
    expect(cutBetween(undated, T0 + 6900, T0 + 10_000)).toBe(undated);
  });
});

describe('cutBetween', () => {
  it('the live part: boundaries nearest to each instant, closed as a VOD by asVodPlaylist', () => {
    // Rehearsal from T0; a reconnect (resume) at segment 6; live from T0+7.2 s to T0+15.1 s.
    const text = playlist({ durations: Array(12).fill(2), breaks: [6], ended: false });
    const vod = asVodPlaylist(cutBetween(text, T0 + 7200, T0 + 15_100));
    expect(vod).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:4',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        ...[4, 5].flatMap((i) => ['#EXTINF:2.000000,', pdt(T0 + i * 2000), `seg-0000${i}.ts`]),
        '#EXT-X-DISCONTINUITY',
        ...[6, 7].flatMap((i) => ['#EXTINF:2.000000,', pdt(T0 + i * 2000), `seg-0000${i}.ts`]),
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
  });

  it('an end past the list keeps its end; a later ENDLIST stays when the end is cut', () => {
    const text = playlist({ durations: Array(5).fill(2), ended: true });
    expect(uris(cutBetween(text, T0 + 3900, T0 + 60_000))).toEqual(['seg-00002.ts', 'seg-00003.ts', 'seg-00004.ts']);
    const cut = cutBetween(text, T0, T0 + 4100);
    expect(uris(cut)).toEqual(['seg-00000.ts', 'seg-00001.ts']);
    expect(cut.endsWith('seg-00001.ts\n#EXT-X-ENDLIST\n')).toBe(true);
    // An end before the start is the start: nothing, not a reversed cut.
    expect(uris(cutBetween(text, T0 + 6000, T0 + 1000))).toEqual([]);
  });

  it('the end is measured from the start boundary by the live part\'s length, not rounded on its own', () => {
    // Live from T0+7.1 s to T0+14.9 s (7.8 s). The start rounds up to 8 s; rounding the end on its own (to 14 s) would
    // give a 6 s VOD, 1.8 s short. The boundary nearest 8 s + 7.8 s = 15.8 s is 16 s: an 8 s VOD, 0.2 s long.
    const text = playlist({ durations: Array(12).fill(2) });
    expect(cutBetween(text, T0 + 7100, T0 + 14_900)).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:4',
        '#EXT-X-PLAYLIST-TYPE:EVENT',
        ...[4, 5, 6, 7].flatMap((i) => ['#EXTINF:2.000000,', pdt(T0 + i * 2000), `seg-0000${i}.ts`]),
        '',
      ].join('\n'),
    );
    // The other way: the start rounds down (T0+6.9 s → 6 s), the end's own nearest (T0+13.1 s → 14 s) would make 8 s of
    // a 6.2 s part; by length it is 6 s + 6.2 s → 12 s: 6 s.
    expect(uris(cutBetween(text, T0 + 6900, T0 + 13_100))).toEqual(['seg-00003.ts', 'seg-00004.ts', 'seg-00005.ts']);
  });

  it('irregular segments: the end boundary nearest to start + length, and never past the last listed segment', () => {
    // Keyframe jitter: boundaries at 0, 1.9, 4.0, 6.05, 7.95, 10.05, 12.0 s.
    const text = playlist({ durations: [1.9, 2.1, 2.05, 1.9, 2.1, 1.95] });
    // Start 3.7 s → 4.0 s; length 5.2 s → 9.2 s, nearest 10.05 s (0.85 s) rather than 7.95 s (1.25 s).
    expect(uris(cutBetween(text, T0 + 3700, T0 + 8900))).toEqual(['seg-00002.ts', 'seg-00003.ts', 'seg-00004.ts']);
    // Start 1.2 s → 1.9 s; length 10.7 s → 12.6 s: past the list, so its end (12.0 s).
    expect(uris(cutBetween(text, T0 + 1200, T0 + 11_900))).toEqual(['seg-00001.ts', 'seg-00002.ts', 'seg-00003.ts', 'seg-00004.ts', 'seg-00005.ts']);
  });
});

describe('properties', () => {
  const fixtures = fc.record({
    durations: fc.array(fc.integer({ min: 500, max: 4000 }).map((ms) => ms / 1000), { minLength: 0, maxLength: 60 }),
    breakEvery: fc.integer({ min: 2, max: 20 }),
    mediaSequence: fc.integer({ min: 0, max: 1_000_000 }),
  });
  const build = (f: { durations: number[]; breakEvery: number; mediaSequence: number }) =>
    playlist({ durations: f.durations, mediaSequence: f.mediaSequence, breaks: f.durations.map((_, i) => i).filter((i) => i > 0 && i % f.breakEvery === 0) });

  /** Each listed segment's media sequence and discontinuity sequence, by URI. */
  function numbering(text: string): Map<string, [number, number]> {
    let sequence = Number(tag(text, 'EXT-X-MEDIA-SEQUENCE') ?? 0);
    let discontinuity = Number(tag(text, 'EXT-X-DISCONTINUITY-SEQUENCE') ?? 0);
    const out = new Map<string, [number, number]>();
    for (const line of text.split('\n')) {
      if (line === '#EXT-X-DISCONTINUITY') discontinuity++;
      else if (line !== '' && !line.startsWith('#')) out.set(line, [sequence++, discontinuity]);
    }
    return out;
  }

  it('every window numbers each segment as the whole list does, and is a tail of it', () => {
    fc.assert(
      fc.property(fixtures, fc.integer({ min: -5000, max: 250_000 }), fc.integer({ min: 1, max: 120 }), (f, offset, seconds) => {
        const text = build(f);
        const whole = numbering(text);
        for (const window of [slidingWindow(text, seconds), windowFrom(text, T0 + offset), applyLiveWindow(text, { type: 'sliding', fromMs: T0 + offset })]) {
          const listed = numbering(window);
          for (const [uri, numbers] of listed) expect(numbers).toEqual(whole.get(uri));
          expect([...listed.keys()]).toEqual([...whole.keys()].slice(whole.size - listed.size));
        }
      }),
    );
  });

  it('a sliding window lasts at least its seconds when the list does, and drops no segment it needs', () => {
    fc.assert(
      fc.property(fixtures, fc.integer({ min: 1, max: 120 }), (f, seconds) => {
        const window = slidingWindow(build(f), seconds);
        const kept = f.durations.slice(f.durations.length - uris(window).length);
        const total = kept.reduce((a, b) => a + b, 0);
        if (kept.length < f.durations.length) {
          expect(total).toBeGreaterThanOrEqual(seconds - 1e-6);
          expect(total - kept[0]!).toBeLessThan(seconds);
        }
        expect(window).not.toContain('PLAYLIST-TYPE:EVENT');
      }),
    );
  });

  it('never empty while a segment starts after the boundary; the start is within half a segment of the instant', () => {
    fc.assert(
      fc.property(fixtures, fc.integer({ min: 0, max: 250_000 }), (f, offset) => {
        const text = build(f);
        const window = windowFrom(text, T0 + offset);
        const listed = uris(window);
        const starts = f.durations.map((_, i) => T0 + f.durations.slice(0, i).reduce((a, b) => a + b, 0) * 1000);
        const end = T0 + f.durations.reduce((a, b) => a + b, 0) * 1000;
        if (starts.some((s) => s >= T0 + offset)) expect(listed.length).toBeGreaterThan(0);
        const first = listed.length > 0 ? starts[f.durations.length - listed.length]! : end;
        const neighbours = [...starts, end].filter((b) => b !== first);
        // No other boundary is strictly nearer to the instant than the chosen one.
        for (const b of neighbours) expect(Math.abs(first - (T0 + offset))).toBeLessThanOrEqual(Math.abs(b - (T0 + offset)) + 1e-6);
      }),
    );
  });

  it('a cut lasts the live part\'s length within half its longest segment, and starts where a DVR window does', () => {
    // Regular 2 s segments, and ones with keyframe jitter (1.9-2.1 s), dated as ffmpeg does (start + media time).
    const durationsMs = fc.oneof(
      fc.integer({ min: 1, max: 60 }).map((n) => Array<number>(n).fill(2000)),
      fc.array(fc.integer({ min: 1900, max: 2100 }), { minLength: 1, maxLength: 60 }),
    );
    fc.assert(
      fc.property(durationsMs, fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (ms, a, b) => {
        const starts = ms.map((_, i) => T0 + ms.slice(0, i).reduce((x, y) => x + y, 0));
        const end = T0 + ms.reduce((x, y) => x + y, 0);
        // fromMs and toMs anywhere in the list (uniform in millionths of it; fc.double would crowd near 0).
        const fromMs = T0 + Math.round((Math.min(a, b) / 1_000_000) * (end - T0));
        const toMs = T0 + Math.round((Math.max(a, b) / 1_000_000) * (end - T0));
        const text = playlist({ durations: ms.map((d) => d / 1000), startOf: (i) => starts[i]! });
        const kept = uris(cutBetween(text, fromMs, toMs));
        const first = kept.length > 0 ? Number(/(\d+)\.ts$/.exec(kept[0]!)![1]) : null;
        const vodSeconds = kept.reduce((sum, uri) => sum + ms[Number(/(\d+)\.ts$/.exec(uri)![1])]! / 1000, 0);
        const halfLongest = Math.max(...ms) / 2000;
        expect(Math.abs(vodSeconds - (toMs - fromMs) / 1000)).toBeLessThanOrEqual(halfLongest + 1e-6);
        if (first !== null) expect(first).toBe(Number(/(\d+)\.ts$/.exec(uris(windowFrom(text, fromMs))[0]!)![1]));
      }),
      { numRuns: 500 },
    );
  });

  it('a DVR window never loses a segment as the live playlist grows', () => {
    fc.assert(
      fc.property(fixtures, fc.integer({ min: 0, max: 250_000 }), (f, offset) => {
        const fromMs = T0 + offset;
        let previous: Map<string, [number, number]> | null = null;
        for (let n = 0; n <= f.durations.length; n++) {
          const listed = numbering(windowFrom(build({ ...f, durations: f.durations.slice(0, n) }), fromMs));
          if (previous) for (const uri of previous.keys()) expect(listed.has(uri)).toBe(true);
          previous = listed;
        }
      }),
      { numRuns: 50 },
    );
  });
});
