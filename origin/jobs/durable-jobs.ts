// Recording exports and clips built from a session's durable media in R2, so any origin with room can run them and
// losing the origin that held the session loses neither. Each job holds its lane place (jobs-pool.ts) for all of its
// work: the session's needed media fetched into a scratch folder (durable-session.ts), the ffmpeg part on a worker
// thread, the upload under the job's own prefix with the command's media grant, the scratch deleted. Exports report
// recording_progress (at most one every 2 s), then recording_ready or recording_failed; clips clip_ready or
// clip_failed. A job interrupted from outside (its ffmpeg killed) or stopped by storage it could not read runs again
// with backoff (job-retry.ts).
import { mkdir, readdir, readFile, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ClipCommand, ClipArtifacts, ExportRecordingCommand, OriginEvent, RecordingArtifacts } from '../../shared/schemas/internal.ts';
import type { MediaInfo } from '../../shared/schemas/recording.ts';
import { grantCovers, readMediaGrant } from '../../shared/media-grant.ts';
import { sleep } from '../backoff.ts';
import { isDiskFullError } from '../disk-guard.ts';
import { log, logWarn } from '../log.ts';
import type { ClipArtifacts as ClipJobArtifacts } from './clip.ts';
import { materializeSession, type DurableMediaReader, type MaterializeWant, type MaterializedSession } from './durable-session.ts';
import { RECORDING_MP4, SCREENSHOT_JPG, type RecordingExport } from './export-recording.ts';
import { exportProgress, progressSeconds, ProgressThrottle, uploadFraction } from './export-progress.ts';
import { MediaJobError } from './job-error.ts';
import { jobRetryDelay } from './job-retry.ts';
import { MASTER_PLAYLIST } from '../pipeline/hls-command.ts';
import type { ClipSlot, MediaJobPool, OnThread } from './jobs-pool.ts';

/** A job's access to storage, bound to its command's media grant. */
export interface JobMedia {
  read: DurableMediaReader;
  /** stores one file under `key`; resolves with its bytes */
  uploadFile(key: string, file: string): Promise<number>;
}

/** A clip command's answer: accepted (cut in the background), or refused for now with when to ask again. */
export type ClipAcceptance = { ok: true } | { ok: false; reason: string; retryAfterSeconds: number };

export interface DurableJobsDeps {
  /** scratch folders go under it ({workDir}/exports/…, {workDir}/clips/…) */
  workDir: string;
  pool: Pick<MediaJobPool, 'recordingLane' | 'admitClip' | 'accepting'>;
  /** storage for one command's grant */
  media: (grant: string) => JobMedia;
  emit: (event: OriginEvent) => Promise<void>;
  /** bytes the scratch disk keeps free for live media (the disk guard's publish minimum); default 0 */
  reserveBytes?: number;
  /** least time between two recording_progress events of one export; default 2000 ms */
  progressIntervalMs?: number;
}

/** A failure's reason as the recording or clip shows it: what happened, and whether it was the disk. */
function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (isDiskFullError(error) && !message.startsWith('origin disk') ? `origin disk full: ${message}` : message).slice(0, 480);
}

const event = (streamId: string, sessionId: string, type: OriginEvent['type'], data: unknown): OriginEvent =>
  ({ id: `oev_${randomUUID()}`, streamId, sessionId, type, at: new Date().toISOString(), data }) as OriginEvent;

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

/**
 * Why a command's grant cannot do the job (it does not name the session or the output), read without its MAC — only
 * the edge can check that — so a job the storage would refuse at its last step does not fetch and mux first.
 */
export function grantProblem(grant: string, keys: { read: string; write: string }): string | null {
  const claims = readMediaGrant(grant);
  if (!claims) return 'the media grant is unreadable';
  if (!grantCovers(claims.prefixes, keys.read)) return `the media grant does not cover ${keys.read}`;
  if (!grantCovers(claims.prefixes, keys.write)) return `the media grant does not cover ${keys.write}`;
  return null;
}
const trimSlash = (prefix: string): string => prefix.replace(/\/+$/, '');

