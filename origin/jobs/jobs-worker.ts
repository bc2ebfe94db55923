// Piscina task body for the media jobs: one recording export, clip or library video encode per task, in a worker thread.
// Failures come back as data, since an Error loses its code and field crossing the thread boundary.
import { cutClip } from './clip.ts';
import type { ClipArtifacts, CutClipJob } from './clip.ts';
import { exportRecording } from './export-recording.ts';
import type { ExportRecordingJob, RecordingExport } from './export-recording.ts';
import { MediaJobError } from './job-error.ts';
import type { MediaJobErrorData } from './job-error.ts';
import { processVideo } from '../vod/process-video.ts';
import type { ProcessedVideo, ProcessVideoJob } from '../vod/process-video.ts';

export type MediaJob = ({ kind: 'export' } & ExportRecordingJob) | ({ kind: 'clip' } & CutClipJob) | ({ kind: 'vod' } & ProcessVideoJob);

export type MediaJobResult<K extends MediaJob['kind'] = MediaJob['kind']> = K extends 'export' ? RecordingExport : K extends 'vod' ? ProcessedVideo : ClipArtifacts;

export type MediaJobOutcome =
  | { ok: true; kind: 'export'; result: RecordingExport }
  | { ok: true; kind: 'clip'; result: ClipArtifacts }
  | { ok: true; kind: 'vod'; result: ProcessedVideo }
  | { ok: false; error: MediaJobErrorData };

export default async function runMediaJob(job: MediaJob): Promise<MediaJobOutcome> {
  try {
    if (job.kind === 'export') {
      const { kind: _, ...rest } = job;
      return { ok: true, kind: 'export', result: await exportRecording(rest) };
    }
    if (job.kind === 'clip') {
      const { kind: _, ...rest } = job;
      return { ok: true, kind: 'clip', result: await cutClip(rest) };
    }
    if (job.kind === 'vod') {
      const { kind: _, ...rest } = job;
      return { ok: true, kind: 'vod', result: await processVideo(rest) };
    }
    return { ok: false, error: { code: 'ffmpeg-failed', message: `unknown job kind ${(job as { kind?: unknown }).kind}` } };
  } catch (err) {
    if (err instanceof MediaJobError) {
      const error: MediaJobErrorData = { code: err.code, message: err.message };
      if (err.field !== undefined) error.field = err.field;
      return { ok: false, error };
    }
    return { ok: false, error: { code: 'ffmpeg-failed', message: (err as Error)?.message ?? String(err) } };
  }
}
