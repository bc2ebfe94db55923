// One live transcode: input bytes in, an ABR HLS ladder on disk out, through one ffmpeg at a time.
// Watches the playlists for segments (stats, issues, our own master.m3u8), restarts a crashed ffmpeg
// on the same playlists (with backoff, within a budget of crashes per minute), and never holds more than a
// bounded backlog of input.
import { randomBytes } from 'node:crypto';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runFfmpeg } from './ffmpeg.ts';
import { backoffDelay } from '../backoff.ts';
import type { FfmpegExit, FfmpegRun } from './ffmpeg.ts';
import { buildHlsCommand, commandArgs, MASTER_PLAYLIST, MEDIA_PLAYLIST, mediaPlaylistPath, newLegTag, renditionDir } from './hls-command.ts';
import type { HlsCommandOptions } from './hls-command.ts';
import { readHead } from '../media/file-head.ts';
import { LegClock } from './leg-clock.ts';
import { DEFAULT_SEGMENT_SECONDS } from './ladder.ts';
import { liveThumbnail } from './thumbnail.ts';
import type { Rendition } from './ladder.ts';
import { appendEndList, buildMasterPlaylist, expectedAvc1, parseMediaPlaylist, probeTsCodecs } from './playlists.ts';
import type { Variant } from './playlists.ts';
import { codecsOfFmp4Segment, DEFAULT_PART_SECONDS, runLowLatencyLeg, sessionLatencyMode, type LowLatencyEvent } from '../llhls/low-latency-run.ts';

/** The ffmpeg command's options, plus how this run is supervised. */
export interface LiveTranscodeJob extends Omit<HlsCommandOptions, 'analyzeSeconds' | 'legTag'> {
  /** for logs and events only */
  sessionId?: string;
  /**
   * Same session after the encoder dropped: keep the ladder stored with the session. Playlists found in
   * outDir are always continued, never overwritten, so a new session needs a new folder.
   */
  resume?: boolean;
  /** input bytes not yet taken by ffmpeg before the stream is dropped; default 32 MiB */
  maxBacklogBytes?: number;
  /** SIGINT → SIGKILL delay on stop; default 5 s */
  stopGraceMs?: number;
  /** how long ffmpeg may take to finish after the input ended before it is stopped; default 20 s */
  drainTimeoutMs?: number;
  /** crashes survived within `crashWindowMs` by starting a new ffmpeg on the same playlists; default 5 */
  maxCrashesPerWindow?: number;
  /** the window the crash budget counts over; default 60 s (a budget per minute, not per broadcast) */
  crashWindowMs?: number;
  /** first wait before a restart, doubling with each crash in the window; default 250 ms, at most 8 s */
  restartDelayMs?: number;
  /** how often the playlists are read for new segments; default 2 s beside inotify, 500 ms without */
  pollIntervalMs?: number;
  ffmpegPath?: string;
  /** 'low': LL-HLS, fMP4 per rendition through pipes into the packager (origin/llhls/low-latency-run.ts); default standard */
  latencyMode?: 'standard' | 'low';
  /** low mode's part duration, seconds (LL_PART_SECONDS); default 0.2 */
  partSeconds?: number;
}

export type TranscodeIssueCode = 'keyframe-interval-too-long' | 'ffmpeg-restarted' | 'input-backlog' | 'no-audio' | 'ffmpeg-failed';

export interface TranscodeIssue {
  code: TranscodeIssueCode;
  /** human-readable, as the session's `issues` shows it */
  message: string;
  at: number;
}

export interface RenditionStats {
  segments: number;
  /** seconds */
  duration: number;
  bytes: number;
}

/** Seed 002's segment counters: one run's here, a whole session's (runs added up) in its totals file. */
export interface SegmentCounters {
  sourceSegments: number;
  transcodedSegments: number;
  sourceSegmentsDuration: number;
  transcodedSegmentsDuration: number;
  sourceBytes: number;
  transcodedBytes: number;
}

/** Seed 002 counters for this run (a resumed session's runs add up). */
export interface TranscodeStats extends SegmentCounters {
  /** bytes received from the encoder */
  inputBytes: number;
  renditions: Record<string, RenditionStats>;
}

export interface SegmentEvent {
  type: 'segment';
  rendition: string;
  /** the rendition is the encoder's video passed through */
  source: boolean;
  uri: string;
  sequence: number;
  duration: number;
  bytes: number;
  /** when ffmpeg finished the file (its mtime, epoch ms): where the segment-closed → durable latency starts */
  closedAt: number;
}

