// The origin's clamp makes every event it builds valid by the contract, whatever ffmpeg or a failure says.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { clampOriginEvent, clampText } from '../../origin/event-clamp.ts';
import { ORIGIN_EVENT_LIMITS, OriginEvent, type SessionStats } from '../../shared/schemas/internal.ts';

const base = { id: 'oev_00000000-0000', streamId: 'ls_1', sessionId: 'ses_1', at: new Date(0).toISOString() };
const stats = (issues: string[] | null, number = 1): SessionStats => ({
  sourceSegments: number, transcodedSegments: number, sourceSegmentsDuration: number, transcodedSegmentsDuration: number,
  sourceBytes: number, transcodedBytes: number, ingestRate: number, outgoingRate: number, isHealthy: false, issues,
});

describe('clampText', () => {
  it('leaves text within the limit alone and cuts longer text to the limit, marked with …', () => {
    expect(clampText('short', 10)).toBe('short');
    expect(clampText('0123456789', 10)).toBe('0123456789');
    expect(clampText('0123456789a', 10)).toBe('012345678…');
  });

  it('never splits a surrogate pair', () => {
    const cut = clampText(`${'a'.repeat(8)}😀😀`, 10); // the emoji straddles the cut
    expect(cut).toBe(`${'a'.repeat(8)}…`);
    expect(Buffer.from(cut).toString()).toBe(cut); // no lone surrogate (it would come back as U+FFFD)
  });
});

describe('clampOriginEvent', () => {
  it('makes a stats event with long ffmpeg stderr lines and too many issues valid, keeping the latest', () => {
    const issues = Array.from({ length: 50 }, (_, i) => `[libx264 @ 0x55d0a1] line ${i} ${'x'.repeat(5000)}`);
    const event = { ...base, type: 'stats', data: stats(issues) } as OriginEvent;
    expect(OriginEvent.safeParse(event).success).toBe(false);
    const clamped = clampOriginEvent(event) as Extract<OriginEvent, { type: 'stats' }>;
    expect(OriginEvent.safeParse(clamped).success).toBe(true);
    expect(clamped.data.issues).toHaveLength(ORIGIN_EVENT_LIMITS.issues);
    expect(clamped.data.issues![0]).toMatch(/^\[libx264 @ 0x55d0a1\] line 30 x+…$/);
  });

  it('turns counters that are not finite or negative into 0', () => {
    const event = { ...base, type: 'stats', data: { ...stats(null), ingestRate: Number.NaN, outgoingRate: -5, sourceSegments: 2.6 } } as OriginEvent;
    const clamped = clampOriginEvent(event) as Extract<OriginEvent, { type: 'stats' }>;
    expect(clamped.data).toMatchObject({ ingestRate: 0, outgoingRate: 0, sourceSegments: 3 });
    expect(OriginEvent.safeParse(clamped).success).toBe(true);
  });

  it('any reason, any issue text: the clamped event is valid and starts with what was said', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\n', '"', '\\'), maxLength: 2000 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 40 }), text, fc.constantFrom('publish_done', 'error', 'recording_failed', 'clip_failed'), (issues, reason, type) => {
        const withStats = clampOriginEvent({ ...base, type: 'stats', data: stats(issues.length ? issues : null) } as OriginEvent);
        expect(OriginEvent.safeParse(withStats).success).toBe(true);
        const data = type === 'clip_failed' ? { clipId: 'clip_1', reason } : { reason };
        const withReason = clampOriginEvent({ ...base, type, data } as OriginEvent) as { data: { reason: string } };
        expect(OriginEvent.safeParse(withReason).success).toBe(true);
        const kept = withReason.data.reason.replace(/…$/, '');
        expect(reason.startsWith(kept)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
