// The cost model: a ladder costs more the more pixels, frames and renditions it encodes, a copied rendition is
// cheap, and one 1280x720 30 fps encode is one unit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COPIED_RENDITION_COST, TENTATIVE_STREAM_COST, defaultLadderCost, ladderCost, renditionCost } from '../../../origin/admission/cost.ts';
import { chooseLadder, sourceOnlyLadder } from '../../../origin/pipeline/ladder.ts';

const encoded = (width: number, height: number, fps: number, fpsDen = 1) => ({ copy: false as const, width, height, fps, fpsDen });
const side = fc.integer({ min: 16, max: 4096 });
const rate = fc.integer({ min: 1, max: 120 });

describe('cost model', () => {
  it('one unit is one 1280x720 encode at 30 fps; 29.97 costs a little less', () => {
    expect(renditionCost(encoded(1280, 720, 30))).toBe(1);
    expect(renditionCost(encoded(1920, 1080, 60))).toBe(4.5);
    expect(renditionCost(encoded(30000, 1001, 1))).toBeGreaterThan(0);
    expect(renditionCost(encoded(1280, 720, 30000, 1001))).toBeCloseTo(0.999, 3);
  });

  it('is monotonic in pixels and in frame rate', () => {
    fc.assert(
      fc.property(side, side, rate, fc.integer({ min: 0, max: 512 }), fc.integer({ min: 0, max: 512 }), fc.integer({ min: 0, max: 60 }), (w, h, fps, dw, dh, dfps) => {
        const base = renditionCost(encoded(w, h, fps));
        expect(renditionCost(encoded(w + dw, h + dh, fps))).toBeGreaterThanOrEqual(base);
        expect(renditionCost(encoded(w, h, fps + dfps))).toBeGreaterThanOrEqual(base);
        if (dw + dh > 0) expect(renditionCost(encoded(w + dw, h + dh, fps))).toBeGreaterThan(base);
      }),
    );
  });

  it('grows with every rendition added to a ladder', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(side, side, rate, fc.boolean()), { minLength: 0, maxLength: 8 }), fc.tuple(side, side, rate, fc.boolean()), (rungs, extra) => {
        const toRendition = ([w, h, fps, copy]: [number, number, number, boolean]) => ({ copy, width: w, height: h, fps, fpsDen: 1 });
        const ladder = rungs.map(toRendition);
        expect(ladderCost([...ladder, toRendition(extra)])).toBeGreaterThan(ladderCost(ladder));
      }),
    );
  });

  it('a copied rendition costs the same small amount whatever its size, far below any real encode', () => {
    fc.assert(
      fc.property(side, side, rate, (w, h, fps) => {
        expect(renditionCost({ copy: true, width: w, height: h, fps, fpsDen: 1 })).toBe(COPIED_RENDITION_COST);
        // Even a 240p15 encode costs more than copying a 4K60 source.
        expect(renditionCost(encoded(426, 240, 15))).toBeGreaterThan(COPIED_RENDITION_COST);
      }),
    );
  });

  it('the source-only ladder of any source costs one copy, never more than its full ladder', () => {
    fc.assert(
      fc.property(side, side, fc.integer({ min: 1, max: 60 }), (width, height, fps) => {
        const source = { width, height, fps };
        const sourceOnly = sourceOnlyLadder(source);
        expect(sourceOnly).toHaveLength(1);
        expect(sourceOnly[0]!.copy).toBe(true);
        expect(ladderCost(sourceOnly)).toBe(COPIED_RENDITION_COST);
        expect(ladderCost(chooseLadder(source))).toBeGreaterThanOrEqual(COPIED_RENDITION_COST);
      }),
    );
  });

  it('default ladders cost more for bigger and faster sources', () => {
    const p720 = defaultLadderCost({ width: 1280, height: 720, fps: 30 });
    expect(p720).toBe(TENTATIVE_STREAM_COST);
    // source copied + 480p + 360p
    expect(p720).toBeCloseTo(COPIED_RENDITION_COST + (854 * 480 + 640 * 360) / (1280 * 720), 3);
    expect(defaultLadderCost({ width: 1920, height: 1080, fps: 30 })).toBeGreaterThan(p720);
    // 60 fps reaches the 720p rung of a 1080p60 source (the 480p and 360p rungs drop to 30 fps).
    expect(defaultLadderCost({ width: 1920, height: 1080, fps: 60 })).toBeGreaterThan(defaultLadderCost({ width: 1920, height: 1080, fps: 30 }));
    expect(defaultLadderCost({ width: 854, height: 480, fps: 30 })).toBeLessThan(p720);
  });
});
