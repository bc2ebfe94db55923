// Library videos' jobs on this origin (issue 13): a /control/vod-jobs command taken (or refused with a reason and when to
// ask again), then, in the media jobs pool's VOD lane (after recordings and clips), the source fetched into a scratch
// folder — imported from its URL (V3's fetch) and stored as videos/{id}/source, or read from there in ranges through the
// edge — encoded on a worker thread (process-video.ts), and the outputs uploaded under videos/{id}/ with the command's
// media grant, master playlist after its renditions. video_progress (0–100, at most one every 2 s) from the fetch, the
// encode's `-progress` file and the upload; then video_ready or video_failed (permanent when another run would fail the
// same). Interrupted runs and unreachable storage run again here with backoff; a crash loses the job, and the edge hands
// it out again when this origin's heartbeat stops listing it (jobIds).
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { OriginEvent, VodJobCommand } from '../../shared/schemas/internal.ts';
import { videoKeys } from '../../shared/schemas/internal.ts';
import type { MediaInfo as ApiMediaInfo } from '../../shared/schemas/recording.ts';
import { sleep } from '../backoff.ts';
import { isDiskFullError } from '../disk-guard.ts';
import { progressSeconds, ProgressThrottle } from '../jobs/export-progress.ts';
import { grantProblem } from '../jobs/durable-jobs.ts';
import { MediaJobError } from '../jobs/job-error.ts';
import { isTransientJobFailure, jobRetryDelay } from '../jobs/job-retry.ts';
import type { MediaJobPool, OnThread } from '../jobs/jobs-pool.ts';
import { MASTER_PLAYLIST } from '../pipeline/hls-command.ts';
import { runFfprobe } from '../pipeline/ffmpeg.ts';
import { log, logWarn } from '../log.ts';
import type { ProcessedVideo } from './process-video.ts';

/** Where a job's source comes from and its outputs go, bound to the command's media grant. */
export interface VodJobStorage {
  /** reads `key` into `file` (ranged, resumable); a PermanentDownloadError when retrying cannot help */
  download(key: string, file: string, grant: string): Promise<{ bytes: number }>;
  /** stores `file` under `key`; resolves with its bytes */
  upload(key: string, file: string, grant: string): Promise<number>;
}

/**
 * An import's fetch (V3, origin/vod/import-source.ts): the command's sourceUrl into `file`, stored in R2 as
 * videos/{id}/source too (so a later run anywhere processes it without the URL), reporting 0..1 as it goes. Throws an
 * error with a `permanent` flag (ImportFailed) saying whether fetching again can help; its own retries are done by then.
 */
