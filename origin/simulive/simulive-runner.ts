// Simulive on this origin (issue 12): a recording broadcast as live. Per command: the source MP4 is downloaded through
// the edge, the broadcast is admitted like any publish (capacity, then authorize with the one-time ticket), and
// `ffmpeg -re -i source -c copy -f flv pipe:1` plays it in real time; its FLV tags go into the Broadcast exactly as an
// RTMP publisher's do, so playback, durable media and recordings are those of any broadcast. The end of the source
// ends the broadcast with 'simulive_source_ended'; a kick stops ffmpeg; a failure is an `error` event and the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Admission, LiveIngest } from '../ingest/live-ingest.ts';
import type { Broadcast } from '../ingest/broadcast.ts';
import type { OriginEvent, SimuliveCommand } from '../../shared/schemas/internal.ts';
import { ORIGIN_EVENT_LIMITS } from '../../shared/schemas/internal.ts';
import { FlvTagReader } from './flv-tag-reader.ts';
import { log, logWarn } from '../log.ts';

/** publish_done's reason when the source played to its end. */
export const SOURCE_ENDED = 'simulive_source_ended';
/** A stopped ffmpeg that has not exited after this long is killed. */
const KILL_AFTER_MS = 3000;
/** ffmpeg's stderr kept for the failure reason. */
const STDERR_TAIL_CHARS = 2000;
/** Where sources are kept while they play: a dot folder the HLS server never serves and session scans skip. */
export const SOURCE_FOLDER = '.simulive';

export type SimuliveStart = { ok: true } | { ok: false; status: 409 | 503; reason: string };

export interface SimuliveRunnerDeps {
  ingest: Pick<LiveIngest, 'admit' | 'released' | 'originLoad' | 'watchFull'>;
  mediaDir: string;
  /** Downloads the command's source to `file` (origin/simulive/source-download.ts); throws when it cannot. */
  download: (command: SimuliveCommand, file: string, signal: AbortSignal) => Promise<unknown>;
  emit: (event: OriginEvent) => Promise<void>;
  ffmpegPath?: string;
}

interface SimuliveJob {
  command: SimuliveCommand;
  abort: AbortController;
  /** set once admitted: the ticket was used, and a new command for the stream is refused */
  broadcast: Broadcast | null;
  child: ChildProcess | null;
  /** why the broadcast was stopped from outside (kick, shutdown), if it was */
  stoppedFor: string | null;
}

export class SimuliveRunner {
  private readonly jobs = new Map<string, SimuliveJob>();
  private closed = false;
  /** Whether a new publisher would be refused for capacity now (the ledger's own verdict, as SRT's hook follows it). */
  private full = false;

  constructor(private readonly deps: SimuliveRunnerDeps) {
    deps.ingest.watchFull((full) => (this.full = full));
  }

