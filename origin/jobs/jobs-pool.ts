// The origin's pool for media jobs (recording exports, clips): worker threads apart from the live transcodes, few of
// them (default 1, so an export never starves live streams of CPU). A job holds its lane place for all of its work —
// fetching the session's media from R2, the ffmpeg work on a thread, the upload — so the places also bound the scratch
// disk in use. Jobs wait in lanes (job-lanes.ts): recordings always queue and go first; clips are limited per workspace
// and per origin, and a clip beyond the limit is refused with 'busy' and a Retry-After estimate (the edge answers 429).
// Library videos' VOD jobs (issue 13) run on threads of their own (`vodThreads`), never on the recordings' and clips'
// thread, their ffmpeg at a lower CPU priority and with half the cores at most (origin/vod/vod-priority.ts).
import os from 'node:os';
import Piscina from 'piscina';
import { workerEntryPath, workerExecArgv } from '../worker-threads.ts';
import type { ClipArtifacts, CutClipJob } from './clip.ts';
import type { ExportRecordingJob, RecordingExport } from './export-recording.ts';
import { MediaJobError } from './job-error.ts';
import { JobLanes, type JobLane } from './job-lanes.ts';
import type { MediaJob, MediaJobOutcome, MediaJobResult } from './jobs-worker.ts';
import { VOD_NICENESS, vodEncodeThreads } from '../vod/vod-priority.ts';

export interface MediaJobPoolOptions {
  /** recordings and clips running at once (worker threads); default 1 */
  threads?: number;
  /** VOD jobs running at once, on worker threads of their own (VOD_JOB_THREADS); default 1 */
  vodThreads?: number;
  /** clips of one workspace accepted at once (running or waiting); default 2 */
  clipsPerWorkspace?: number;
  /** clips accepted at once on this origin (running or waiting); default 8 */
  clipsPerOrigin?: number;
  /** an idle thread exits after this long; default 30 s */
  idleTimeoutMs?: number;
  /** library videos' VOD jobs accepted at once (running or waiting), served after recordings and clips; default 1 */
  vodPerOrigin?: number;
}

/**
 * A clip the pool has room for: its place is held until the clip is made (run resolves) or given up (release). A run
 * that fails keeps the place, so the caller can run the clip again (a transient failure) without another clip of the
 * workspace taking it meanwhile; a caller that gives up must release it.
 */
export interface ClipSlot {
  /** Runs one attempt of the clip's work in its lane place; `onThread` runs the ffmpeg part on a worker thread. */
  run<T>(work: LaneWork<T>): Promise<T>;
  release(): void;
}

/** Runs a media job on a worker thread (a dead thread is an 'interrupted' MediaJobError). */
export type OnThread = <J extends MediaJob>(job: J) => Promise<MediaJobResult<J['kind']>>;
/** The work a job does in its lane place: I/O on this thread, the ffmpeg part through `onThread`. */
export type LaneWork<T> = (onThread: OnThread) => Promise<T>;

export type ClipAdmission = { ok: true; slot: ClipSlot } | { ok: false; reason: string; retryAfterSeconds: number };

interface Task {
  work: LaneWork<unknown>;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/** What a clip takes before any has finished here: the first Retry-After estimates. */
const FIRST_CLIP_SECONDS = 10;

export class MediaJobPool {
  private readonly pool: Piscina<MediaJob, MediaJobOutcome>;
  /** The VOD jobs' threads: a VOD encode never takes the thread a recording or a clip waits for. */
  private readonly vodPool: Piscina<MediaJob, MediaJobOutcome>;
  private readonly vodEncodeThreads: number;
  private readonly lanes: JobLanes<Task>;
  private closing = false;
  /** Seconds a clip job took, smoothed: how long a refused caller should wait before asking again. */
  private clipSeconds = FIRST_CLIP_SECONDS;