export type LiveTranscodeEvent =
  | { type: 'started'; pid: number | undefined; attempt: number; args: string[]; legTag: string }
  | { type: 'progress'; timemark: string; seconds: number; frames: number; fps: number; kbps: number }
  | SegmentEvent
  | { type: 'master'; variants: Variant[] }
  /** the wall-clock instant (epoch ms) of a leg's first media, sent before the leg's first segment event */
  | { type: 'leg_anchor'; legTag: string; at: number; samples: number }
  | { type: 'issue'; issue: TranscodeIssue }
  /** low mode only: init segments, parts and segments for the origin's LL-HLS store (main thread) */
  | LowLatencyEvent;

export type LiveTranscodeEndReason = 'input-ended' | 'stopped' | 'backlog' | 'failed';

export interface LiveTranscodeResult {
  reason: LiveTranscodeEndReason;
  /** last ffmpeg's exit */
  exitCode: number | null;
  signal: string | null;
  restarts: number;
  issues: TranscodeIssue[];
  stats: TranscodeStats;
  error?: string;
}

export interface CrashBudget {
  maxCrashesPerWindow: number;
  windowMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

/**
 * After a crash at `now` (already in `crashes`): restart after a backoff that grows with the crashes in the window,
 * or give up when the window holds more than the budget. Crashes older than the window are forgotten.
 */
export function restartAfterCrash(crashes: readonly number[], now: number, budget: CrashBudget): { restart: true; delayMs: number; recent: number } | { restart: false; recent: number } {
  const recent = crashes.filter((at) => now - at < budget.windowMs).length;
  if (recent > budget.maxCrashesPerWindow) return { restart: false, recent };
  return { restart: true, delayMs: backoffDelay(recent - 1, budget.firstDelayMs, budget.maxDelayMs), recent };
}

/** ffmpeg's own words for a full disk (its HLS muxer mostly goes on silently; when it does stop, this is why). */
export const isDiskFullExit = (exit: FfmpegExit): boolean => exit.stderrTail.some((l) => /No space left on device|ENOSPC/.test(l));

const LADDER_FILE = 'ladder.json';
const MiB = 1024 * 1024;
const PROGRESS_EVERY_MS = 1000;
/** playlist polls: the backstop beside inotify, and the pace without it */
const SLOW_POLL_MS = 2000;
const FAST_POLL_MS = 500;

export function emptyStats(): TranscodeStats {
  return { sourceSegments: 0, transcodedSegments: 0, sourceSegmentsDuration: 0, transcodedSegmentsDuration: 0, sourceBytes: 0, transcodedBytes: 0, inputBytes: 0, renditions: {} };
}

/** Counts one finished segment into the stats (shared by the worker and the main thread). */
export function addSegment(stats: TranscodeStats, seg: SegmentEvent): void {
  const r = (stats.renditions[seg.rendition] ??= { segments: 0, duration: 0, bytes: 0 });
  r.segments++;
  r.duration = round3(r.duration + seg.duration);
  r.bytes += seg.bytes;
  if (seg.source) {
    stats.sourceSegments++;
    stats.sourceSegmentsDuration = round3(stats.sourceSegmentsDuration + seg.duration);
    stats.sourceBytes += seg.bytes;
  } else {
    stats.transcodedSegments++;
    stats.transcodedSegmentsDuration = round3(stats.transcodedSegmentsDuration + seg.duration);
    stats.transcodedBytes += seg.bytes;
  }
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

interface Watched {
  rendition: Rendition;
  lastSequence: number;
  mtimeMs: number;
  size: number;
  /** first segment this run wrote: what the master's codecs and measured bandwidth come from */
  firstSegment?: { file: string; duration: number; bytes: number; codecs?: { video?: string; audio?: string } };
}

export class LiveTranscode {
  readonly done: Promise<LiveTranscodeResult>;
  private resolveDone!: (r: LiveTranscodeResult) => void;
  private readonly job: LiveTranscodeJob;
  private readonly onEvent: (e: LiveTranscodeEvent) => void;
  private readonly seg: number;
  private readonly maxBacklog: number;
  private ladder: readonly Rendition[];
  private hasAudio: boolean;
  private input = new PassThrough({ highWaterMark: 256 * 1024 });
  private readonly flv: FlvResync | undefined;
  /** the wall clock of what the current input carries (a new one with each fresh input) */
  private clock: LegClock;
  /** launched legs whose first segment has not been seen yet, with their input's clock */
  private readonly unanchoredLegs = new Map<string, LegClock>();
  private ffmpeg: FfmpegRun | undefined;
  private attempt = 0;
  private restarts = 0;
  /** when ffmpeg crashed, over the last crash window */
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  /** set while an ffmpeg killed for its backlog exits: the wait before its successor starts */
  private shedDelayMs: number | undefined;
  private readonly issues: TranscodeIssue[] = [];
  private readonly issueCodes = new Set<TranscodeIssueCode>();
  private readonly statsNow = emptyStats();
  private readonly watched: Watched[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** one per rendition folder: a playlist rewritten there triggers a poll at once, the timer stays as a backstop */
  private readonly watchers: FSWatcher[] = [];
  private pokeTimer: NodeJS.Timeout | undefined;
  private lastProgressAt = 0;
  private firstSegmentAt = 0;
  private masterText: string | undefined;
  private inputEnded = false;
  private finishing: LiveTranscodeEndReason | undefined;
  private finished = false;
  private stopTimers: NodeJS.Timeout[] = [];
  private started = false;
  /** the job's latency mode, unless the session's playlists on disk already hold the other kind of segments */
  private latencyMode: 'standard' | 'low' = 'standard';

  constructor(job: LiveTranscodeJob, onEvent: (e: LiveTranscodeEvent) => void = () => {}) {
    if (!path.isAbsolute(job.outDir)) throw new Error('outDir must be absolute');
    this.job = job;
    this.onEvent = onEvent;
    this.seg = job.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS;
    this.maxBacklog = job.maxBacklogBytes ?? 32 * MiB;
    this.ladder = job.renditions;
    this.hasAudio = job.hasAudio ?? true;
    this.flv = job.input === 'flv' ? new FlvResync() : undefined;
    this.clock = new LegClock(job.input);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get renditions(): readonly Rendition[] {
    return this.ladder;
  }

  get stats(): TranscodeStats {
    return structuredClone(this.statsNow);
  }

  /** Prepares the folders and launches ffmpeg; failures end the run (see `done`) rather than throw. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await mkdir(this.job.outDir, { recursive: true });
      this.ladder = await this.settleLadder();
      // Like the ladder, a resumed session keeps its packaging: fMP4 and MPEG-TS legs cannot share one playlist.
      this.latencyMode = (await sessionLatencyMode(this.job.outDir, this.ladder)) ?? this.job.latencyMode ?? 'standard';
      for (const r of this.ladder) {
        // The HLS muxer does not create missing folders.
        await mkdir(renditionDir(this.job.outDir, r.name), { recursive: true });
        await removeTempFiles(renditionDir(this.job.outDir, r.name));
        this.watched.push({ rendition: r, lastSequence: await lastSequence(mediaPlaylistPath(this.job.outDir, r.name)), mtimeMs: 0, size: 0 });
      }
    } catch (err) {
      this.finish('failed', undefined, `cannot prepare ${this.job.outDir}: ${(err as Error).message}`);
      return;
    }
    if (this.finishing) {
      this.finish(this.finishing, undefined);
      return;
    }
    this.watchRenditions();
    // inotify pokes a poll at every playlist rewrite, so the timer is only a backstop then: every 2 s, not every 500 ms
    // (issue 15: a third of the relay's syscalls). Without a watcher for every rendition it is what finds segments.
    this.startPollTimer(this.watchers.length === this.ladder.length ? SLOW_POLL_MS : FAST_POLL_MS);
    this.launch();
  }

  /** Feeds encoder bytes; false once this run takes no more (ended, stopped, or dropped for backlog). */
  write(chunk: Uint8Array): boolean {
    if (this.inputEnded || this.finishing || this.finished) return false;
    this.statsNow.inputBytes += chunk.length;
    const parts = this.flv ? this.flv.push(chunk) : [chunk];
    const now = Date.now();
    for (const p of parts) {
      if (p.length === 0) continue;
      this.input.write(p);
      this.clock.push(p, now);
    }
    if (this.shedDelayMs === undefined && this.input.writableLength + this.input.readableLength > this.maxBacklog) {
      return this.shedBacklog();
    }
    return true;
  }

  /**
   * ffmpeg fell behind by more than the backlog allows. A stall is usually brief (a CPU spike, a slow disk), so the
   * backlog is dropped and a new ffmpeg picks the stream up at the next keyframe, counted in the same crash budget as
   * a crash; only a backlog that keeps coming back (or one before ffmpeg ever ran) drops the stream.
   */
  private shedBacklog(): boolean {
    const behind = `ffmpeg fell behind the encoder by more than ${Math.round(this.maxBacklog / MiB)} MiB of input`;
    const now = Date.now();
    const budget = this.crashBudget();
    this.crashes = [...this.crashes.filter((at) => now - at < budget.windowMs), now];
    const decision = restartAfterCrash(this.crashes, now, budget);
    if (decision.restart && this.restartTimer) {
      // Waiting out a restart: the input gathered meanwhile is dropped, the next ffmpeg starts at a keyframe.
      this.raise('input-backlog', `${behind} while ffmpeg restarted; that input was dropped`);
      this.freshInput();
      return true;
    }
    if (!decision.restart || !this.ffmpeg) {
      this.raise('input-backlog', `${behind}; the stream was dropped`);
      this.stopWith('backlog');
      return false;
    }
    this.restarts++;
    this.shedDelayMs = decision.delayMs;
    this.raise('input-backlog', `${behind}; the backlog was dropped and ffmpeg restarted after ${decision.delayMs} ms; players see a discontinuity`);
    this.ffmpeg.kill('SIGKILL'); // onExit restarts it
    return true;
  }

  /** A new, empty input for the next ffmpeg: the FLV header and codec configuration, then from a keyframe on. */
  private freshInput(): void {
    this.input.destroy();
    this.input = new PassThrough({ highWaterMark: 256 * 1024 });
    this.clock = new LegClock(this.job.input);
    const now = Date.now();
    if (this.flv) {
      for (const p of this.flv.replay()) {
        this.input.write(p);
        this.clock.push(p, now);
      }
    }
  }

  /** The encoder is gone: ffmpeg finishes the segment it is writing and exits. */
  end(): void {
    if (this.inputEnded || this.finished) return;
    this.inputEnded = true;
    this.input.end();
    const t = setTimeout(() => this.stopWith('input-ended'), this.job.drainTimeoutMs ?? 20_000);
    this.stopTimers.push(t);
  }

  /** Stops now: SIGINT lets ffmpeg close the current segment, SIGKILL follows after the grace period. */
  stop(): void {
    this.stopWith('stopped');
  }

  private stopWith(reason: LiveTranscodeEndReason): void {
    if (this.finished || this.finishing) return;
    this.finishing = reason;
    this.input.end();
    if (this.restartTimer) {
      // Waiting out a restart's backoff: no ffmpeg runs, so the run ends here.
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.finish(reason, undefined);
      return;
    }
    if (!this.ffmpeg) return; // start() sees `finishing` and ends the run
    this.ffmpeg.kill('SIGINT');
    const t = setTimeout(() => this.ffmpeg?.kill('SIGKILL'), this.job.stopGraceMs ?? 5000);
    this.stopTimers.push(t);
  }

  /** On resume the ladder the session started with wins: playlists must keep their names and sizes. */
  private async settleLadder(): Promise<readonly Rendition[]> {
    const file = path.join(this.job.outDir, LADDER_FILE);
    if (this.job.resume) {
      try {
        const stored = JSON.parse(await readFile(file, 'utf8')) as { renditions?: Rendition[] };
        if (Array.isArray(stored.renditions) && stored.renditions.length > 0) return stored.renditions;
      } catch {
        // nothing stored yet: the first run never got this far
      }
    }
    await writeAtomic(file, `${JSON.stringify({ renditions: this.job.renditions }, null, 2)}\n`);
    return this.job.renditions;
  }

  /**
   * Segment → R2 latency starts when ffmpeg renames its playlist: inotify says so at once, where the poll timer alone
   * would add up to its whole interval. Bursts of events (segment and playlist renames) fold into one poll.
   */
  private watchRenditions(): void {
    for (const r of this.ladder) {
      try {
        const watcher = watch(renditionDir(this.job.outDir, r.name), (_event, name) => {
          if (name !== MEDIA_PLAYLIST || this.pokeTimer || this.finished) return;
          this.pokeTimer = setTimeout(() => {
            this.pokeTimer = undefined;
            void this.poll();
          }, 15);
        });
        watcher.on('error', () => {
          watcher.close();
          if (!this.finished) this.startPollTimer(FAST_POLL_MS);
        });
        this.watchers.push(watcher);
      } catch {
        // no inotify here: the poll timer alone finds the segments
      }
    }
  }

  private startPollTimer(defaultMs: number): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => void this.poll(), this.job.pollIntervalMs ?? defaultMs);
  }

  private launch(): void {
    this.attempt++;
    const legTag = newLegTag();
    this.unanchoredLegs.set(legTag, this.clock);
    // Legs that never wrote a segment (crashed at once) are forgotten after a few.
    for (const leg of [...this.unanchoredLegs.keys()].slice(0, -4)) this.unanchoredLegs.delete(leg);
    // Append whenever a playlist exists (resume, restart): segment names already served are cached
    // as immutable and must never be written again. Without one, appending would only add a
    // leading DISCONTINUITY.
    const append = this.ladder.some((r) => existsSync(mediaPlaylistPath(this.job.outDir, r.name)));
    if (this.latencyMode === 'low') return this.launchLowLatency(legTag, this.attempt);
    const cmd = buildHlsCommand({
      input: this.job.input,
      outDir: this.job.outDir,
      renditions: this.ladder,
      legTag,
      resume: append,
      hasAudio: this.hasAudio,
      ...(this.job.sourceAudio ? { sourceAudio: this.job.sourceAudio } : {}),
      segmentSeconds: this.seg,
      ...(this.job.preset ? { preset: this.job.preset } : {}),
      // The live thumbnail from this ffmpeg when it decodes the source anyway (an encoded rung); otherwise the
      // session's refresher (thumbnail.ts) runs its own ffmpeg over the newest segment.
      ...(this.ladder.some((r) => !r.copy) ? { thumbnail: liveThumbnail(this.job.outDir) } : {}),
    });
    const attempt = this.attempt;
    const run = runFfmpeg({
      ...cmd,
      input: this.input,
      ...(this.job.ffmpegPath ? { ffmpegPath: this.job.ffmpegPath } : {}),
      onStart: (pid) => this.onEvent({ type: 'started', pid, attempt, args: commandArgs(cmd), legTag }),
      onProgress: (p) => this.progress(p),
    });
    this.ffmpeg = run;
    void run.done.then((exit) => this.onExit(run, exit));
  }

  /** Low mode: the leg writes its fMP4 files and on-disk playlist itself; supervised like a standard ffmpeg. */
  private launchLowLatency(legTag: string, attempt: number): void {
    const run = runLowLatencyLeg({
      input: this.job.input,
      outDir: this.job.outDir,
      renditions: this.ladder,
      legTag,
      source: this.input,
      clock: this.clock,
      segmentSeconds: this.seg,
      partSeconds: this.job.partSeconds ?? DEFAULT_PART_SECONDS,
      hasAudio: this.hasAudio,
      ...(this.job.sourceAudio ? { sourceAudio: this.job.sourceAudio } : {}),
      ...(this.job.preset ? { preset: this.job.preset } : {}),
      ...(this.job.ffmpegPath ? { ffmpegPath: this.job.ffmpegPath } : {}),
      onStart: (pid, args) => this.onEvent({ type: 'started', pid, attempt, args, legTag }),
      onProgress: (p) => this.progress(p),
      onEvent: (e) => this.onEvent(e),
    });
    this.ffmpeg = run;
    void run.done.then((exit) => this.onExit(run, exit));
  }

  private progress(p: Omit<Extract<LiveTranscodeEvent, { type: 'progress' }>, 'type'>): void {
    const now = Date.now();
    if (now - this.lastProgressAt < PROGRESS_EVERY_MS) return;
    this.lastProgressAt = now;
    this.onEvent({ type: 'progress', ...p });
  }

  private onExit(run: FfmpegRun, exit: FfmpegExit): void {
    if (run !== this.ffmpeg || this.finished) return;
    const detail = exitDetail(exit);
    if (this.finishing) return this.finish(this.finishing, exit);
    if (this.inputEnded) return this.finish('input-ended', exit, exit.code === 0 ? undefined : detail);

    // ffmpeg died while the encoder is still sending: a new ffmpeg continues the same playlists.
    let delayMs = 0;
    if (isDiskFullExit(exit)) {
      // Not transient: a new ffmpeg would fail the same way at once.
      this.raise('ffmpeg-failed', `origin disk full: ffmpeg could not write the stream (${detail}); the stream was dropped`);
      return this.finish('failed', exit, `origin disk full: ${detail}`);
    }
    if (this.shedDelayMs !== undefined) {
      // Killed by shedBacklog, which counted it already.
      delayMs = this.shedDelayMs;
      this.shedDelayMs = undefined;
    } else if (this.hasAudio && exit.stderrTail.some((l) => /matches no streams|Stream map '0:a/.test(l))) {
      this.hasAudio = false;
      this.raise('no-audio', 'the source has no audio track; renditions are video only');
    } else {
      const now = Date.now();
      const budget = this.crashBudget();
      this.crashes = [...this.crashes.filter((at) => now - at < budget.windowMs), now];
      const decision = restartAfterCrash(this.crashes, now, budget);
      if (!decision.restart) {
        const why = `ffmpeg crashed ${decision.recent} times within ${Math.round(budget.windowMs / 1000)} s (${detail})`;
        this.raise('ffmpeg-failed', `${why}; the stream was dropped`);
        return this.finish('failed', exit, why);
      }
      this.restarts++;
      delayMs = decision.delayMs;
      this.raise('ffmpeg-restarted', `ffmpeg stopped unexpectedly (${detail}) and was restarted after ${delayMs} ms; players see a discontinuity`);
    }
    // The encoder's bytes go on into a fresh input (from the next keyframe on) while the restart waits.
    this.freshInput();
    this.ffmpeg = undefined;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.finished) this.launch();
    }, delayMs);
  }

