// The recording flow's pure decisions (edge/stream/recording-flow.ts): who may report on an export job and what each
// report does, a lost job (its origin silent, heard without it, or its deadline), when unneeded session media may go, the seconds settings.
import { describe, it, expect } from 'vitest';
import {
  judgeJobEvent,
  lostJobOutcome,
  runningJobLoss,
  JOB_UNLISTED_AFTER_MS,
  sessionMediaDeleteAt,
  secondsSetting,
  EXPORT_JOBS_MAX,
  EXPORT_TIMED_OUT,
  NOT_HOLDER,
  type JobEvent,
} from '../../../edge/stream/recording-flow.ts';
import type { RecordingRow } from '../../../edge/stream-media-store.ts';

const NOW = 1_800_000_000_000;
const row = (patch: Partial<RecordingRow> = {}): RecordingRow => ({
  id: 'rec_1', session_id: 'ses_1', playback_id: 'pb', status: 'ready', created_at: NOW - 60_000, updated_at: NOW - 1000,
  source_ready_at: NOW - 1000, artifacts: null, error: null, media_prefix: 'live/ls_1/ses_1', watchable_at: NOW - 1000,
  durable_duration: 20, export_status: 'running', export_origin: 'origin-a', export_progress: 0.1, export_jobs: 1,
  export_deadline: NOW + 60_000, export_dispatched_at: NOW - 30_000, export_error: null, expires_at: null, cleaned_at: null, ...patch,
});
const base = { id: 'evt-1', streamId: 'ls_1', sessionId: 'ses_1', at: new Date(NOW).toISOString() };
const progress = (p: number): JobEvent => ({ ...base, type: 'recording_progress', data: { recordingId: 'rec_1', progress: p } });
const failed: JobEvent = { ...base, type: 'recording_failed', data: { reason: 'ffmpeg exited 1' } };
const ready: JobEvent = {
  ...base,
  type: 'recording_ready',
  data: {
    duration: 20, size: 1000, hlsPrefix: 'recordings/rec_1/hls', mp4Key: 'recordings/rec_1/recording.mp4', screenshotKey: 'recordings/rec_1/screenshot.jpg',
    mediaInfo: { duration: 20, size: 1000, bitrate: null, video: null, audio: null },
  },
};

describe('judgeJobEvent', () => {
  it('takes the running job\'s origin\'s progress (never backwards) and moves its deadline', () => {
    expect(judgeJobEvent(row(), progress(0.5), 'origin-a', 'origin-h', NOW, 900_000)).toEqual({
      ok: true, set: { export_status: 'running', export_progress: 0.5, export_deadline: NOW + 900_000 },
    });
    const back = judgeJobEvent(row({ export_progress: 0.7 }), progress(0.5), 'origin-a', 'origin-h', NOW, 900_000);
    expect(back.ok && back.set?.export_progress).toBe(0.7);
  });

  it('ready and failed settle the export', () => {
    const done = judgeJobEvent(row(), ready, 'origin-a', 'origin-h', NOW, 1);
    expect(done).toMatchObject({ ok: true, set: { export_status: 'ready', export_progress: 1, export_deadline: null } });
    expect(done.ok && JSON.parse(done.set!.artifacts!).mp4Key).toBe('recordings/rec_1/recording.mp4');
    expect(judgeJobEvent(row(), failed, 'origin-a', 'origin-h', NOW, 1)).toEqual({
      ok: true, set: { export_status: 'failed', export_error: 'ffmpeg exited 1', export_deadline: null },
    });
  });

  it('refuses any other origin, the session holder included, while the job runs elsewhere', () => {
    for (const signer of ['origin-b', 'origin-h']) {
      for (const event of [progress(0.9), ready, failed]) {
        expect(judgeJobEvent(row(), event, signer, 'origin-h', NOW, 1)).toEqual({ ok: false, reason: NOT_HOLDER });
      }
    }
  });

  it('a queued export (no origin took it yet) is the session holder\'s, and only its', () => {
    const queued = row({ export_status: 'queued', export_origin: null, export_jobs: 0 });
    expect(judgeJobEvent(queued, ready, 'origin-h', 'origin-h', NOW, 1)).toMatchObject({
      ok: true, set: { export_status: 'ready', export_origin: 'origin-h', export_jobs: 1 },
    });
    expect(judgeJobEvent(queued, ready, 'origin-b', 'origin-h', NOW, 1)).toEqual({ ok: false, reason: NOT_HOLDER });
  });

  it('after the export settled: a late progress changes nothing, a result with no job running is refused', () => {
    expect(judgeJobEvent(row({ export_status: 'ready' }), progress(0.3), 'origin-a', 'origin-h', NOW, 1)).toEqual({ ok: true, set: null });
    expect(judgeJobEvent(row({ export_status: 'ready' }), ready, 'origin-a', 'origin-h', NOW, 1)).toEqual({ ok: true, set: null });
    expect(judgeJobEvent(row({ export_status: 'failed' }), ready, 'origin-a', 'origin-h', NOW, 1).ok).toBe(false);
    expect(judgeJobEvent(row({ export_status: null }), failed, 'origin-a', 'origin-h', NOW, 1).ok).toBe(false);
  });
});