  constructor(opts: MediaJobPoolOptions = {}) {
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new Error('threads must be a positive integer');
    const clipsPerWorkspace = opts.clipsPerWorkspace ?? 2;
    const clipsPerOrigin = opts.clipsPerOrigin ?? 8;
    const vodPerOrigin = opts.vodPerOrigin ?? 1;
    const vodThreads = opts.vodThreads ?? 1;
    for (const [name, value] of Object.entries({ clipsPerWorkspace, clipsPerOrigin, vodPerOrigin, vodThreads })) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    }
    this.lanes = new JobLanes({ threads, clipsPerWorkspace, clipsPerOrigin, maxRecordingsWaiting: 1000, vodPerOrigin, vodThreads });
    this.vodEncodeThreads = vodEncodeThreads(os.availableParallelism(), Math.min(vodThreads, vodPerOrigin));
    const execArgv = workerExecArgv();
    const threadPool = (maxThreads: number) =>
      new Piscina<MediaJob, MediaJobOutcome>({
        filename: workerEntryPath(import.meta.url, 'jobs-worker'),
        minThreads: 0,
        maxThreads,
        idleTimeout: opts.idleTimeoutMs ?? 30_000,
        // The lanes decide what runs: piscina only ever gets a task for a free thread.
        maxQueue: maxThreads,
        // Tasks wait on ffmpeg for seconds to minutes; an idle thread must not spin in Atomics.wait meanwhile.
        atomics: 'disabled',
        ...(execArgv ? { execArgv } : {}),
      });
    this.pool = threadPool(threads);
    this.vodPool = threadPool(vodThreads);
  }

  /** Jobs on a thread now. */
  get running(): number {
    return this.lanes.running;
  }

  /** Jobs accepted and waiting for a thread. */
  get waiting(): number {
    return this.lanes.waiting;
  }

  /** Clips of a workspace accepted and not finished. */
  clipsOf(workspaceId: string): number {
    return this.lanes.clipsOf(workspaceId);
  }

  /** Whether jobs are still taken (false once closing). */
  get accepting(): boolean {
    return !this.closing;
  }

  /** Builds a recording's MP4; it waits for a thread, ahead of every clip, and is never refused for lack of room. */
  exportRecording(job: ExportRecordingJob): Promise<RecordingExport> {
    return this.recordingLane((onThread) => onThread({ kind: 'export', ...job }));
  }

  /** Runs a recording's whole work (fetch, build, upload) in the recording lane. */
  recordingLane<T>(work: LaneWork<T>): Promise<T> {
    return this.enqueue('recording', '', work as LaneWork<unknown>) as Promise<T>;
  }

  /** Whether a library video's VOD job would be taken now (synchronous, so the edge gets its 202 or 429 at once). */
  admitVod(): { ok: true } | { ok: false; reason: string } {
    if (this.closing) return { ok: false, reason: 'the media jobs pool is shutting down' };
    return this.lanes.admit('vod', '');
  }

  /** VOD jobs accepted and not finished. */
  get vodJobs(): number {
    return this.lanes.vodsAccepted;
  }

  /** VOD jobs on their threads now. */
  get vodRunning(): number {
    return this.lanes.vodsRunning;
  }

  /**
   * Runs a library video's whole job (fetch, encode, upload) in the VOD lane, on the VOD threads (its `onThread` takes
   * only 'vod' jobs, run at VOD_NICENESS with bounded threads); refused ('busy') beyond the lane's bound. The place is
   * taken synchronously, before the returned promise settles.
   */
  vodLane<T>(work: LaneWork<T>): Promise<T> {
    return this.enqueue('vod', '', work as LaneWork<unknown>) as Promise<T>;
  }

  /**
   * Holds a place for one clip of `workspaceId`, or says why not and when to ask again. Synchronous, so the caller can
   * answer the edge (202 or 429) before any work starts.
   */
  admitClip(workspaceId: string): ClipAdmission {
    if (this.closing) return { ok: false, reason: 'the media jobs pool is shutting down', retryAfterSeconds: 30 };
    const verdict = this.lanes.admit('clip', workspaceId);
    if (!verdict.ok) return { ok: false, reason: verdict.reason, retryAfterSeconds: Math.min(60, Math.max(1, Math.ceil(this.clipSeconds))) };
    this.lanes.hold(workspaceId);
    // held: the place is ours and idle; running: a run has it (the lanes free it when the run ends); done: given back
    let state: 'held' | 'running' | 'done' = 'held';
    return {
      ok: true,
      slot: {
        run: <T>(work: LaneWork<T>): Promise<T> => {
          if (state !== 'held') return Promise.reject(new MediaJobError('busy', state === 'running' ? 'this clip is already running' : 'this clip slot was already used'));
          if (this.closing) return Promise.reject(new MediaJobError('busy', 'the media jobs pool is shutting down'));
          state = 'running';
          return new Promise<T>((resolve, reject) => {
            const failed = (error: unknown) => {
              // The lanes free the place as the run ends (or when drained); the clip holds it again for another run.
              this.lanes.hold(workspaceId);
              state = 'held';
              reject(error);
            };
            const succeeded = (result: unknown) => {
              state = 'done';
              resolve(result as T);
            };
            this.lanes.enqueue({ lane: 'clip', workspaceId, item: { work: work as LaneWork<unknown>, resolve: succeeded, reject: failed } });
            this.pump();
          });
        },
        release: () => {
          if (state !== 'held') return;
          state = 'done';
          this.lanes.release(workspaceId);
        },
      },
    };
  }

