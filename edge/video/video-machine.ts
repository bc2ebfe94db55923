// The video's status machine (issue 13), pure: waiting → uploading (upload) / importing (import) → processing → ready,
// or failed with the reason, from any state before ready. Inputs come from the upload URL (V2), the import route (V3),
// the origin's job events (V4) and the upload URL's expiry (the object's alarm); the VideoObject runs it and carries out
// the effects.
import type { MediaInfo } from '../../shared/schemas/recording.ts';
import type { VideoSource, VideoStatus } from '../../shared/schemas/video.ts';
import type { VideoWebhookType } from '../../shared/video-vocabulary.ts';

export interface VideoState {
  status: VideoStatus;
  error: string | null;
  /** 0–100 while importing and processing, 100 once ready, null before the work starts. */
  progress: number | null;
  duration: number | null;
  size: number | null;
  mediaInfo: MediaInfo | null;
  /** Rendition names the processing wrote under hls/ (its master playlist lists them). */
  renditions: string[];
  readyAt: number | null;
}

export type VideoInput =
  | { type: 'upload_started'; at: number }
  | { type: 'upload_completed'; at: number; size: number }
  | { type: 'import_started'; at: number }
  | { type: 'progress'; at: number; phase: 'importing' | 'processing'; progress: number }
  | { type: 'ready'; at: number; duration: number; size: number; mediaInfo: MediaInfo | null; renditions: string[] }
  | { type: 'failed'; at: number; reason: string }
  /** The upload URL's 24 h ran out (the object's alarm at its expiry). */
  | { type: 'upload_expired'; at: number };

/** The error of a video whose upload URL expired before the upload was completed. */
export const UPLOAD_EXPIRED_REASON = 'the upload URL expired before the upload was completed';

export type VideoEffect =
  | { kind: 'emit'; type: VideoWebhookType; reason: string | null }
  /** The origin's job: fetch the source then process it ('import'), or process the uploaded source ('process'). */
  | { kind: 'dispatch_job'; job: 'import' | 'process' }
  /** The job is over (ready or failed): nothing waits for it any more. */
  | { kind: 'job_over' }
  /** The expired upload lets go of what it holds: its R2 multipart upload aborted, its part records dropped. */
  | { kind: 'abort_upload' };

export type VideoTransition =
  | { ok: true; state: VideoState; effects: VideoEffect[] }
  | { ok: false; httpStatus: 409; type: 'video-state-conflict'; detail: string };

export function initialVideoState(): VideoState {
  return { status: 'waiting', error: null, progress: null, duration: null, size: null, mediaInfo: null, renditions: [], readyAt: null };
}

/** The status each source moves to when its bytes start arriving. */
export const INTAKE_STATUS: Record<Extract<VideoSource, 'upload' | 'import'>, VideoStatus> = { upload: 'uploading', import: 'importing' };

const refuse = (state: VideoState, what: string): VideoTransition => ({
  ok: false,
  httpStatus: 409,
  type: 'video-state-conflict',
  detail: `the video is ${state.status}${state.status === 'failed' && state.error ? ` (${state.error})` : ''}; ${what}`,
});

const clampProgress = (progress: number) => Math.max(0, Math.min(100, Math.round(progress * 10) / 10));

export function videoTransition(state: VideoState, input: VideoInput): VideoTransition {
  switch (input.type) {
    case 'upload_started':
      // Every part PUT says it; only the first one changes anything.
      if (state.status === 'uploading') return { ok: true, state, effects: [] };
      if (state.status !== 'waiting') return refuse(state, 'its upload is over');
      return { ok: true, state: { ...state, status: 'uploading' }, effects: [] };
    case 'upload_completed':
      if (state.status === 'processing') return { ok: true, state, effects: [] }; // a repeated /complete
      if (state.status !== 'waiting' && state.status !== 'uploading') return refuse(state, 'its upload is over');
      return {
        ok: true,
        state: { ...state, status: 'processing', progress: 0, size: input.size },
        effects: [{ kind: 'dispatch_job', job: 'process' }],
      };
    case 'import_started':
      if (state.status === 'importing') return { ok: true, state, effects: [] };
      if (state.status !== 'waiting') return refuse(state, 'its import has already started');
      return { ok: true, state: { ...state, status: 'importing', progress: 0 }, effects: [{ kind: 'dispatch_job', job: 'import' }] };
    case 'progress': {
      // An import job goes on to process the bytes it fetched: its first processing report moves the video on.
      const moves = input.phase === 'processing' && state.status === 'importing';
      if (!moves && state.status !== input.phase) return refuse(state, `a report of ${input.phase} progress does not apply`);
      return { ok: true, state: { ...state, status: input.phase, progress: clampProgress(input.progress) }, effects: [] };
    }
    case 'ready':
      if (state.status !== 'processing' && state.status !== 'importing') return refuse(state, 'only a video being processed can become ready');
      return {
        ok: true,
        state: {
          ...state,
          status: 'ready',
          error: null,
          progress: 100,
          duration: input.duration,
          size: input.size,
          mediaInfo: input.mediaInfo,
          renditions: input.renditions,
          readyAt: input.at,
        },
        effects: [{ kind: 'job_over' }, { kind: 'emit', type: 'video.asset.ready', reason: null }],
      };
    case 'upload_expired':
      // Only an upload still waiting for (or receiving) its bytes fails; one completed meanwhile is past its deadline.
      if (state.status !== 'waiting' && state.status !== 'uploading') return { ok: true, state, effects: [] };
      return {
        ok: true,
        state: { ...state, status: 'failed', error: UPLOAD_EXPIRED_REASON },
        effects: [{ kind: 'abort_upload' }, { kind: 'job_over' }, { kind: 'emit', type: 'video.asset.errored', reason: UPLOAD_EXPIRED_REASON }],
      };
    case 'failed':
      if (state.status === 'ready' || state.status === 'failed') return refuse(state, 'it can no longer fail');
      return {
        ok: true,
        state: { ...state, status: 'failed', error: input.reason },
        effects: [{ kind: 'job_over' }, { kind: 'emit', type: 'video.asset.errored', reason: input.reason }],
      };
  }
}
