// Which processing clips their origin lost (edge/stream/clip-jobs.ts): one its origin, heard more than 10 s after
// taking the job in a beat that lists jobs, no longer lists, and one whose origin went silent.
import { describe, it, expect } from 'vitest';
import { clipJobLoss, CLIP_JOB_LOST, CLIP_ORIGIN_SILENT } from '../../../edge/stream/clip-jobs.ts';
import { JOB_UNLISTED_AFTER_MS } from '../../../edge/stream/recording-flow.ts';
import { HEARTBEAT_TIMEOUT_MS } from '../../../edge/lifecycle.ts';

const TAKEN = 1_800_000_000_000;
const clip = (patch: Partial<Parameters<typeof clipJobLoss>[0]> = {}) => ({ id: 'clip_1', status: 'processing' as const, origin_id: 'origin-a', updated_at: TAKEN, ...patch });
const heard = (after: number, jobIds: string[] | null) => ({ heardAt: TAKEN + after, sessionIds: [], jobIds });
/** Looked at right when the beat was heard. */
const lossAtBeat = (c: ReturnType<typeof clip>, beat: ReturnType<typeof heard> | null) => clipJobLoss(c, beat, beat?.heardAt ?? TAKEN);

describe('clipJobLoss', () => {
  it('a clip left out of a beat more than JOB_UNLISTED_AFTER_MS after its origin took it is lost; a listed one is not', () => {
    expect(lossAtBeat(clip(), heard(JOB_UNLISTED_AFTER_MS + 1, ['rec_1']))).toBe(CLIP_JOB_LOST);
    expect(lossAtBeat(clip(), heard(JOB_UNLISTED_AFTER_MS + 1, ['clip_1']))).toBeNull();
    expect(lossAtBeat(clip(), heard(JOB_UNLISTED_AFTER_MS, []))).toBeNull();
  });

  it('a clip whose origin has not been heard for longer than the heartbeat timeout is lost, listed or not', () => {
    const beat = heard(1000, ['clip_1']);
    expect(clipJobLoss(clip(), beat, beat.heardAt + HEARTBEAT_TIMEOUT_MS + 1)).toBe(CLIP_ORIGIN_SILENT);
    expect(clipJobLoss(clip(), beat, beat.heardAt + HEARTBEAT_TIMEOUT_MS)).toBeNull();
  });

  it('nothing is concluded from an origin that does not list jobs, one never heard, a clip no longer processing, or one without an origin', () => {
    expect(lossAtBeat(clip(), heard(60_000, null))).toBeNull();
    expect(clipJobLoss(clip(), null, TAKEN + 3_600_000)).toBeNull();
    expect(lossAtBeat(clip({ status: 'ready' }), heard(60_000, []))).toBeNull();
    expect(lossAtBeat(clip({ origin_id: null }), heard(60_000, []))).toBeNull();
  });
});
