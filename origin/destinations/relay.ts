// One destination's relay: a child ffmpeg copying one rendition (`-c copy`) as FLV to the target's RTMP/RTMPS URL,
// fed tag by tag from the session's RelayTimeline, restarted with backoff and jitter until the session ends or the
// server's refusal will not change. Its queue is ffmpeg's stdin, bounded: a target too slow to take the media is
// dropped and reconnected rather than allowed to hold memory. It never touches the broadcast or the other targets.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { flvHeader } from '../media/flv-muxer.ts';
import { encodeTag, isMetadata, isSequenceHeader, type MediaTag } from './flv-tags.ts';
import { JoinGate } from './relay-timeline.ts';
import type { RelayTarget } from './target-diff.ts';
import { HEALTHY_RUN_MS, judgeRunEnd, progressBytes, redactUrl, retryDelay, scrub, type RelayStatus } from './relay-status.ts';
import { log, logWarn } from '../log.ts';

/** Bytes waiting in ffmpeg's stdin before the target counts as too slow (several seconds of a 1080p source). */
export const MAX_QUEUE_BYTES = 8 * 1024 * 1024;
/** The server has taken media when bytes kept flowing this long after the first ones (a refused publish dies at once). */
const LIVE_CONFIRM_MS = 1500;
/** No progress for this long while media is fed: the connection hangs, so it is dropped and reconnected. */
const STALL_MS = 15_000;
/** A live relay reports its counters this often even without a status change. */
const REFRESH_MS = 10_000;
/** ffmpeg gets this long to send its last tags and unpublish before it is killed. */
const STOP_GRACE_MS = 3000;
const STDERR_TAIL = 20;

export interface RelaySnapshot {
  destinationId: string;
  revision: number;
  status: RelayStatus;
  error: string | null;
  bytesSent: number;
  reconnects: number;
}

export interface RelayDeps {
  streamId: string;
  sessionId: string;
  /** The tags a joining run sends first (onMetaData, codec configuration) and whether the stream has audio. */
  joinHeaders: () => MediaTag[];
  onStatus: (snapshot: RelaySnapshot) => void;
  ffmpegPath?: string;
}

export class Relay {
  private status: RelayStatus = 'connecting';
  private error: string | null = null;
  private bytesBefore = 0;
  private bytesRun = 0;
  private reconnects = 0;
  private attempt = 0;
  private refusalsInRow = 0;
  private child: ChildProcessWithoutNullStreams | null = null;
  private gate = new JoinGate();
  private runStartedAt = 0;
  /** When this run's output first reported bytes (the publish was sent), and how many. */
  private firstBytes: { at: number; bytes: number } | null = null;
  private wentLive = false;
  private killedFor: 'slow' | 'stalled' | null = null;
  private lastProgressAt = 0;
  private lastFedAt = 0;
  /** The session timestamp this run's first keyframe had: the run's zero. */
  private runBase: number | null = null;
  private lastEmitAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  /** Set when the relay cannot run at all in this session (its rendition is not in the ladder). */
  private failReason: string | null = null;
  private settled = false;
  private readonly finishedPromise: Promise<void>;
  private resolveFinished!: () => void;

  constructor(
    readonly target: RelayTarget,
    private readonly deps: RelayDeps,
  ) {
    this.finishedPromise = new Promise((resolve) => (this.resolveFinished = resolve));
    this.emit();
    this.run();
  }

  /** Resolves when no ffmpeg of this relay runs any more (after stop() or a final failure). */
  get finished(): Promise<void> {
    return this.finishedPromise;
  }

  get snapshot(): RelaySnapshot {
    return {
      destinationId: this.target.destinationId,
      revision: this.target.revision,
      status: this.status,
      error: this.error,
      bytesSent: this.bytesBefore + this.bytesRun,
      reconnects: this.reconnects,
    };
  }

  /** Bytes waiting for the running ffmpeg to take them (bounded by MAX_QUEUE_BYTES plus one tag). */
  get queuedBytes(): number {
    return this.child?.stdin.writableLength ?? 0;
  }

  /** One tag of the relayed rendition; dropped while no run is connected or before the run's first keyframe. */
  push(tag: MediaTag): void {
    const child = this.child;
    if (!child || this.stopping || !this.gate.pass(tag)) return;
    this.lastFedAt = Date.now();
    if (child.stdin.writableLength > MAX_QUEUE_BYTES) {
      if (!this.killedFor) {
        this.killedFor = 'slow';
        child.kill('SIGKILL');
      }
      return;
    }
    // Each run's stream starts at 0 (its first keyframe), whatever point of the session it joined at.
    if (this.runBase === null && !isSequenceHeader(tag) && !isMetadata(tag)) this.runBase = tag.timestamp;
    child.stdin.write(encodeTag({ ...tag, timestamp: Math.max(0, tag.timestamp - (this.runBase ?? tag.timestamp)) }));
  }

  /** The session is over, or the target was removed or changed: the run unpublishes and no retry follows. */
  stop(): Promise<void> {
    if (!this.stopping && !this.settled) {
      this.stopping = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const child = this.child;
      if (child) {
        child.stdin.end();
        const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        kill.unref();
        child.once('close', () => clearTimeout(kill));
      } else {
        this.settle(this.failReason ? 'failed' : 'stopped', this.failReason);
      }
    }
    return this.finishedPromise;
  }