export type ImportFetch = (command: VodJobCommand, file: string, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<{ bytes: number }>;

export interface VodJobsDeps {
  /** scratch folders go under {workDir}/vod/{videoId} */
  workDir: string;
  pool: Pick<MediaJobPool, 'vodLane' | 'admitVod' | 'accepting'>;
  storage: VodJobStorage;
  emit: (event: OriginEvent) => Promise<void>;
  /** V3's import fetch; without it an import job fails (permanent) */
  importSource?: ImportFetch;
  /** whether live transcodes leave room for a VOD encode now (the admission ledger); default always */
  liveRoom?: () => boolean;
  /** least time between two video_progress events of one job; default 2000 ms */
  progressIntervalMs?: number;
}

export type VodAcceptance = { ok: true; joined: boolean } | { ok: false; status: 429 | 503; reason: string; retryAfterSeconds: number };

/** Shares of the processing phase's 0–100: fetching the source, the encode, the upload. */
export const PROCESSING_SHARES = { download: 0.1, encode: 0.8, upload: 0.1 } as const;

/** Pure: the processing phase's progress (0–100) when `step` is `fraction` done. */
export function processingProgress(step: keyof typeof PROCESSING_SHARES, fraction: number): number {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const before = step === 'download' ? 0 : step === 'encode' ? PROCESSING_SHARES.download : PROCESSING_SHARES.download + PROCESSING_SHARES.encode;
  return Math.min(99.9, Math.round((before + PROCESSING_SHARES[step] * f) * 1000) / 10);
}

/** A failure's words for the video's error: what happened, the disk named when it was the disk. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (isDiskFullError(error) && !message.startsWith('origin disk') ? `origin disk full: ${message}` : message).slice(0, 480);
}

/** Whether another run anywhere would fail the same way: the source itself is the trouble, or a refusal that stands. */
export function isPermanentVodFailure(error: unknown): boolean {
  if (error instanceof MediaJobError) return error.code === 'no-media' || error.code === 'ffmpeg-failed' || error.code === 'invalid-range';
  const e = error as { name?: string; permanent?: unknown } | null;
  return e?.name === 'PermanentDownloadError' || e?.permanent === true;
}

export class VodJobs {
  /** Jobs taken and not yet reported, by videoId. */
  private readonly jobs = new Map<string, Promise<void>>();
  /** Aborts imports in flight when this origin shuts down. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: VodJobsDeps) {}

  /** The videos whose jobs run or wait here, for the heartbeat: one the edge handed here and no beat lists is lost. */
  get jobIds(): string[] {
    return [...this.jobs.keys()];
  }

  /** Deletes the scratch a stopped or crashed run left (the edge hands its jobs out again). Called once at startup. */
  async clearScratch(): Promise<void> {
    await rm(path.join(this.deps.workDir, 'vod'), { recursive: true, force: true });
  }

  /** Takes a command (the job then runs in the background), joins the same video's running job, or refuses. */
  accept(command: VodJobCommand): VodAcceptance {
    if (this.jobs.has(command.videoId)) return { ok: true, joined: true };
    if (!this.deps.pool.accepting) return { ok: false, status: 503, reason: 'this origin is shutting down', retryAfterSeconds: 5 };
    if (this.deps.liveRoom && !this.deps.liveRoom()) {
      return { ok: false, status: 429, reason: 'live broadcasts take all of this origin\'s capacity', retryAfterSeconds: 30 };
    }
    const admitted = this.deps.pool.admitVod();
    if (!admitted.ok) return { ok: false, status: 429, reason: admitted.reason, retryAfterSeconds: 30 };
    const run = this.run(command).finally(() => this.jobs.delete(command.videoId));
    this.jobs.set(command.videoId, run);
    return { ok: true, joined: false };
  }

  /** Stops imports in flight (shutdown); encodes end with the jobs pool. */
  close(): void {
    this.stopping.abort();
  }

  /** The job of `videoId` running here, to wait for (tests, shutdown). */
  running(videoId: string): Promise<void> | undefined {
    return this.jobs.get(videoId);
  }

  private event(command: VodJobCommand, type: OriginEvent['type'], data: unknown): OriginEvent {
    return { id: `oev_${randomUUID()}`, streamId: command.videoId, sessionId: `vod-${command.attempt}`, type, at: new Date().toISOString(), data } as OriginEvent;
  }

  private async tell(command: VodJobCommand, type: OriginEvent['type'], data: unknown): Promise<void> {
    await this.deps.emit(this.event(command, type, data)).catch((e: unknown) => logWarn('event_not_queued', { videoId: command.videoId, type, error: String(e) }));
  }

  /** The whole job, runs included, to its one outcome event. */
  private async run(command: VodJobCommand): Promise<void> {
    const { videoId } = command;
    const started = Date.now();
    const throttle = new ProgressThrottle(this.deps.progressIntervalMs ?? 2000);
    let imported = false;
    const report = (phase: 'importing' | 'processing', percent: number) => {
      // One throttle over both phases: processing's 0 comes after importing's 100, so the figure is phase-aware.
      const ordinal = (phase === 'importing' ? 0 : 0.5) + percent / 200;
      // The import's end is always told (once), however soon after the figure before it: the video shows it complete.
      const importEnd = phase === 'importing' && percent >= 100 && !imported;
      if (importEnd) imported = true;
      if (throttle.next(ordinal, Date.now()) === null && !importEnd) return;
      void this.tell(command, 'video_progress', { videoId, phase, progress: Math.min(100, Math.max(0, Math.round(percent * 10) / 10)) });
    };
    for (let run = 1; ; run++) {
      log('vod_job_started', { videoId, kind: command.kind, attempt: command.attempt, run });
      try {
        const problem = grantProblem(command.grant, { read: videoKeys(videoId).source, write: `${videoKeys(videoId).hls}/${MASTER_PLAYLIST}` });
        if (problem) throw new MediaJobError('no-media', problem);
        const done = await this.deps.pool.vodLane((onThread) => this.once(command, onThread, report));
        const mediaInfo = done.mediaInfo as unknown as ApiMediaInfo;
        await this.tell(command, 'video_ready', { videoId, duration: done.duration, size: done.size, mediaInfo, renditions: done.renditions.map((r) => r.name) });
        log('vod_job_ready', { videoId, attempt: command.attempt, runs: run, ms: Date.now() - started, duration: done.duration, renditions: done.renditions.map((r) => `${r.name}:${r.width}x${r.height}`), deinterlaced: done.deinterlaced });
        return;
      } catch (error) {
        const reason = reasonOf(error);
        if (!this.deps.pool.accepting) {
          // This origin is going away: not the video's failure. The edge hands the job out again when beats stop listing it.
          logWarn('vod_job_abandoned', { videoId, reason, run });
          return;
        }
        const permanent = isPermanentVodFailure(error);
        // An import's fetch has retried on its own already (a flag says what it concluded): the edge decides what is next.
        const settled = typeof (error as { permanent?: unknown } | null)?.permanent === 'boolean';
        const wait = permanent || settled ? null : jobRetryDelay(run, isTransientJobFailure(error) ? error : new MediaJobError('storage-unavailable', reason));
        if (wait === null) {
          const said = run > 1 ? `${reason} (after ${run} runs)` : reason;
          logWarn('vod_job_failed', { videoId, attempt: command.attempt, reason: said, permanent, runs: run });
          await this.tell(command, 'video_failed', { videoId, reason: said, permanent });
          return;
        }
        logWarn('vod_job_retry', { videoId, run, reason, waitMs: wait });
        await sleep(wait);
      }
    }
  }

  /** One run in the VOD lane: source, encode, upload; the scratch folder goes before the lane place is given back. */
  private async once(command: VodJobCommand, onThread: OnThread, report: (phase: 'importing' | 'processing', percent: number) => void): Promise<ProcessedVideo> {
    const { videoId, grant } = command;
    const keys = videoKeys(videoId);
    const scratch = path.join(this.deps.workDir, 'vod', videoId);
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    try {
      const sourceFile = path.join(scratch, 'source');
      if (command.kind === 'import') {
        const fetch = this.deps.importSource;
        if (!fetch) throw new MediaJobError('no-media', 'this origin cannot import videos');
        await fetch(command, sourceFile, (f) => report('importing', f * 100), this.stopping.signal);
        report('importing', 100);
      } else {
        report('processing', processingProgress('download', 0));
        await this.deps.storage.download(keys.source, sourceFile, grant);
      }
      report('processing', processingProgress('encode', 0));
      const progressFile = path.join(scratch, 'encode-progress.txt');
      let duration = 0;
      // ffmpeg writes its progress into the file about once a second; a job thread cannot send events itself.
      const poll = setInterval(() => {
        void readFile(progressFile, 'utf8').then(
          (text) => {
            const s = progressSeconds(text);
            if (s !== undefined && duration > 0) report('processing', processingProgress('encode', s / duration));
          },
          () => undefined,
        );
      }, 1000);
      let done: ProcessedVideo;
      try {
        // The duration is known only once the thread probed the source: ask ffprobe here too, cheaply, for the figure.
        duration = await sourceDuration(sourceFile);
        done = await onThread({ kind: 'vod', sourceFile, outDir: path.join(scratch, 'out'), progressFile });
      } finally {
        clearInterval(poll);
      }
      report('processing', processingProgress('upload', 0));
      const files = await listFiles(done.hlsDir);
      // Renditions first, the master last: a master in R2 means every playlist it lists is there too.
      const ordered = [...files.filter((f) => f.rel !== MASTER_PLAYLIST), ...files.filter((f) => f.rel === MASTER_PLAYLIST)];
      const all = [...ordered.map((f) => ({ key: `${keys.hls}/${f.rel}`, file: f.full })), { key: keys.mp4, file: done.mp4Path }, { key: keys.thumbnail, file: done.thumbnailPath }];
      for (const [i, item] of all.entries()) {
        await this.deps.storage.upload(item.key, item.file, grant);
        report('processing', processingProgress('upload', (i + 1) / all.length));
      }
      return done;
    } finally {
      await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** The source's duration for the progress figure (0 when ffprobe cannot tell: the thread's probe then decides). */
async function sourceDuration(file: string): Promise<number> {
  const r = await runFfprobe(['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { timeoutMs: 30_000 });
  const seconds = Number(r.stdout.toString('utf8').trim());
  return r.code === 0 && Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

async function listFiles(dir: string): Promise<{ rel: string; full: string }[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => {
      const full = path.join(e.parentPath, e.name);
      return { rel: path.relative(dir, full).split(path.sep).join('/'), full };
    })
    .sort((a, b) => a.rel.localeCompare(b.rel));
}