describe('lostJobOutcome', () => {
  it('queues a lost job again until EXPORT_JOBS_MAX jobs were lost, then fails the export', () => {
    expect(lostJobOutcome(row({ export_jobs: 1 }))).toEqual({ export_status: 'queued', export_origin: null, export_deadline: null, export_dispatched_at: null });
    expect(lostJobOutcome(row({ export_jobs: EXPORT_JOBS_MAX }))).toEqual({ export_status: 'failed', export_error: EXPORT_TIMED_OUT, export_deadline: null });
  });
});

describe('runningJobLoss', () => {
  const heard = (heardAt: number, jobIds: string[] | null) => ({ heardAt, sessionIds: [], jobIds });
  const dispatched = NOW - 30_000;

  it('a job its origin lists, or one not yet due a listing, stays; one a later beat leaves out is lost', () => {
    expect(runningJobLoss(row(), heard(NOW - 1000, ['rec_1', 'clip_9']), NOW)).toBeNull();
    // Heard within JOB_UNLISTED_AFTER_MS of the dispatch: that beat may have been built before the origin took the job.
    expect(runningJobLoss(row(), heard(dispatched + JOB_UNLISTED_AFTER_MS, []), dispatched + JOB_UNLISTED_AFTER_MS + 500)).toBeNull();
    expect(runningJobLoss(row(), heard(dispatched + JOB_UNLISTED_AFTER_MS + 1, []), dispatched + JOB_UNLISTED_AFTER_MS + 500)).toBe('origin-dropped-job');
    expect(runningJobLoss(row(), heard(NOW - 1000, ['rec_2']), NOW)).toBe('origin-dropped-job');
  });

  it('an origin that does not list jobs, a job without a dispatch time, or unreadable liveness proves nothing', () => {
    expect(runningJobLoss(row(), heard(NOW - 1000, null), NOW)).toBeNull();
    expect(runningJobLoss(row({ export_dispatched_at: null }), heard(NOW - 1000, []), NOW)).toBeNull();
    expect(runningJobLoss(row(), undefined, NOW)).toBeNull();
  });

  it('a silent or never-heard origin loses the job; else its deadline does', () => {
    expect(runningJobLoss(row(), heard(NOW - 60_000, ['rec_1']), NOW)).toBe('origin-silent');
    expect(runningJobLoss(row(), null, NOW)).toBe('origin-silent');
    expect(runningJobLoss(row({ export_deadline: NOW }), heard(NOW - 1000, ['rec_1']), NOW)).toBe('deadline');
    expect(runningJobLoss(row({ export_deadline: NOW - 1 }), undefined, NOW)).toBe('deadline');
  });
});

describe('sessionMediaDeleteAt and secondsSetting', () => {
  it('unneeded session media goes the grace after the session ended, never before now', () => {
    expect(sessionMediaDeleteAt(NOW - 1000, NOW, 86_400_000)).toBe(NOW - 1000 + 86_400_000);
    expect(sessionMediaDeleteAt(NOW - 2 * 86_400_000, NOW, 86_400_000)).toBe(NOW);
    expect(sessionMediaDeleteAt(null, NOW, 5000)).toBe(NOW + 5000);
  });

  it('reads whole or fractional non-negative seconds; anything else is the default', () => {
    expect(secondsSetting('3', 8000)).toBe(3000);
    expect(secondsSetting('0.5', 8000)).toBe(500);
    expect(secondsSetting('0', 8000)).toBe(0);
    for (const bad of [undefined, '', ' ', '-1', 'soon', 'NaN']) expect(secondsSetting(bad, 8000)).toBe(8000);
  });
});