  private crashBudget(): CrashBudget {
    return {
      maxCrashesPerWindow: this.job.maxCrashesPerWindow ?? 5,
      windowMs: this.job.crashWindowMs ?? 60_000,
      firstDelayMs: this.job.restartDelayMs ?? 250,
      maxDelayMs: 8000,
    };
  }

  private finish(reason: LiveTranscodeEndReason, exit: FfmpegExit | undefined, error?: string): void {
    if (this.finished) return;
    this.finished = true;
    this.finishing ??= reason;
    for (const t of this.stopTimers) clearTimeout(t);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.pokeTimer) clearTimeout(this.pokeTimer);
    for (const w of this.watchers) w.close();
    this.input.destroy();
    void (async () => {
      // The last segments land when ffmpeg exits: count them and make sure a master exists.
      await this.poll(true).catch(() => {});
      const result: LiveTranscodeResult = {
        reason,
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        restarts: this.restarts,
        issues: this.issues.slice(),
        stats: this.stats,
      };
      if (error !== undefined) result.error = error;
      this.resolveDone(result);
    })();
  }

  private raise(code: TranscodeIssueCode, message: string): void {
    const issue: TranscodeIssue = { code, message, at: Date.now() };
    this.issues.push(issue);
    if (this.issues.length > 50) this.issues.shift();
    this.issueCodes.add(code);
    this.onEvent({ type: 'issue', issue });
  }

  private poll(final = false): Promise<void> {
    // One pass at a time; a final pass waits for the running one and then runs again.
    const prev = this.polling ?? Promise.resolve();
    if (this.polling && !final) return this.polling;
    const next = prev.then(() => this.pollOnce(final)).finally(() => {
      if (this.polling === next) this.polling = undefined;
    });
    this.polling = next;
    return next;
  }

  private async pollOnce(final: boolean): Promise<void> {
    for (const w of this.watched) {
      const dir = renditionDir(this.job.outDir, w.rendition.name);
      const file = path.join(dir, MEDIA_PLAYLIST);
      let st;
      try {
        st = await stat(file);
      } catch {
        continue;
      }
      if (st.mtimeMs === w.mtimeMs && st.size === w.size) continue;
      w.mtimeMs = st.mtimeMs;
      w.size = st.size;
      let pl;
      try {
        pl = parseMediaPlaylist(await readFile(file, 'utf8'));
      } catch {
        continue;
      }
      for (const s of pl.segments) {
        if (s.sequence <= w.lastSequence) continue;
        w.lastSequence = s.sequence;
        const segFile = path.join(dir, s.uri);
        const { bytes, closedAt } = await stat(segFile).then((x) => ({ bytes: x.size, closedAt: x.mtimeMs }), () => ({ bytes: 0, closedAt: Date.now() }));
        w.firstSegment ??= { file: segFile, duration: s.duration, bytes };
        if (!this.firstSegmentAt) this.firstSegmentAt = Date.now();
        this.anchorLeg(s.uri.split('-')[0]!);
        const ev: SegmentEvent = { type: 'segment', rendition: w.rendition.name, source: w.rendition.copy, uri: s.uri, sequence: s.sequence, duration: s.duration, bytes, closedAt };
        addSegment(this.statsNow, ev);
        this.onEvent(ev);
        // Encoded rungs have forced keyframes; only the encoder's own GOP can stretch a segment. Low mode: the LL
        // playlist's TARGETDURATION (ceil of the segment seconds from the first playlist on) has to grow to cover a
        // segment whose rounded EXTINF exceeds it (low-latency-store.ts targetDuration), which rfc8216bis forbids: the
        // issue says why. Every low-mode rung follows the source's keyframes (-force_key_frames source).
        if (!this.issueCodes.has('keyframe-interval-too-long')) {
          const target = Math.ceil(this.seg - 1e-9);
          if (this.latencyMode === 'low' && Math.round(s.duration) > target) {
            this.raise('keyframe-interval-too-long', `source keyframes arrive every ${s.duration.toFixed(1)} s, so a ${s.duration.toFixed(1)} s segment raised the low-latency playlists' TARGETDURATION from ${target} to ${Math.round(s.duration)} s; set the encoder's keyframe interval to 1 s (at most ${this.seg} s)`);
          } else if (w.rendition.copy && s.duration > this.seg * 1.25 + 0.05) {
            this.raise('keyframe-interval-too-long', `source keyframes arrive every ${s.duration.toFixed(1)} s; set the encoder's keyframe interval to ${this.seg} s for ${this.seg} s segments`);
          }
        }
      }
    }
    await this.maybeWriteMaster(final);
  }

  /**
   * A leg's first segment is out: its clock's estimate is final (the segment's whole span was fed) and goes out before
   * the segment, so durable playlists list the leg with accurate PDTs from its first segment on.
   */
  private anchorLeg(legTag: string): void {
    const clock = this.unanchoredLegs.get(legTag);
    if (!clock) return;
    this.unanchoredLegs.delete(legTag);
    const at = clock.anchor;
    if (at !== undefined) this.onEvent({ type: 'leg_anchor', legTag, at, samples: clock.sampleCount });
  }

  private async maybeWriteMaster(final: boolean): Promise<void> {
    const ready = this.watched.filter((w) => w.firstSegment);
    if (ready.length === 0) return;
    // Wait for every rendition so the master is complete from its first version, but not forever.
    const patient = Date.now() - this.firstSegmentAt < this.seg * 3000;
    if (ready.length < this.watched.length && patient && !final) return;
    const variants: Variant[] = [];
    for (const w of ready) variants.push(await this.variantOf(w));
    const text = buildMasterPlaylist(variants);
    if (text === this.masterText) return;
    const file = path.join(this.job.outDir, MASTER_PLAYLIST);
    const onDisk = await readFile(file, 'utf8').catch(() => undefined);
    if (onDisk !== text) await writeAtomic(file, text);
    this.masterText = text;
    this.onEvent({ type: 'master', variants });
  }

  private async variantOf(w: Watched): Promise<Variant> {
    const r = w.rendition;
    const first = w.firstSegment!;
    // Probed once per run: the master is rebuilt on every poll, and re-reading 2 MiB per rendition each time was most of
    // the relay's CPU and garbage (issue 15).
    const codecs = first.codecs ?? (first.file.endsWith('.m4s') ? await codecsOfFmp4Segment(first.file) : probeTsCodecs(await readHead(first.file, 2 * MiB).catch(() => new Uint8Array(0))));
    if (codecs.video !== undefined || codecs.audio !== undefined) first.codecs = codecs;
    const video = codecs.video ?? (r.copy ? undefined : expectedAvc1(r));
    const list = [video, this.hasAudio ? (codecs.audio ?? 'mp4a.40.2') : undefined].filter((c): c is string => c !== undefined);
    const declared = (r.videoBitrate + (this.hasAudio ? r.audioBitrate : 0)) * 1.1;
    // BANDWIDTH is a peak: a copied source may run above what its encoder declared.
    const measured = first.duration >= 0.5 ? (first.bytes * 8) / first.duration : 0;
    return {
      uri: `${r.name}/${MEDIA_PLAYLIST}`,
      bandwidth: Math.round(Math.max(declared, measured)),
      width: r.width,
      height: r.height,
      frameRate: r.fps / r.fpsDen,
      codecs: list,
    };
  }
}