export class DurableJobs {
  /** One export per recording at a time: a command repeated while it runs joins it. */
  private readonly exports = new Map<string, Promise<void>>();
  /** Clips accepted and not yet reported (cutting, waiting for a thread, or between retries). */
  private readonly clips = new Set<string>();

  constructor(private readonly deps: DurableJobsDeps) {}

  /**
   * Deletes the scratch folders a stopped or crashed run left (its exports are handed out again by the edge, its clips
   * failed or will be asked again), and the old local recording build's work folder. Called once at startup.
   */
  async clearScratch(): Promise<void> {
    await Promise.all(['exports', 'clips', 'recordings'].map((name) => rm(path.join(this.deps.workDir, name), { recursive: true, force: true })));
  }

  /** Whether new jobs are taken (false while the jobs pool shuts down: the edge sends the job elsewhere). */
  get accepting(): boolean {
    return this.deps.pool.accepting;
  }

  /** Exports in the works. */
  get exporting(): number {
    return this.exports.size;
  }

  /**
   * The ids of the jobs this origin has taken and not finished — recordings being exported, clips being cut, running or
   * waiting — for its heartbeat: a job the edge handed here that a beat does not list is lost (after a restart, say),
   * and the edge hands it out again. Listed from the moment the command is answered until its outcome is queued.
   */
  get jobIds(): string[] {
    return [...this.exports.keys(), ...this.clips];
  }

  /** Starts (or joins) the export of a recording; it runs in the background and reports through events. */
  exportRecording(command: ExportRecordingCommand): Promise<void> {
    const existing = this.exports.get(command.recordingId);
    if (existing) return existing;
    const run = this.exportWithRetries(command).finally(() => this.exports.delete(command.recordingId));
    this.exports.set(command.recordingId, run);
    return run;
  }

  private async exportWithRetries(command: ExportRecordingCommand): Promise<void> {
    const { streamId, sessionId, recordingId } = command;
    const started = Date.now();
    for (let run = 1; ; run++) {
      log('recording_export_started', { streamId, sessionId, recordingId, run });
      const outcome = await this.exportOnce(command, started);
      if (outcome === 'done') return;
      const wait = jobRetryDelay(run, outcome.error);
      const reason = failureReason(outcome.error);
      if (!this.deps.pool.accepting) {
        // This origin is going away: not the recording's failure. Its export's deadline runs out at the edge, which
        // hands the export to another origin.
        logWarn('recording_export_abandoned', { streamId, sessionId, recordingId, reason, run });
        return;
      }
      if (wait === null) {
        const said = run > 1 ? `${reason} (after ${run} runs)` : reason;
        logWarn('recording_failed', { streamId, sessionId, recordingId, reason: said, runs: run });
        await this.deps.emit(event(streamId, sessionId, 'recording_failed', { reason: said })).catch((e: unknown) => logWarn('event_not_queued', { streamId, type: 'recording_failed', error: String(e) }));
        return;
      }
      logWarn('recording_export_retry', { streamId, sessionId, recordingId, run, reason, waitMs: wait });
      await sleep(wait);
    }
  }

