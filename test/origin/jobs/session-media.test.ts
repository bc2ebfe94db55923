// The pure decisions about a session folder: which segments are kept and where they sit on the
// timeline, renditions kept aligned, periods between joins, where they go on the concat output, and
// the playlist and list text the jobs write.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignRenditions, keptSegments, periodsOf, segmentIndexAt } from '../../../origin/jobs/session-media.ts';
import type { SegmentVerdict, SessionRendition } from '../../../origin/jobs/session-media.ts';
import { concatTime, planConcat } from '../../../origin/jobs/session-concat.ts';
import type { SegmentProbe } from '../../../origin/jobs/media-probe.ts';
import { buildConcatList, buildVodPlaylist } from '../../../origin/jobs/vod-playlist.ts';
import { parseMediaPlaylist } from '../../../origin/pipeline/playlists.ts';
import type { MediaSegment } from '../../../origin/pipeline/playlists.ts';

const listed = (durations: number[], discontinuityAt: number[] = []): MediaSegment[] =>
  durations.map((duration, i) => ({ uri: `seg_${String(i).padStart(5, '0')}.ts`, duration, sequence: i, discontinuity: discontinuityAt.includes(i) }));
const ok = (n: number): SegmentVerdict[] => Array.from({ length: n }, () => ({ ok: true, bytes: 1000 }));

describe('keptSegments', () => {
  it('puts the kept segments end to end on the timeline and keeps the reconnect joins', () => {
    const k = keptSegments('/s/source', listed([2, 2, 2, 1.5], [2]), ok(4));
    expect(k.segments.map((s) => [s.start, s.discontinuity])).toEqual([[0, false], [2, false], [4, true], [6, false]]);
    expect(k.duration).toBe(7.5);
    expect(k.segments[0]!.file).toBe('/s/source/seg_00000.ts');
  });

  it('drops failed segments; a hole inside becomes a discontinuity, a hole at the start does not', () => {
    const verdicts = ok(5);
    verdicts[0] = { ok: false, reason: 'missing' };
    verdicts[2] = { ok: false, reason: 'truncated (10 bytes)' };
    const k = keptSegments('/s', listed([2, 2, 2, 2, 2]), verdicts);
    expect(k.segments.map((s) => [s.uri, s.start, s.discontinuity])).toEqual([
      ['seg_00001.ts', 0, false],
      ['seg_00003.ts', 2, true],
      ['seg_00004.ts', 4, false],
    ]);
    expect(k.dropped.map((d) => [d.sequence, d.reason])).toEqual([[0, 'missing'], [2, 'truncated (10 bytes)']]);
  });
});

describe('alignRenditions', () => {
  const rendition = (name: string, seqs: number[]): SessionRendition => {
    const all = listed(Array(10).fill(2));
    const verdicts: SegmentVerdict[] = all.map((s) => (seqs.includes(s.sequence) ? { ok: true, bytes: 1 } : { ok: false, reason: 'missing' }));
    return { name, endList: false, ...keptSegments(`/s/${name}`, all, verdicts) };
  };

  it('trims every rendition to the segments all of them have', () => {
    const [source, rung] = alignRenditions(rendition('source', [0, 1, 2, 3, 4]), [rendition('360p', [0, 1, 2, 3])]);
    expect(source!.segments.map((s) => s.sequence)).toEqual([0, 1, 2, 3]);
    expect(rung!.segments.map((s) => s.sequence)).toEqual([0, 1, 2, 3]);
    expect(source!.dropped[0]).toEqual({ uri: 'seg_00004.ts', sequence: 4, reason: 'not in every rendition' });
    expect(source!.duration).toBe(8);
  });

  it('leaves out a rendition that would cost the source more than its last segment', () => {
    const out = alignRenditions(rendition('source', [0, 1, 2, 3, 4]), [rendition('360p', [0, 1, 3, 4])]);
    expect(out.map((r) => r.name)).toEqual(['source']);
    expect(out[0]!.segments).toHaveLength(5);
  });
});

describe('periodsOf and segmentIndexAt', () => {
  it('splits at discontinuities', () => {
    const k = keptSegments('/s', listed([2, 2, 2, 2, 2], [2, 4]), ok(5));
    expect(periodsOf(k.segments).map((p) => p.map((s) => s.sequence))).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('finds the segment holding any instant', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (ms, frac) => {
        const k = keptSegments('/s', listed(ms.map((m) => m / 1000)), ok(ms.length));
        const t = frac * k.duration;
        const i = segmentIndexAt(k.segments, t);
        const s = k.segments[i]!;
        expect(s.start).toBeLessThanOrEqual(t);
        if (i + 1 < k.segments.length) expect(k.segments[i + 1]!.start).toBeGreaterThan(t);
      }),
    );
  });
});

describe('planConcat', () => {
  const probe = (start: number, end: number): SegmentProbe => ({ start, end });

  it('starts each period where the previous one ends, measured on its latest stream', () => {
    const k = keptSegments('/s', listed([2, 2, 2, 2], [2]), ok(4));
    const [p0, p1] = periodsOf(k.segments);
    // The encoder's clock restarts after the reconnect: both periods begin at 1.4 s.
    const plan = planConcat([
      { segments: p0!, first: probe(1.4, 3.43), last: probe(3.39, 5.43) },
      { segments: p1!, first: probe(1.4, 3.43), last: probe(3.39, 5.45) },
    ]);
    expect(plan.periods.map((p) => [p.inpoint, p.offset])).toEqual([[1.4, 0], [1.4, expect.closeTo(4.03, 9)]]);
    expect(plan.duration).toBeCloseTo(8.08, 9);
    expect(concatTime(plan, 1, 2.4)).toBeCloseTo(5.03, 9);
  });
});

describe('playlist and list text', () => {
  it('writes a closed VOD playlist that parses back, with the join and the target duration', () => {
    const text = buildVodPlaylist([
      { uri: 'seg_00000.ts', duration: 2, discontinuity: true },
      { uri: 'seg_00001.ts', duration: 2.5, discontinuity: false },
      { uri: 'seg_00002.ts', duration: 2, discontinuity: true },
    ]);
    const pl = parseMediaPlaylist(text);
    expect(pl).toMatchObject({ playlistType: 'VOD', endList: true, targetDuration: 3, independentSegments: true });
    expect(pl.segments.map((s) => [s.uri, s.duration, s.discontinuity])).toEqual([
      ['seg_00000.ts', 2, false],
      ['seg_00001.ts', 2.5, false],
      ['seg_00002.ts', 2, true],
    ]);
    expect(() => buildVodPlaylist([])).toThrow();
    expect(() => buildVodPlaylist([{ uri: 'a.ts\n#EXT-X-ENDLIST', duration: 2, discontinuity: false }])).toThrow();
  });

  it("writes an ffconcat list, quoting paths with ' in them", () => {
    expect(buildConcatList([{ file: "/m/it's/p0.m3u8", duration: 10.031022 }, { file: '/m/p1.m3u8', inpoint: 1.4 }])).toBe(
      "ffconcat version 1.0\nfile '/m/it'\\''s/p0.m3u8'\nduration 10.031022\nfile '/m/p1.m3u8'\ninpoint 1.400000\n",
    );
  });
});
