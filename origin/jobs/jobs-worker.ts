// Piscina task body for the media jobs: one finalization or clip per task, in a worker thread.
// Failures come back as data, since an Error loses its code and field crossing the thread boundary.
import { cutClip } from './clip.ts';
import type { ClipArtifacts, CutClipJob } from './clip.ts';
import { finalizeRecording } from './finalize-recording.ts';
import type { FinalizeRecordingJob, RecordingArtifacts } from './finalize-recording.ts';
import { MediaJobError } from './job-error.ts';
import type { MediaJobErrorData } from './job-error.ts';

export type MediaJob = ({ kind: 'finalize' } & FinalizeRecordingJob) | ({ kind: 'clip' } & CutClipJob);

export type MediaJobResult<K extends MediaJob['kind'] = MediaJob['kind']> = K extends 'finalize' ? RecordingArtifacts : ClipArtifacts;

export type MediaJobOutcome = { ok: true; kind: 'finalize'; result: RecordingArtifacts } | { ok: true; kind: 'clip'; result: ClipArtifacts } | { ok: false; error: MediaJobErrorData };

export default async function runMediaJob(job: MediaJob): Promise<MediaJobOutcome> {
  try {
    if (job.kind === 'finalize') {
      const { kind: _, ...rest } = job;
      return { ok: true, kind: 'finalize', result: await finalizeRecording(rest) };
    }
    if (job.kind === 'clip') {
      const { kind: _, ...rest } = job;
      return { ok: true, kind: 'clip', result: await cutClip(rest) };
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