  /** This target cannot be relayed in this session: no retry, status failed with the reason. */
  fail(reason: string): void {
    if (this.stopping) return;
    this.failReason = reason;
    void this.stop();
  }

  private run(): void {
    if (this.stopping) return;
    const url = this.target.url;
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-stats_period', '1',
      '-f', 'flv', '-analyzeduration', '1000000', '-i', 'pipe:0',
      '-map', '0', '-c', 'copy',
      // The muxer would hold video up to 10 s waiting for audio: a gap's repeated keyframe must go out even when there is
      // no silence to go beside it (sound that is not AAC-LC mono or stereo).
      '-max_interleave_delta', '1000000',
      '-rw_timeout', '10000000', '-flvflags', 'no_duration_filesize',
      '-f', 'flv', url,
    ];
    // Plain spawn, not the transcode's fluent-ffmpeg: the argv holds the key, and nothing of it may reach a log.
    // '-nostdin' only stops ffmpeg reading keyboard commands; its stdin (pipe:0) still carries the tags.
    const child = spawn(this.deps.ffmpegPath ?? 'ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.gate = new JoinGate();
    this.runBase = null;
    this.runStartedAt = Date.now();
    this.lastProgressAt = Date.now();
    this.wentLive = false;
    this.firstBytes = null;
    this.killedFor = null;
    this.bytesRun = 0;
    const stderrTail: string[] = [];
    child.stdin.on('error', () => undefined); // EPIPE when ffmpeg has gone: its exit says why
    // ffmpeg missing or not runnable: 'close' follows with the reason in the tail, and the relay retries like any run.
    child.on('error', (error) => stderrTail.push(scrub(`ffmpeg could not run: ${error.message}`, url)));
    createInterface({ input: child.stdout }).on('line', (line) => this.onProgressLine(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(scrub(line, url));
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    });
    const header = flvHeader({ audio: true, video: true });
    child.stdin.write(header);
    for (const tag of this.deps.joinHeaders()) child.stdin.write(encodeTag(tag));
    this.stallTimer = setInterval(() => {
      // Only while media is fed: a relay waiting for its rendition's first tags is not stalled.
      if (!this.killedFor && this.lastFedAt - this.lastProgressAt > STALL_MS) {
        this.killedFor = 'stalled';
        child.kill('SIGKILL');
      }
    }, 1000);
    log('destination_relay_started', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, destinationId: this.target.destinationId, revision: this.target.revision, url: redactUrl(url), attempt: this.attempt });
    // 'close', not 'exit': ffmpeg's last stderr lines (why it ended) are read by then.
    child.once('close', (code, signal) => {
      if (this.stallTimer) clearInterval(this.stallTimer);
      this.stallTimer = null;
      this.child = null;
      this.bytesBefore += this.bytesRun;
      this.bytesRun = 0;
      const liveFor = Date.now() - this.runStartedAt;
      if (this.stopping) return this.settle(this.failReason ? 'failed' : 'stopped', this.failReason);
      const verdict = judgeRunEnd({ wentLive: this.wentLive, stderrTail, killedFor: this.killedFor }, this.refusalsInRow);
      logWarn('destination_relay_ended', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, destinationId: this.target.destinationId, code, signal, verdict: verdict.kind, error: verdict.error, stderr: stderrTail.slice(-6) });
      if (verdict.kind === 'failed') return this.settle('failed', verdict.error);
      this.refusalsInRow = verdict.refusal ? this.refusalsInRow + 1 : 0;
      if (this.wentLive && liveFor >= HEALTHY_RUN_MS) this.attempt = 0;
      this.error = verdict.error;
      if (this.status !== 'retrying') {
        this.status = 'retrying';
        this.emit();
      }
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.reconnects += 1;
        this.run();
      }, retryDelay(this.attempt++));
    });
  }

  private onProgressLine(line: string): void {
    const bytes = progressBytes(line);
    if (bytes === null) return;
    if (bytes > this.bytesRun) this.lastProgressAt = Date.now();
    this.bytesRun = Math.max(this.bytesRun, bytes);
    const now = Date.now();
    if (bytes > 0) this.firstBytes ??= { at: now, bytes };
    const first = this.firstBytes;
    if (!this.wentLive && first && bytes > first.bytes && now - first.at >= LIVE_CONFIRM_MS) {
      this.wentLive = true;
      this.refusalsInRow = 0;
      this.status = 'live';
      this.error = null;
      this.emit();
      return;
    }
    if (this.status === 'live' && now - this.lastEmitAt >= REFRESH_MS) this.emit();
  }

  private settle(status: 'stopped' | 'failed', error: string | null): void {
    if (this.settled) return; // a failed relay stays failed when its session later ends
    this.settled = true;
    this.status = status;
    if (error !== null) this.error = error;
    this.emit();
    this.resolveFinished();
  }

  private emit(): void {
    this.lastEmitAt = Date.now();
    this.deps.onStatus(this.snapshot);
  }
}
