// An export's progress figure (pure): phases weighed into 0..1, ffmpeg's -progress output read, at most one report
// per interval and only forward.
import { describe, expect, it } from 'vitest';
import { EXPORT_PHASES, exportProgress, progressSeconds, ProgressThrottle, uploadFraction } from '../../../origin/jobs/export-progress.ts';

describe('exportProgress', () => {
  it('weighs the phases in order and clamps', () => {
    expect(EXPORT_PHASES.download + EXPORT_PHASES.mux + EXPORT_PHASES.upload).toBeCloseTo(1, 9);
    expect(exportProgress('download', 0)).toBe(0);
    expect(exportProgress('download', 0.5)).toBeCloseTo(EXPORT_PHASES.download / 2, 9);
    expect(exportProgress('mux', 0)).toBeCloseTo(EXPORT_PHASES.download, 9);
    expect(exportProgress('mux', 2)).toBeCloseTo(EXPORT_PHASES.download + EXPORT_PHASES.mux, 9);
    expect(exportProgress('upload', 1)).toBeCloseTo(1, 9);
    expect(exportProgress('mux', Number.NaN)).toBeCloseTo(EXPORT_PHASES.download, 9);
  });
});

describe('progressSeconds', () => {
  it("reads the last out_time_us of ffmpeg's -progress blocks", () => {
    const text = 'frame=10\nout_time_us=1500000\nout_time=00:00:01.500000\nprogress=continue\nframe=90\nout_time_us=12250000\nprogress=continue\nout_time_us=N/A\n';
    expect(progressSeconds(text)).toBe(12.25);
    expect(progressSeconds('')).toBeUndefined();
    expect(progressSeconds('out_time_us=-5\n')).toBeUndefined();
  });
});

describe('ProgressThrottle', () => {
  it('reports at most once per interval, only forward, never 1', () => {
    const t = new ProgressThrottle(2000);
    expect(t.next(0.1, 0)).toBe(0.1);
    expect(t.next(0.2, 1999)).toBeNull();
    expect(t.next(0.3, 2000)).toBe(0.3);
    expect(t.next(0.25, 5000)).toBeNull();
    expect(t.next(1, 9000)).toBe(0.999);
    expect(t.next(1, 20000)).toBeNull();
  });
});

describe('uploadFraction', () => {
  it('estimates from the rate the segments came in at, never claiming done', () => {
    const fetched = { bytes: 100_000_000, ms: 10_000 }; // 10 MB/s
    expect(uploadFraction(50_000_000, 2_500, fetched)).toBeCloseTo(0.5, 9);
    expect(uploadFraction(50_000_000, 60_000, fetched)).toBe(0.95);
    expect(uploadFraction(50_000_000, 1_000, { bytes: 0, ms: 0 })).toBe(0);
  });
});
