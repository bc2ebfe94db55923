// Which media job failures are worth another run, and how long to wait before it (pure). A job interrupted from
// outside (its ffmpeg killed, its worker thread gone) or storage that could not be read is transient; a bad range, a session without media, an ffmpeg
// that fails on its input, or a pool that is closing fail the same way every time, so they are reported at once.
import { backoffDelay } from '../backoff.ts';
import { MediaJobError, type MediaJobErrorCode } from './job-error.ts';

/** Runs of one job at most (the first and two retries), for a recording build or a clip. */
export const MAX_JOB_RUNS = 3;
/** The wait before the first retry; each next one doubles, up to JOB_RETRY_MAX_MS. */
export const JOB_RETRY_FIRST_MS = 2_000;
export const JOB_RETRY_MAX_MS = 15_000;

// Storage that stayed unreachable through a read's own retries may be back a run later.
const TRANSIENT: ReadonlySet<MediaJobErrorCode> = new Set(['interrupted', 'storage-unavailable']);

/** Whether running the same job again may succeed. Only a MediaJobError's code says so; anything else is not retried here. */
export function isTransientJobFailure(error: unknown): boolean {
  return error instanceof MediaJobError && TRANSIENT.has(error.code);
}

/** After run number `run` (1-based) failed with `error`: the wait before the next run, or null to give up. */
export function jobRetryDelay(run: number, error: unknown, random: () => number = Math.random): number | null {
  if (!isTransientJobFailure(error) || run >= MAX_JOB_RUNS) return null;
  return backoffDelay(run - 1, JOB_RETRY_FIRST_MS, JOB_RETRY_MAX_MS, random);
}
