// Turns finished sessions into recordings and cuts clips: runs the media job on the jobs pool, stores the result in
// R2 through the edge, and reports recording_ready / clip_ready (or the failure, with its reason) through the outbox.
// Each recording build is counted in the session's folder first, so a build that keeps failing (a full disk) is not
// redone at every restart.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { MediaUploader } from '../media-uploader.ts';
import type { OriginEvent, ClipCommand, RecordingArtifacts, ClipArtifacts } from '../../shared/schemas/internal.ts';
import type { MediaInfo } from '../../shared/schemas/recording.ts';
import type { ClipSlot, MediaJobPool } from '../jobs/jobs-pool.ts';
import type { ClipArtifacts as ClipJobArtifacts } from '../jobs/clip.ts';
import { jobRetryDelay } from '../jobs/job-retry.ts';
import { sleep } from '../backoff.ts';
import { markFinalized, noteFinalizeAttempt, noteFinalizeFailure, sessionDir, type SessionManifest } from '../ingest/session-manifest.ts';
import { isDiskFullError } from '../disk-guard.ts';
import { log, logWarn } from '../log.ts';

/** The jobs pool, seen from here: it builds a recording or a clip on disk. */
export type MediaJobRunner = Pick<MediaJobPool, 'finalize' | 'admitClip'>;

/** A clip command's answer: accepted (cut in the background), or refused for now with when to ask again. */
export type ClipAcceptance = { ok: true } | { ok: false; reason: string; retryAfterSeconds: number };

/** A failure's reason as the recording or clip shows it: what happened, and whether it was the disk. */
function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (isDiskFullError(error) ? `origin disk full: ${message}` : message).slice(0, 480);
}

export interface VodPublisherDeps {
  mediaDir: string;
  workDir: string;
  jobs: MediaJobRunner;
  uploader: MediaUploader;
  emit: (event: OriginEvent) => Promise<void>;
}

const event = (streamId: string, sessionId: string, type: OriginEvent['type'], data: unknown): OriginEvent =>
  ({ id: `oev_${randomUUID()}`, streamId, sessionId, type, at: new Date().toISOString(), data }) as OriginEvent;

