// The clip range check the edge and the clip job share: table-driven, like a 400's causes.
import { describe, expect, it } from 'vitest';
import { MAX_CLIP_SECONDS, validateClipRange } from '../../../origin/jobs/clip.ts';

describe('validateClipRange', () => {
  const available = 120;
  const cases: [string, number, number, { maxSeconds?: number; available?: number }, null | { field: string; message: RegExp }][] = [
    ['a plain range', 10, 20, {}, null],
    ['from the very start', 0, 5, {}, null],
    ['up to the very end', 100, 120, {}, null],
    ['exactly the limit', 0, 60, { maxSeconds: 60 }, null],
    ['end equal to start', 10, 10, {}, { field: 'endTime', message: /after startTime/ }],
    ['end before start', 20, 10, {}, { field: 'endTime', message: /after startTime/ }],
    ['a negative start', -1, 10, {}, { field: 'startTime', message: /negative/ }],
    ['a negative end', -5, -1, {}, { field: 'startTime', message: /negative/ }],
    ['a start past the media', 120, 130, {}, { field: 'startTime', message: /beyond the 120 s available/ }],
    ['an end past the media', 110, 121, {}, { field: 'endTime', message: /beyond the 120 s available/ }],
    ['longer than the limit', 0, 61, { maxSeconds: 60 }, { field: 'endTime', message: /limit is 60 s/ }],
    ['longer than the default limit', 0, MAX_CLIP_SECONDS + 1, { available: 1000 }, { field: 'endTime', message: new RegExp(`limit is ${MAX_CLIP_SECONDS} s`) }],
    ['shorter than a tenth of a second', 10, 10.05, {}, { field: 'endTime', message: /at least 0.1 s/ }],
    ['NaN', Number.NaN, 10, {}, { field: 'startTime', message: /number/ }],
    ['Infinity', 0, Number.POSITIVE_INFINITY, {}, { field: 'endTime', message: /number/ }],
    ['nothing recorded yet', 0, 1, { available: 0 }, { field: 'startTime', message: /beyond the 0 s available/ }],
  ];
  it.each(cases)('%s', (_name, startTime, endTime, o, expected) => {
    const problem = validateClipRange({ startTime, endTime, available: o.available ?? available, ...(o.maxSeconds !== undefined ? { maxSeconds: o.maxSeconds } : {}) });
    if (expected === null) expect(problem).toBeNull();
    else {
      expect(problem?.field).toBe(expected.field);
      expect(problem?.message).toMatch(expected.message);
    }
  });
});
