// Which durable segments a job fetches (pure): all of the source for an export; for a clip, those covering its range
// on the session timeline plus the segment that opened the encoder run it starts in; and the disk estimate.
import { describe, expect, it } from 'vitest';
import { estimateBytes, placeSegments, planSegments } from '../../../origin/jobs/durable-session.ts';

// 2 s segments; the encoder reconnected before the 6th (index 5).
const segments = placeSegments(Array.from({ length: 10 }, (_, i) => ({ uri: `abcdef-${String(i).padStart(5, '0')}.ts`, duration: 2, sequence: i, discontinuity: i === 5 })));

describe('planSegments', () => {
  it('places segments on the session timeline (sum of EXTINF)', () => {
    expect(segments.map((s) => s.start)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('takes every segment for an export', () => {
    expect(planSegments(segments, { kind: 'export' })).toEqual({ first: 0, last: 9 });
  });

  it("takes a clip's covering segments and the head of its encoder run", () => {
    expect(planSegments(segments, { kind: 'clip', startTime: 12.5, endTime: 16 })).toEqual({ first: 6, last: 7, runHead: 5 });
    // An end exactly on a boundary belongs to the segment before it.
    expect(planSegments(segments, { kind: 'clip', startTime: 2, endTime: 4 })).toEqual({ first: 1, last: 1, runHead: 0 });
  });

  it('needs no run head when the range starts in the run opening segment', () => {
    expect(planSegments(segments, { kind: 'clip', startTime: 0.2, endTime: 3 })).toEqual({ first: 0, last: 1 });
    expect(planSegments(segments, { kind: 'clip', startTime: 10, endTime: 19.5 })).toEqual({ first: 5, last: 9 });
  });
});

describe('estimateBytes', () => {
  it('uses the average bandwidth when the master gives one, else the peak; unknown without a variant', () => {
    expect(estimateBytes({ bandwidth: 4_000_000, averageBandwidth: 2_000_000 }, 10)).toBe(2_500_000);
    expect(estimateBytes({ bandwidth: 4_000_000 }, 10)).toBe(5_000_000);
    expect(estimateBytes(undefined, 10)).toBeNull();
    expect(estimateBytes({ bandwidth: Number.NaN }, 10)).toBeNull();
  });
});
