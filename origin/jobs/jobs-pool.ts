// The origin's pool for media jobs (recording finalization, clips): worker threads apart from the live
// transcodes, few of them (default 1, so a finalization never starves live streams of CPU), and a
// bounded queue: jobs wait their turn rather than being refused, up to `maxQueue` waiting.
import { fileURLToPath } from 'node:url';
import Piscina from 'piscina';
import { workerExecArgv } from '../pipeline/transcode-pool.ts';
import type { ClipArtifacts, CutClipJob } from './clip.ts';
import type { FinalizeRecordingJob, RecordingArtifacts } from './finalize-recording.ts';
import { MediaJobError } from './job-error.ts';
import type { MediaJob, MediaJobOutcome, MediaJobResult } from './jobs-worker.ts';

export interface MediaJobPoolOptions {
  /** jobs running at once (worker threads); default 1 */
  threads?: number;
  /** jobs waiting beyond the running ones before new ones are refused; default 50 */
  maxQueue?: number;
  /** an idle thread exits after this long; default 30 s */
  idleTimeoutMs?: number;
}

export class MediaJobPool {
  private readonly pool: Piscina<MediaJob, MediaJobOutcome>;
  private readonly maxQueue: number;
  private closing = false;
  private inFlight = 0;

  constructor(opts: MediaJobPoolOptions = {}) {
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new Error('threads must be a positive integer');
    this.maxQueue = opts.maxQueue ?? 50;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 0) throw new Error('maxQueue must be a non-negative integer');
    const execArgv = workerExecArgv();
    this.pool = new Piscina({
      filename: fileURLToPath(new URL('./jobs-worker.ts', import.meta.url)),
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: opts.idleTimeoutMs ?? 30_000,
      // Our own count decides what is refused; piscina's queue only has to hold it.
      maxQueue: this.maxQueue + threads,
      // Tasks wait on ffmpeg for seconds to minutes; an idle thread must not spin in Atomics.wait meanwhile.
      atomics: 'disabled',
      ...(execArgv ? { execArgv } : {}),
    });
  }

  /** Jobs on a thread now. */
  get running(): number {
    return Math.min(this.inFlight, this.pool.options.maxThreads);
  }

  /** Jobs accepted and waiting for a thread. */
  get waiting(): number {
    return Math.max(0, this.inFlight - this.pool.options.maxThreads);
  }

  /** Runs a job on a worker thread when one is free; rejects with MediaJobError (code 'busy' when the queue is full). */
  runJob<J extends MediaJob>(job: J): Promise<MediaJobResult<J['kind']>> {
    if (this.closing) return Promise.reject(new MediaJobError('busy', 'the media jobs pool is shutting down'));
    if (this.inFlight >= this.pool.options.maxThreads + this.maxQueue) {
      return Promise.reject(new MediaJobError('busy', `${this.maxQueue} media jobs are already waiting`));
    }
    this.inFlight++;
    return this.pool
      .run(job)
      .then(
        (outcome) => {
          if (!outcome.ok) throw new MediaJobError(outcome.error.code, outcome.error.message, outcome.error.field);
          return outcome.result as MediaJobResult<J['kind']>;
        },
        (err: unknown) => {
          throw new MediaJobError('ffmpeg-failed', `media job worker failed: ${(err as Error)?.message ?? String(err)}`);
        },
      )
      .finally(() => this.inFlight--);
  }

  /** Shorthand for runJob({ kind: 'finalize', … }). */
  finalize(job: FinalizeRecordingJob): Promise<RecordingArtifacts> {
    return this.runJob({ kind: 'finalize', ...job });
  }

  /** Shorthand for runJob({ kind: 'clip', … }). */
  clip(job: CutClipJob): Promise<ClipArtifacts> {
    return this.runJob({ kind: 'clip', ...job });
  }

  /** Refuses new jobs, lets the accepted ones finish, then stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    await this.pool.close();
  }
}