  /** Runs a job through its lane: recordings never refused, clips only within their workspace's limit. */
  runJob<J extends MediaJob>(job: J, workspaceId = ''): Promise<MediaJobResult<J['kind']>> {
    if (job.kind === 'export') return this.recordingLane((onThread) => onThread(job)) as Promise<MediaJobResult<J['kind']>>;
    const admission = this.admitClip(workspaceId);
    if (!admission.ok) return Promise.reject(new MediaJobError('busy', admission.reason));
    const { slot } = admission;
    return slot.run((onThread) => onThread(job)).catch((error: unknown) => {
      slot.release();
      throw error;
    }) as Promise<MediaJobResult<J['kind']>>;
  }

  /** Shorthand for a clip of an anonymous workspace (tests, tools). */
  clip(job: CutClipJob, workspaceId = ''): Promise<ClipArtifacts> {
    return this.runJob({ kind: 'clip', ...job }, workspaceId);
  }

  /** Refuses new jobs, fails the waiting ones, lets the running ones finish, then stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    for (const entry of this.lanes.drain()) entry.item.reject(new MediaJobError('busy', 'the media jobs pool is shutting down'));
    await Promise.all([this.pool.close(), this.vodPool.close()]);
  }

  private enqueue(lane: JobLane, workspaceId: string, work: LaneWork<unknown>): Promise<unknown> {
    if (this.closing) return Promise.reject(new MediaJobError('busy', 'the media jobs pool is shutting down'));
    const verdict = this.lanes.admit(lane, workspaceId);
    if (!verdict.ok) return Promise.reject(new MediaJobError('busy', verdict.reason));
    return new Promise((resolve, reject) => {
      this.lanes.enqueue({ lane, workspaceId, item: { work, resolve, reject } });
      this.pump();
    });
  }

  /** Runs a recording's or a clip's job on their thread (never a VOD job: its lowered priority would stay there). */
  private readonly onThread: OnThread = <J extends MediaJob>(job: J) => {
    if (job.kind === 'vod') return Promise.reject(new Error('a VOD job runs in the VOD lane only (vodLane)'));
    return this.runOn(this.pool, job);
  };

  /** Runs a VOD job on a VOD thread, at the VOD priority and thread bound unless the job says otherwise. */
  private readonly onVodThread: OnThread = <J extends MediaJob>(job: J) => {
    if (job.kind !== 'vod') return Promise.reject(new Error(`a ${job.kind} job does not run on the VOD threads`));
    return this.runOn(this.vodPool, { niceness: VOD_NICENESS, threads: this.vodEncodeThreads, ...job });
  };

  /** Runs one job on a worker thread of `pool`; its failure comes back as a MediaJobError. */
  private runOn<J extends MediaJob>(pool: Piscina<MediaJob, MediaJobOutcome>, job: J): Promise<MediaJobResult<J['kind']>> {
    return pool.run(job).then(
      (outcome) => {
        if (!outcome.ok) throw new MediaJobError(outcome.error.code, outcome.error.message, outcome.error.field);
        return outcome.result as MediaJobResult<J['kind']>;
      },
      (err: unknown) => {
        // The worker thread died under the job (or the pool was torn down): nothing the job's input did.
        const message = `media job worker failed: ${(err as Error)?.message ?? String(err)}`;
        throw new MediaJobError(this.closing ? 'busy' : 'interrupted', message);
      },
    );
  }

  /** Starts waiting jobs while threads are free. */
  private pump(): void {
    for (;;) {
      const entry = this.lanes.next();
      if (!entry) return;
      const task = entry.item;
      const started = Date.now();
      // The lane place is held for the whole of the work (not only its thread part): one at a time per place.
      Promise.resolve()
        .then(() => task.work(entry.lane === 'vod' ? this.onVodThread : this.onThread))
        .then(task.resolve, task.reject)
        .finally(() => {
          if (entry.lane === 'clip') this.clipSeconds = 0.7 * this.clipSeconds + 0.3 * ((Date.now() - started) / 1000);
          this.lanes.finished(entry);
          this.pump();
        });
    }
  }
}
