// Which processing clips their origin lost (edge/stream/clip-jobs.ts): only one its origin, heard more than 10 s after
// taking the job in a beat that lists jobs, no longer lists.
import { describe, it, expect } from 'vitest';
import { clipJobLost } from '../../../edge/stream/clip-jobs.ts';
import { JOB_UNLISTED_AFTER_MS } from '../../../edge/stream/recording-flow.ts';

const TAKEN = 1_800_000_000_000;
const clip = (patch: Partial<Parameters<typeof clipJobLost>[0]> = {}) => ({ id: 'clip_1', status: 'processing' as const, origin_id: 'origin-a', updated_at: TAKEN, ...patch });
const heard = (after: number, jobIds: string[] | null) => ({ heardAt: TAKEN + after, sessionIds: [], jobIds });

describe('clipJobLost', () => {
  it('a clip left out of a beat more than JOB_UNLISTED_AFTER_MS after its origin took it is lost; a listed one is not', () => {
    expect(clipJobLost(clip(), heard(JOB_UNLISTED_AFTER_MS + 1, ['rec_1']))).toBe(true);
    expect(clipJobLost(clip(), heard(JOB_UNLISTED_AFTER_MS + 1, ['clip_1']))).toBe(false);
    expect(clipJobLost(clip(), heard(JOB_UNLISTED_AFTER_MS, []))).toBe(false);
  });

  it('nothing is concluded from an origin that does not list jobs, one never heard, a clip no longer processing, or one without an origin', () => {
    expect(clipJobLost(clip(), heard(60_000, null))).toBe(false);
    expect(clipJobLost(clip(), null)).toBe(false);
    expect(clipJobLost(clip({ status: 'ready' }), heard(60_000, []))).toBe(false);
    expect(clipJobLost(clip({ origin_id: null }), heard(60_000, []))).toBe(false);
  });
});