  /** One run of an export: fetch, mux, upload, tell; a failure is handed back to decide on a retry. */
  private async exportOnce(command: ExportRecordingCommand, started: number): Promise<'done' | { error: unknown }> {
    const { streamId, sessionId, recordingId } = command;
    const media = this.deps.media(command.mediaGrant);
    const outputPrefix = trimSlash(command.outputPrefix);
    const scratch = path.join(this.deps.workDir, 'exports', recordingId);
    const throttle = new ProgressThrottle(this.deps.progressIntervalMs ?? 2000);
    const report = (progress: number) => {
      const p = throttle.next(progress, Date.now());
      if (p === null) return;
      void this.deps.emit(event(streamId, sessionId, 'recording_progress', { recordingId, progress: p })).catch((e: unknown) => logWarn('event_not_queued', { streamId, type: 'recording_progress', error: String(e) }));
    };
    let timings = { downloadMs: 0, muxMs: 0, uploadMs: 0, bytes: 0 };
    try {
      const problem = grantProblem(command.mediaGrant, { read: `${trimSlash(command.durablePrefix)}/${MASTER_PLAYLIST}`, write: `${outputPrefix}/${RECORDING_MP4}` });
      if (problem) throw new MediaJobError('no-media', problem);
      const built = await this.deps.pool.recordingLane(async (onThread: OnThread) => {
        await rm(scratch, { recursive: true, force: true });
        await mkdir(scratch, { recursive: true });
        try {
          const t0 = Date.now();
          const session = await this.materialize(media, command.durablePrefix, scratch, { kind: 'export' }, (done, total) => report(exportProgress('download', done / total)));
          const t1 = Date.now();
          const progressFile = path.join(scratch, 'mux-progress.txt');
          // ffmpeg writes its progress into the file about once a second; a job thread cannot send events itself.
          const poll = setInterval(() => {
            void readFile(progressFile, 'utf8').then(
              (text) => {
                const s = progressSeconds(text);
                if (s !== undefined && session.timelineDuration > 0) report(exportProgress('mux', s / session.timelineDuration));
              },
              () => undefined,
            );
          }, 1000);
          let out: RecordingExport;
          try {
            out = await onThread({ kind: 'export', sessionDir: session.dir, outDir: path.join(scratch, 'out'), progressFile });
          } finally {
            clearInterval(poll);
          }
          const t2 = Date.now();
          report(exportProgress('upload', 0));
          const fetched = { bytes: session.bytes, ms: t1 - t0 };
          const ticking = setInterval(() => report(exportProgress('upload', uploadFraction(out.size, Date.now() - t2, fetched))), 1000);
          try {
            await media.uploadFile(`${outputPrefix}/${RECORDING_MP4}`, out.mp4Path);
            await media.uploadFile(`${outputPrefix}/${SCREENSHOT_JPG}`, out.screenshotPath);
          } finally {
            clearInterval(ticking);
          }
          timings = { downloadMs: t1 - t0, muxMs: t2 - t1, uploadMs: Date.now() - t2, bytes: session.bytes };
          return out;
        } finally {
          // Freed before the lane place is, so the places bound the scratch disk in use.
          await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
        }
      });
      const artifacts: RecordingArtifacts = {
        duration: built.duration,
        size: built.size,
        // The job's probe carries more than the API shows; the edge keeps the documented fields.
        mediaInfo: built.mediaInfo as unknown as MediaInfo,
        // The recording plays from the session's durable playlists; the MP4 is its download.
        hlsPrefix: trimSlash(command.durablePrefix),
        mp4Key: `${outputPrefix}/${RECORDING_MP4}`,
        screenshotKey: `${outputPrefix}/${SCREENSHOT_JPG}`,
      };
      await this.deps.emit(event(streamId, sessionId, 'recording_ready', artifacts));
      log('recording_exported', { streamId, sessionId, recordingId, duration: built.duration, size: built.size, segments: built.segments, dropped: built.droppedSegments.length, ms: Date.now() - started, ...timings });
      return 'done';
    } catch (error) {
      return { error };
    }
  }

  /**
   * Takes a clip command: refused at once (the edge answers 429 with Retry-After) when its workspace, or this origin,
   * already has as many clips in the works as allowed; otherwise the clip is cut in the background.
   */
  acceptClip(command: ClipCommand): ClipAcceptance {
    const admission = this.deps.pool.admitClip(command.workspaceId);
    if (!admission.ok) {
      log('clip_refused', { streamId: command.streamId, clipId: command.clipId, reason: admission.reason, retryAfterSeconds: admission.retryAfterSeconds });
      return admission;
    }
    void this.cutClip(command, admission.slot);
    return { ok: true };
  }

