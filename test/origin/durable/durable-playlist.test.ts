// The durable playlist's pure decisions: a prefix of ffmpeg's playlist, degraded listing after 3 s, local retention.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { durablePlaylistText, expiredSegments, lastSequenceOf, locallyListedThrough } from '../../../origin/durable/durable-playlist.ts';
import { parseMediaPlaylist } from '../../../origin/pipeline/playlists.ts';

function ffmpegPlaylist(durations: number[], first = 0, discontinuityAt: number[] = []): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:3', `#EXT-X-MEDIA-SEQUENCE:${first}`, '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-INDEPENDENT-SEGMENTS'];
  durations.forEach((d, i) => {
    const sequence = first + i;
    if (discontinuityAt.includes(sequence)) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${d.toFixed(6)},`, `${sequence < 5 ? 'a1b2c3' : 'd4e5f6'}-${String(sequence).padStart(5, '0')}.ts`);
  });
  return `${lines.join('\n')}\n`;
}

describe('durablePlaylistText', () => {
  it('keeps the header and the segments through the given sequence with their own tags', () => {
    const text = ffmpegPlaylist([2, 2, 2, 2, 2, 2, 2], 0, [5]);
    const cut = durablePlaylistText(text, 5);
    const pl = parseMediaPlaylist(cut);
    expect(pl.playlistType).toBe('EVENT');
    expect(pl.segments.map((s) => [s.uri, s.discontinuity])).toEqual([
      ['a1b2c3-00000.ts', false],
      ['a1b2c3-00001.ts', false],
      ['a1b2c3-00002.ts', false],
      ['a1b2c3-00003.ts', false],
      ['a1b2c3-00004.ts', false],
      ['d4e5f6-00005.ts', true],
    ]);
    expect(pl.endList).toBe(false);
    expect(lastSequenceOf(cut)).toBe(5);
  });

  it('lists only the header before the first segment, and closes with ENDLIST when final', () => {
    const text = ffmpegPlaylist([2, 2], 10);
    expect(parseMediaPlaylist(durablePlaylistText(text, 9)).segments).toEqual([]);
    expect(lastSequenceOf(durablePlaylistText(text, 9))).toBe(9);
    const final = durablePlaylistText(text, 11, true);
    expect(parseMediaPlaylist(final).endList).toBe(true);
    expect(final.match(/#EXT-X-ENDLIST/g)).toHaveLength(1);
    expect(durablePlaylistText(`${text}#EXT-X-ENDLIST\n`, 11, true).match(/#EXT-X-ENDLIST/g)).toHaveLength(1);
  });

  it('keeps each segment\'s EXT-X-PROGRAM-DATE-TIME (ffmpeg writes it after EXTINF) with its segment', () => {
    // What ffmpeg 5.1 wrote with program_date_time, a first run then a resumed one (append_list).
    const text = [
      '#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXTINF:2.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:21:08.186+0000', 's1-00000.ts',
      '#EXTINF:1.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:21:10.186+0000', 's1-00001.ts',
      '#EXT-X-DISCONTINUITY', '#EXTINF:2.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:21:19.271+0000', 's2-00002.ts',
      '#EXTINF:2.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:21:21.271+0000', 's2-00003.ts', '',
    ].join('\n');
    const cut = durablePlaylistText(text, 2);
    expect(cut).toBe(`${text.split('\n').slice(0, 16).join('\n')}\n`);
    expect(parseMediaPlaylist(cut).segments.map((s) => [s.uri, s.duration, s.discontinuity])).toEqual([
      ['s1-00000.ts', 2, false],
      ['s1-00001.ts', 1, false],
      ['s2-00002.ts', 2, true],
    ]);
    expect(lastSequenceOf(cut)).toBe(2);
    expect(durablePlaylistText(text, 3, true)).toBe(`${text}#EXT-X-ENDLIST\n`);
  });

  it('is always a prefix of ffmpeg\'s segments, growing with the cut', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.5, max: 4, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.nat(40), fc.nat(5), (durations, first, cutAt) => {
        const text = ffmpegPlaylist(durations, first);
        const all = parseMediaPlaylist(text).segments;
        const through = first + Math.min(cutAt, durations.length) - 1;
        const cut = parseMediaPlaylist(durablePlaylistText(text, through)).segments;
        expect(cut).toEqual(all.filter((s) => s.sequence <= through));
      }),
    );
  });
});

describe('locallyListedThrough', () => {
  const now = 100_000;
  it('lists stored segments, then pending ones closed more than 3 s ago, in order', () => {
    expect(locallyListedThrough(4, [], now)).toBe(4);
    expect(locallyListedThrough(4, [{ sequence: 5, closedAt: now - 1000 }], now)).toBe(4);
    expect(locallyListedThrough(4, [{ sequence: 6, closedAt: now - 3500 }, { sequence: 5, closedAt: now - 5500 }, { sequence: 7, closedAt: now - 1500 }], now)).toBe(6);
    // a gap (segment 5 unknown) stops the listing
    expect(locallyListedThrough(4, [{ sequence: 6, closedAt: now - 9000 }], now)).toBe(4);
  });
});

describe('expiredSegments', () => {
  it('frees stored segments that ended more than 60 s before the end, never unstored ones', () => {
    const text = ffmpegPlaylist(Array(40).fill(2)); // 80 s
    const expired = expiredSegments(text, 39);
    expect(expired.map((s) => s.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(expiredSegments(text, 3).map((s) => s.sequence)).toEqual([0, 1, 2, 3]);
    expect(expiredSegments(text, 39, 7).map((s) => s.sequence)).toEqual([8, 9]);
    expect(expiredSegments(ffmpegPlaylist(Array(20).fill(2)), 19)).toEqual([]);
  });
});