/**
 * The session is over (reconnect window expired, completed): close every rendition playlist with
 * EXT-X-ENDLIST, as ffmpeg runs with omit_endlist so a dropped encoder does not end playback.
 * Call only when no ffmpeg writes to outDir. Returns the playlists that were closed now.
 */
export async function endSession(outDir: string): Promise<string[]> {
  const closed: string[] = [];
  const entries = await readdir(outDir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = path.join(outDir, e.name);
    await removeTempFiles(dir);
    const file = path.join(dir, MEDIA_PLAYLIST);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const ended = appendEndList(text);
    if (ended !== text) {
      await writeAtomic(file, ended);
      closed.push(file);
    }
  }
  return closed;
}

async function lastSequence(file: string): Promise<number> {
  try {
    const pl = parseMediaPlaylist(await readFile(file, 'utf8'));
    return pl.mediaSequence + pl.segments.length - 1;
  } catch {
    return -1;
  }
}

/** Partial segments of a killed ffmpeg (temp_file) and our own interrupted writes. */
async function removeTempFiles(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => unlink(path.join(dir, n)).catch(() => {})));
}

/** Readers (the HLS server, the edge) never see a half-written file. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}


function exitDetail(exit: FfmpegExit): string {
  const last = exit.stderrTail.filter((l) => !/^\s*(frame=|size=)/.test(l)).slice(-1)[0]?.trim();
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'none'}`;
  return last ? `${how}: ${last}` : how;
}

const FLV_HEADER_BYTES = 13; // 9-byte header + PreviousTagSize0
const TAG_HEAD = 11;
const MAX_CAPTURE = 1 * MiB;

/**
 * Follows FLV tag boundaries so a restarted ffmpeg can be given a clean stream: the FLV header,
 * onMetaData and the codec configuration tags, then the input from the next video keyframe on.
 */
