// The one error type of the media jobs: what went wrong as a stable code, for the recording's or clip's
// `error` field and for mapping a bad clip range to a 400 at the edge.

export type MediaJobErrorCode =
  /** the clip range is unusable; `field` names the culprit */
  | 'invalid-range'
  /** the session folder holds no playable segment of the source rendition */
  | 'no-media'
  /** ffmpeg or ffprobe failed on its input (an error exit, a crash, our own deadline); the message carries its last stderr lines */
  | 'ffmpeg-failed'
  /**
   * ffmpeg, ffprobe or the job's worker thread was stopped from outside mid-job (SIGKILL, SIGTERM: an operator, the
   * OOM killer) or died: nothing about the input, so the same job may well succeed when run again
   */
  | 'interrupted'
  /** the jobs pool takes no more work (queue full or closing) */
  | 'busy'
  /** the session's durable media could not be read from storage (R2 or the edge unreachable) after retries */
  | 'storage-unavailable'
  /** this origin's disk has no room for the job's scratch files */
  | 'disk-full';

export class MediaJobError extends Error {
  override name = 'MediaJobError';
  readonly code: MediaJobErrorCode;
  readonly field: string | undefined;

  constructor(code: MediaJobErrorCode, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** Plain data that survives a worker-thread boundary (class identity does not). */
export interface MediaJobErrorData {
  code: MediaJobErrorCode;
  message: string;
  field?: string;
}

export function isMediaJobErrorData(v: unknown): v is MediaJobErrorData {
  return typeof v === 'object' && v !== null && typeof (v as MediaJobErrorData).code === 'string' && typeof (v as MediaJobErrorData).message === 'string';
}