  /** Cuts a clip to the end (retries included) and reports it; resolves once the outcome is queued. */
  async cutClip(command: ClipCommand, slot: ClipSlot): Promise<void> {
    const { clipId, streamId, sessionId } = command;
    this.clips.add(clipId);
    try {
      const { built, size, offset } = await this.runClip(command, slot);
      const prefix = `clips/${clipId}`;
      log('clip_cut', { clipId, method: built.method, reencodedFrames: built.reencodedFrames, fallback: built.fallbackReason ?? null, timelineOffset: offset });
      const artifacts: ClipArtifacts = {
        clipId,
        duration: built.duration,
        actualStart: round6(built.actualStart + offset),
        actualEnd: round6(built.actualEnd + offset),
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
      this.clips.delete(clipId);
    }
  }

  /** The clip's work, run again in its place after a transient failure (bounded, with backoff); the last failure is thrown. */
  private async runClip(command: ClipCommand, slot: ClipSlot): Promise<{ built: ClipJobArtifacts; size: number; offset: number }> {
    const { clipId, streamId } = command;
    const media = this.deps.media(command.mediaGrant);
    const scratch = path.join(this.deps.workDir, 'clips', clipId);
    const prefix = `clips/${clipId}`;
    const problem = grantProblem(command.mediaGrant, { read: `${trimSlash(command.durablePrefix)}/${MASTER_PLAYLIST}`, write: `${prefix}/clip.mp4` });
    if (problem) throw new MediaJobError('no-media', problem);
    for (let run = 1; ; run++) {
      try {
        return await slot.run(async (onThread) => {
          await rm(scratch, { recursive: true, force: true });
          await mkdir(scratch, { recursive: true });
          try {
            const want: MaterializeWant = { kind: 'clip', startTime: command.startTime, endTime: command.endTime };
            const session = await this.materialize(media, command.durablePrefix, scratch, want);
            if (session.missing.length > 0) throw new MediaJobError('no-media', `the clip's range lost ${session.missing.length} segment(s) from storage (${session.missing[0]})`);
            const offset = session.timelineOffset;
            const built = await onThread({
              kind: 'clip',
              sessionDir: session.dir,
              // The folder holds only the range's segments: its timeline starts at the first one's.
              startTime: Math.max(0, round6(command.startTime - offset)),
              endTime: round6(command.endTime - offset),
              accurate: command.accurate,
              outDir: path.join(scratch, 'out'),
              ...(session.runHeadFile ? { runHeadFile: session.runHeadFile } : {}),
            });
            await uploadTree(media, `${prefix}/hls`, built.vodDir);
            const size = await media.uploadFile(`${prefix}/clip.mp4`, built.mp4Path);
            return { built, size, offset };
          } finally {
            await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
          }
        });
      } catch (error) {
        const wait = jobRetryDelay(run, error);
        if (wait === null) throw run > 1 ? new Error(`${error instanceof Error ? error.message : String(error)} (after ${run} runs)`, { cause: error }) : error;
        logWarn('clip_retry', { streamId, clipId, run, reason: failureReason(error), waitMs: wait });
        await sleep(wait);
      }
    }
  }

  private materialize(media: JobMedia, prefix: string, scratch: string, want: MaterializeWant, progress?: (done: number, total: number) => void): Promise<MaterializedSession> {
    return materializeSession({
      read: media.read,
      prefix,
      scratchDir: scratch,
      want,
      ...(progress ? { onProgress: (done: { segments: number }, total: { segments: number }) => progress(done.segments, total.segments) } : {}),
      // The segments, and about as much again for what is built from them (the MP4, a clip's HLS).
      checkDisk: (bytes) => this.diskRefusal(scratch, 2 * bytes),
    });
  }

  /** Why the scratch disk cannot take `bytes` more and still keep the live media's reserve, or null. */
  private async diskRefusal(dir: string, bytes: number): Promise<string | null> {
    const fs = await statfs(dir).catch(() => null);
    if (!fs) return null;
    const free = fs.bavail * fs.bsize;
    const reserve = this.deps.reserveBytes ?? 0;
    if (free - bytes >= reserve) return null;
    const mib = (n: number) => Math.round(n / (1024 * 1024));
    return `origin disk too full for this job: it needs about ${mib(bytes)} MiB, ${mib(free)} MiB free of which ${mib(reserve)} MiB stay for live media`;
  }
}

/** Every file under `dir`, keeping its relative path under `prefix`. */
async function uploadTree(media: JobMedia, prefix: string, dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    total += await media.uploadFile(`${prefix}/${path.relative(dir, full).split(path.sep).join('/')}`, full);
  }
  return total;
}