export class FlvResync {
  private header = new Uint8Array(FLV_HEADER_BYTES);
  private headerLen = 0;
  private metadata: Uint8Array | undefined;
  private videoConfig: Uint8Array | undefined;
  private audioConfig: Uint8Array | undefined;
  private awaitingKeyframe = false;
  private broken = false;
  // Current tag: its first bytes (header + 2 data bytes), how much of it was seen, its full length.
  private head = new Uint8Array(TAG_HEAD + 2);
  private headNeed = TAG_HEAD;
  private seen = 0;
  private total = 0;
  private capture: Uint8Array[] | undefined;
  private captureKind: 'metadata' | 'video' | 'audio' | undefined;
  private forwardTag = false;

  /** Bytes to forward to ffmpeg for this chunk (the chunk itself unless waiting for a keyframe). */
  push(chunk: Uint8Array): Uint8Array[] {
    const waiting = this.awaitingKeyframe;
    const out: Uint8Array[] = [];
    let from = -1;
    let i = 0;
    while (i < chunk.length && !this.broken) {
      if (this.headerLen < FLV_HEADER_BYTES) {
        const n = Math.min(FLV_HEADER_BYTES - this.headerLen, chunk.length - i);
        this.header.set(chunk.subarray(i, i + n), this.headerLen);
        this.headerLen += n;
        i += n;
        if (this.headerLen === FLV_HEADER_BYTES && !(this.header[0] === 0x46 && this.header[1] === 0x4c && this.header[2] === 0x56)) this.broken = true;
        continue;
      }
      if (this.seen < this.headNeed) {
        const n = Math.min(this.headNeed - this.seen, chunk.length - i);
        this.head.set(chunk.subarray(i, i + n), this.seen);
        this.seen += n;
        i += n;
        if (this.seen === TAG_HEAD && this.total === 0) {
          const type = this.head[0]! & 0x1f;
          if (type !== 8 && type !== 9 && type !== 18) {
            this.broken = true;
            break;
          }
          const size = (this.head[1]! << 16) | (this.head[2]! << 8) | this.head[3]!;
          this.total = TAG_HEAD + size + 4;
          this.headNeed = TAG_HEAD + Math.min(2, size);
        }
        if (this.seen === this.headNeed && this.total > 0) {
          this.classify();
          if (this.awaitingKeyframe) {
            if (this.isKeyframe()) {
              // From here on everything goes through, this tag's first bytes included.
              this.awaitingKeyframe = false;
              out.push(this.head.slice(0, this.headNeed));
              from = i;
            } else if (this.captureKind) {
              // Configuration seen while waiting (an early restart): the new ffmpeg needs it too.
              this.forwardTag = true;
              out.push(this.head.slice(0, this.headNeed));
            }
          }
        }
        continue;
      }
      const n = Math.min(this.total - this.seen, chunk.length - i);
      if (this.capture) this.capture.push(chunk.slice(i, i + n));
      if (this.forwardTag) out.push(chunk.subarray(i, i + n));
      this.seen += n;
      i += n;
      if (this.seen === this.total) this.endTag();
    }
    if (!waiting) return [chunk];
    if (from >= 0) out.push(chunk.subarray(from));
    return out;
  }