export class VodPublisher {
  /** One build per session at a time: a retry while the first build runs joins it. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: VodPublisherDeps) {}

  finalizeRecording(manifest: Pick<SessionManifest, 'streamId' | 'sessionId'>): Promise<void> {
    const existing = this.running.get(manifest.sessionId);
    if (existing) return existing;
    const run = this.buildRecording(manifest).finally(() => this.running.delete(manifest.sessionId));
    this.running.set(manifest.sessionId, run);
    return run;
  }

  private async buildRecording({ streamId, sessionId }: Pick<SessionManifest, 'streamId' | 'sessionId'>): Promise<void> {
    const dir = sessionDir(this.deps.mediaDir, streamId, sessionId);
    const outDir = path.join(this.deps.workDir, 'recordings', sessionId);
    const started = Date.now();
    for (let run = 1; ; run++) {
      try {
        const { attempts } = await noteFinalizeAttempt(dir);
        log('recording_build_started', { streamId, sessionId, attempt: attempts, run });
      } catch (error) {
        // Not even the attempt could be written (a full disk): building would fail the same way, so it is not started.
        const reason = failureReason(error);
        logWarn('recording_failed', { streamId, sessionId, reason, started: false });
        await this.deps.emit(event(streamId, sessionId, 'recording_failed', { reason })).catch(() => undefined);
        return;
      }
      const outcome = await this.buildOnce(streamId, sessionId, dir, outDir, started);
      if (outcome === 'done') return;
      // A job interrupted from outside (its ffmpeg killed) is run again after a while; any other failure is final.
      const wait = jobRetryDelay(run, outcome.error);
      const reason = failureReason(outcome.error);
      if (wait === null) {
        const said = run > 1 ? `${reason} (after ${run} runs)` : reason;
        logWarn('recording_failed', { streamId, sessionId, reason: said, runs: run });
        await noteFinalizeFailure(dir, said);
        await this.deps.emit(event(streamId, sessionId, 'recording_failed', { reason: said })).catch((e: unknown) => logWarn('event_not_queued', { streamId, type: 'recording_failed', error: String(e) }));
        return;
      }
      logWarn('recording_build_retry', { streamId, sessionId, run, reason, waitMs: wait });
      await noteFinalizeFailure(dir, reason);
      await sleep(wait);
    }
  }

  /** One run of a recording build: the job, the uploads and the event; a failure is handed back to decide on a retry. */
  private async buildOnce(streamId: string, sessionId: string, dir: string, outDir: string, started: number): Promise<'done' | { error: unknown }> {
    const prefix = `recordings/${streamId}/${sessionId}`;
    try {
      await rm(outDir, { recursive: true, force: true });
      await mkdir(outDir, { recursive: true });
      const built = await this.deps.jobs.finalize({ sessionDir: dir, outDir });
      await this.deps.uploader.uploadDirectory(`${prefix}/hls`, built.vodDir);
      await this.deps.uploader.uploadFile(`${prefix}/recording.mp4`, built.mp4Path);
      await this.deps.uploader.uploadFile(`${prefix}/screenshot.jpg`, built.screenshotPath);
      const artifacts: RecordingArtifacts = {
        duration: built.duration,
        size: built.size,
        // The job's probe carries more than the API shows; the edge keeps the documented fields.
        mediaInfo: built.mediaInfo as unknown as MediaInfo,
        hlsPrefix: `${prefix}/hls`,
        mp4Key: `${prefix}/recording.mp4`,
        screenshotKey: `${prefix}/screenshot.jpg`,
      };
      await this.deps.emit(event(streamId, sessionId, 'recording_ready', artifacts));
      await markFinalized(dir, { duration: built.duration, size: built.size });
      log('recording_ready', { streamId, sessionId, duration: built.duration, size: built.size, ms: Date.now() - started });
      return 'done';
    } catch (error) {
      return { error };
    } finally {
      await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /**
   * Takes a clip command: refused at once (the edge answers 429 with Retry-After) when its workspace, or this origin,
   * already has as many clips in the works as allowed; otherwise the clip is cut in the background.
   */
  acceptClip(command: ClipCommand): ClipAcceptance {
    const admission = this.deps.jobs.admitClip(command.workspaceId);
    if (!admission.ok) {
      log('clip_refused', { streamId: command.streamId, clipId: command.clipId, reason: admission.reason, retryAfterSeconds: admission.retryAfterSeconds });
      return admission;
    }
    void this.cutClip(command, admission.slot);
    return { ok: true };
  }

  private async cutClip(command: ClipCommand, slot: ClipSlot): Promise<void> {
    const { clipId, streamId, sessionId } = command;
    const outDir = path.join(this.deps.workDir, 'clips', clipId);
    const prefix = `clips/${clipId}`;
    try {
      const built = await this.runClip(command, slot, outDir);
      await this.deps.uploader.uploadDirectory(`${prefix}/hls`, built.vodDir);
      const size = await this.deps.uploader.uploadFile(`${prefix}/clip.mp4`, built.mp4Path);
      log('clip_cut', { clipId, method: built.method, reencodedFrames: built.reencodedFrames, fallback: built.fallbackReason ?? null });
      const artifacts: ClipArtifacts = {
        clipId,
        duration: built.duration,
        actualStart: built.actualStart,
        actualEnd: built.actualEnd,
        size,
        hlsPrefix: `${prefix}/hls`,
        mp4Key: `${prefix}/clip.mp4`,
      };
      await this.deps.emit(event(streamId, sessionId, 'clip_ready', artifacts));
      log('clip_ready', { streamId, clipId, duration: built.duration, accurate: command.accurate });
    } catch (error) {
      slot.release(); // given back unless the clip was made (a no-op then)
      const reason = failureReason(error);
      logWarn('clip_failed', { streamId, clipId, reason });
      await this.deps.emit(event(streamId, sessionId, 'clip_failed', { clipId, reason })).catch((e: unknown) => logWarn('event_not_queued', { streamId, type: 'clip_failed', error: String(e) }));
    } finally {
      await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** The clip job, run again in its place after a transient failure (bounded, with backoff); the last failure is thrown. */
  private async runClip(command: ClipCommand, slot: ClipSlot, outDir: string): Promise<ClipJobArtifacts> {
    const { clipId, streamId, sessionId } = command;
    for (let run = 1; ; run++) {
      try {
        await rm(outDir, { recursive: true, force: true });
        await mkdir(outDir, { recursive: true });
        return await slot.run({
          sessionDir: sessionDir(this.deps.mediaDir, streamId, sessionId),
          startTime: command.startTime,
          endTime: command.endTime,
          accurate: command.accurate,
          outDir,
        });
      } catch (error) {
        const wait = jobRetryDelay(run, error);
        if (wait === null) throw run > 1 ? new Error(`${error instanceof Error ? error.message : String(error)} (after ${run} runs)`, { cause: error }) : error;
        logWarn('clip_retry', { streamId, clipId, run, reason: failureReason(error), waitMs: wait });
        await sleep(wait);
      }
    }
  }
}
