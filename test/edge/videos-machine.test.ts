// The video's pure status machine (edge/video/video-machine.ts): every input from every status, what it becomes, the
// webhook it emits and the job it owes; every refusal a 409 naming the status.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { UPLOAD_EXPIRED_REASON, initialVideoState, videoTransition, type VideoInput, type VideoState } from '../../edge/video/video-machine.ts';
import { VIDEO_STATUSES, type VideoStatus } from '../../shared/schemas/video.ts';

const at = 1_800_000_000_000;
const inState = (status: VideoStatus, extra: Partial<VideoState> = {}): VideoState => ({ ...initialVideoState(), status, ...extra });
const INPUTS: Record<VideoInput['type'], VideoInput> = {
  upload_started: { type: 'upload_started', at },
  upload_completed: { type: 'upload_completed', at, size: 1234 },
  import_started: { type: 'import_started', at },
  progress: { type: 'progress', at, phase: 'processing', progress: 40 },
  ready: { type: 'ready', at, duration: 60, size: 99, mediaInfo: null, renditions: ['720p'] },
  failed: { type: 'failed', at, reason: 'ffprobe could not read it' },
  upload_expired: { type: 'upload_expired', at },
};

/** status → input → [next status, effects] or 'refused'. */
const TABLE: Record<VideoStatus, Record<VideoInput['type'], [VideoStatus, string[]] | 'refused'>> = {
  waiting: {
    upload_started: ['uploading', []],
    upload_completed: ['processing', ['dispatch_job:process']],
    import_started: ['importing', ['dispatch_job:import']],
    progress: 'refused',
    ready: 'refused',
    failed: ['failed', ['job_over', 'emit:video.asset.errored']],
    upload_expired: ['failed', ['abort_upload', 'job_over', 'emit:video.asset.errored']],
  },
  uploading: {
    upload_started: ['uploading', []],
    upload_completed: ['processing', ['dispatch_job:process']],
    import_started: 'refused',
    progress: 'refused',
    ready: 'refused',
    failed: ['failed', ['job_over', 'emit:video.asset.errored']],
    upload_expired: ['failed', ['abort_upload', 'job_over', 'emit:video.asset.errored']],
  },
  importing: {
    upload_started: 'refused',
    upload_completed: 'refused',
    import_started: ['importing', []],
    progress: ['processing', []],
    ready: ['ready', ['job_over', 'emit:video.asset.ready']],
    failed: ['failed', ['job_over', 'emit:video.asset.errored']],
    upload_expired: ['importing', []],
  },
  processing: {
    upload_started: 'refused',
    upload_completed: ['processing', []],
    import_started: 'refused',
    progress: ['processing', []],
    ready: ['ready', ['job_over', 'emit:video.asset.ready']],
    failed: ['failed', ['job_over', 'emit:video.asset.errored']],
    upload_expired: ['processing', []],
  },
  // An upload deadline reached after the video's outcome changes nothing (it is moot, not a conflict).
  ready: { upload_started: 'refused', upload_completed: 'refused', import_started: 'refused', progress: 'refused', ready: 'refused', failed: 'refused', upload_expired: ['ready', []] },
  failed: { upload_started: 'refused', upload_completed: 'refused', import_started: 'refused', progress: 'refused', ready: 'refused', failed: 'refused', upload_expired: ['failed', []] },
};

const label = (e: { kind: string; type?: string; job?: string }) => (e.kind === 'emit' ? `emit:${e.type}` : e.kind === 'dispatch_job' ? `dispatch_job:${e.job}` : e.kind);

describe('videoTransition', () => {
  for (const status of VIDEO_STATUSES) {
    for (const [type, expected] of Object.entries(TABLE[status])) {
      it(`${status} + ${type} → ${expected === 'refused' ? 'refused' : expected[0]}`, () => {
        const result = videoTransition(inState(status, { error: status === 'failed' ? 'broken' : null }), INPUTS[type as VideoInput['type']]);
        if (expected === 'refused') {
          expect(result.ok).toBe(false);
          if (!result.ok) {
            expect(result).toMatchObject({ httpStatus: 409, type: 'video-state-conflict' });
            expect(result.detail).toContain(`the video is ${status}`);
          }
          return;
        }
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.state.status).toBe(expected[0]);
        expect(result.effects.map(label)).toEqual(expected[1]);
      });
    }
  }

  it('ready keeps the media figures and its time, progress 100; failed keeps the reason and the progress reached', () => {
    const ready = videoTransition(inState('processing', { progress: 70 }), INPUTS.ready);
    expect(ready.ok && ready.state).toMatchObject({ status: 'ready', progress: 100, duration: 60, size: 99, renditions: ['720p'], readyAt: at, error: null });
    const failed = videoTransition(inState('processing', { progress: 70 }), INPUTS.failed);
    expect(failed.ok && failed.state).toMatchObject({ status: 'failed', error: 'ffprobe could not read it', progress: 70, readyAt: null });
    expect(failed.ok && failed.effects).toContainEqual({ kind: 'emit', type: 'video.asset.errored', reason: 'ffprobe could not read it' });
  });

  it('an expired upload fails with the contract reason, keeps what it had, and lets go of its parts first', () => {
    const expired = videoTransition(inState('uploading', { size: null }), INPUTS.upload_expired);
    expect(expired.ok && expired.state).toMatchObject({ status: 'failed', error: UPLOAD_EXPIRED_REASON, readyAt: null });
    expect(UPLOAD_EXPIRED_REASON).toBe('the upload URL expired before the upload was completed');
    expect(expired.ok && expired.effects).toContainEqual({ kind: 'emit', type: 'video.asset.errored', reason: UPLOAD_EXPIRED_REASON });
    // Once expired, a late completion is refused naming the reason.
    const late = expired.ok ? videoTransition(expired.state, INPUTS.upload_completed) : null;
    expect(late?.ok === false && late.detail).toContain(UPLOAD_EXPIRED_REASON);
  });

  it('an importing progress report stays importing; a processing one moves an import on; the phase must fit', () => {
    const importing = videoTransition(inState('importing'), { type: 'progress', at, phase: 'importing', progress: 12 });
    expect(importing.ok && importing.state).toMatchObject({ status: 'importing', progress: 12 });
    expect(videoTransition(inState('processing'), { type: 'progress', at, phase: 'importing', progress: 12 }).ok).toBe(false);
    expect(videoTransition(inState('uploading'), { type: 'progress', at, phase: 'processing', progress: 12 }).ok).toBe(false);
  });

  it('progress is always within 0–100, one decimal', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (progress) => {
        const result = videoTransition(inState('processing'), { type: 'progress', at, phase: 'processing', progress });
        expect(result.ok).toBe(true);
        const value = result.ok ? result.state.progress! : -1;
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(100);
        expect(Math.round(value * 10) / 10).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('every path from waiting ends ready or failed with exactly one outcome webhook', () => {
    const anyInput = fc.constantFrom(...Object.values(INPUTS));
    fc.assert(
      fc.property(fc.array(anyInput, { maxLength: 12 }), (inputs) => {
        let state = initialVideoState();
        let outcomes = 0;
        for (const input of inputs) {
          const result = videoTransition(state, input);
          if (!result.ok) continue;
          outcomes += result.effects.filter((e) => e.kind === 'emit').length;
          state = result.state;
        }
        expect(outcomes).toBe(state.status === 'ready' || state.status === 'failed' ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});