  /** What a new ffmpeg reads first; from now on input is held back until the next video keyframe. */
  replay(): Uint8Array[] {
    if (this.broken || this.headerLen < FLV_HEADER_BYTES) return [];
    this.awaitingKeyframe = true;
    return [this.header, this.metadata, this.videoConfig, this.audioConfig].filter((p): p is Uint8Array => p !== undefined);
  }

  private classify(): void {
    const type = this.head[0]! & 0x1f;
    const d0 = this.head[TAG_HEAD] ?? 0;
    const d1 = this.head[TAG_HEAD + 1] ?? 0;
    this.captureKind = undefined;
    if (type === 18 && !this.metadata) this.captureKind = 'metadata';
    else if (type === 9 && isVideoConfig(d0, d1)) this.captureKind = 'video';
    else if (type === 8 && d0 >> 4 === 10 && d1 === 0) this.captureKind = 'audio';
    this.capture = this.captureKind && this.total <= MAX_CAPTURE ? [this.head.slice(0, this.headNeed)] : undefined;
  }

  private isKeyframe(): boolean {
    if ((this.head[0]! & 0x1f) !== 9) return false;
    const d0 = this.head[TAG_HEAD] ?? 0;
    const d1 = this.head[TAG_HEAD + 1] ?? 0;
    if (d0 & 0x80) return ((d0 >> 4) & 7) === 1 && ((d0 & 0x0f) === 1 || (d0 & 0x0f) === 3); // enhanced RTMP
    return d0 >> 4 === 1 && ((d0 & 0x0f) !== 7 || d1 === 1);
  }

  private endTag(): void {
    if (this.capture && this.captureKind) {
      const size = this.capture.reduce((a, c) => a + c.length, 0);
      const tag = new Uint8Array(size);
      let o = 0;
      for (const c of this.capture) {
        tag.set(c, o);
        o += c.length;
      }
      if (this.captureKind === 'metadata') this.metadata = tag;
      else if (this.captureKind === 'video') this.videoConfig = tag;
      else this.audioConfig = tag;
    }
    this.capture = undefined;
    this.captureKind = undefined;
    this.forwardTag = false;
    this.seen = 0;
    this.total = 0;
    this.headNeed = TAG_HEAD;
    this.head.fill(0);
  }
}

function isVideoConfig(d0: number, d1: number): boolean {
  if (d0 & 0x80) return (d0 & 0x0f) === 0; // enhanced RTMP SequenceStart
  return (d0 & 0x0f) === 7 && d1 === 0;
}