  /** Streams with a simulive downloading or playing here. */
  get running(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * Takes a command (answered at once; the broadcast follows). A command for a stream still downloading here replaces
   * its ticket (the edge retried and issued a new one, which voids the old).
   */
  start(command: SimuliveCommand): SimuliveStart {
    const existing = this.jobs.get(command.streamId);
    if (existing) {
      if (existing.broadcast) return { ok: false, status: 409, reason: 'this origin broadcasts the stream already' };
      existing.command = command;
      return { ok: true };
    }
    // Refused up front so the edge tries another origin; admission itself (after the download) decides for good.
    if (this.closed || this.deps.ingest.originLoad().draining) return { ok: false, status: 503, reason: 'this origin is shutting down' };
    if (this.full) return { ok: false, status: 503, reason: 'this origin is at capacity' };
    const job: SimuliveJob = { command, abort: new AbortController(), broadcast: null, child: null, stoppedFor: null };
    this.jobs.set(command.streamId, job);
    void this.run(job).finally(() => this.jobs.delete(command.streamId));
    return { ok: true };
  }

  /** Shutdown: downloads are abandoned; playing broadcasts end through the ingest's own close (their disconnect). */
  close(): void {
    this.closed = true;
    for (const job of this.jobs.values()) if (!job.broadcast) job.abort.abort();
  }

  private async run(job: SimuliveJob): Promise<void> {
    const { streamId, source } = job.command;
    const dir = path.join(this.deps.mediaDir, SOURCE_FOLDER);
    const file = path.join(dir, `${streamId}-${randomUUID()}.mp4`);
    try {
      await mkdir(dir, { recursive: true });
      let failure: string | null = null;
      const started = Date.now();
      try {
        await this.deps.download(job.command, file, job.abort.signal);
        log('simulive_source_ready', { streamId, recordingId: source.recordingId, ms: Date.now() - started });
      } catch (error) {
        if (job.abort.signal.aborted) return;
        failure = `the source could not be read: ${String(error)}`;
        logWarn('simulive_source_failed', { streamId, recordingId: source.recordingId, error: String(error).slice(0, 300) });
      }
      const admission = await this.admit(job);
      if (!admission.ok) {
        logWarn('simulive_refused', { streamId, reason: admission.reason, detail: admission.detail });
        return;
      }
      const broadcast = admission.broadcast;
      job.broadcast = broadcast;
      // Nothing resumes a simulive: whichever way it ends, the session ends with it (no reconnect window here).
      broadcast.sessionOver = true;
      if (failure) return this.fail(job, failure);
      await this.play(job, file);
    } finally {
      await rm(file, { force: true });
      await rm(`${file}.part`, { force: true });
    }
  }

  private admit(job: SimuliveJob): Promise<Admission> {
    return this.deps.ingest.admit(
      { protocol: 'simulive', streamId: job.command.streamId, simuliveTicket: job.command.ticket, remoteAddress: '127.0.0.1' },
      (reason) => this.stop(job, reason),
    );
  }

  /** A kick, the disk filling up, shutdown: ffmpeg is stopped, and the end is reported once it has exited. */
  private stop(job: SimuliveJob, reason: string): void {
    if (job.stoppedFor !== null) return;
    job.stoppedFor = reason;
    job.abort.abort();
    const child = job.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      if (job.broadcast && !child) this.deps.ingest.released(job.broadcast, reason);
      return;
    }
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS).unref();
  }

  private fail(job: SimuliveJob, reason: string): void {
    const broadcast = job.broadcast!;
    const clamped = `simulive failed: ${reason}`.slice(0, ORIGIN_EVENT_LIMITS.failureReasonChars);
    void this.deps
      .emit({ id: `oev_${randomUUID()}`, streamId: broadcast.streamId, sessionId: broadcast.sessionId, type: 'error', at: new Date().toISOString(), data: { reason: clamped } })
      .catch(() => undefined);
    if (job.stoppedFor === null) {
      job.stoppedFor = 'failed';
      this.deps.ingest.released(broadcast, `simulive_failed: ${reason}`.slice(0, ORIGIN_EVENT_LIMITS.endReasonChars));
    }
  }

  /** Plays the source in real time into the broadcast; resolves once ffmpeg has exited and the end is reported. */
  private async play(job: SimuliveJob, file: string): Promise<void> {
    const broadcast = job.broadcast!;
    if (job.stoppedFor !== null) return; // kicked while authorize was answering: released by stop()
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', '-f', 'flv', 'pipe:1'];
    const child = spawn(this.deps.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    job.child = child;
    log('simulive_started', { streamId: broadcast.streamId, sessionId: broadcast.sessionId, recordingId: job.command.source.recordingId });
    const reader = new FlvTagReader();
    let formatError: string | null = null;
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (formatError) return;
      try {
        for (const tag of reader.push(chunk)) broadcast.push(tag);
      } catch (error) {
        formatError = String(error);
        child.kill('SIGKILL');
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, spawnError: String(error) }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    log('simulive_finished', { streamId: broadcast.streamId, sessionId: broadcast.sessionId, code: exit.code, signal: exit.signal, stoppedFor: job.stoppedFor });
    if (job.stoppedFor !== null) {
      this.deps.ingest.released(broadcast, job.stoppedFor);
    } else if (exit.code === 0 && !formatError) {
      job.stoppedFor = SOURCE_ENDED;
      this.deps.ingest.released(broadcast, SOURCE_ENDED);
    } else {
      const why = formatError ?? exit.spawnError ?? `ffmpeg exited with ${exit.code ?? exit.signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      this.fail(job, why);
    }
  }
}
