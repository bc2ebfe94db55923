// One accepted encoder on this origin: from the edge's grant to the end of its connection. It muxes the encoder's
// media into the live transcode, reports publish / stats / publish_done through the outbox, and can be kicked.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { FlvMuxer, type FlvInput } from '../media/flv-muxer.ts';
import { TsProbe } from '../media/ts-probe.ts';
import { VideoCadence, flvVideoFrame } from '../media/video-cadence.ts';
import { TsVideoFrames, type TsVideoFrame } from '../media/ts-video-frames.ts';
import { chooseLadder, describeSource, type StreamMetadata } from '../pipeline/ladder.ts';
import type { TranscodePool, PooledTranscode } from '../pipeline/transcode-pool.ts';
import type { LiveTranscodeEvent } from '../pipeline/live-transcode.ts';
import { refreshThumbnails } from '../pipeline/thumbnail.ts';
import type { AuthorizeIngestResponse, IngestProtocol, OriginEvent, SessionStats } from '../../shared/schemas/internal.ts';
import { log, logWarn } from '../log.ts';
import { readTotals, writeManifest, writeTotals, zeroTotals, type SessionTotals } from './session-manifest.ts';
import type { OriginMetrics } from '../metrics.ts';
import type { PlanLadder } from '../admission/ladder-plan.ts';

/** Encoders send onMetaData right after publish; without it we start anyway, assuming a 720p source. */
const METADATA_WAIT_MS = 2000;
/** Media that arrives before the transcode starts is held, up to this much, and then the encoder is dropped. */
const MAX_EARLY_BYTES = 8 * 1024 * 1024;

export interface BroadcastDeps {
  pool: TranscodePool;
  mediaDir: string;
  statsIntervalMs: number;
  /** low-latency streams' part duration, seconds (LL_PART_SECONDS); default 0.2 */
  partSeconds?: number;
  metrics: OriginMetrics;
  emit: (event: OriginEvent) => Promise<void>;
  /** Resolves when this broadcast may start its transcode: its session's previous run is done and a slot is free. */
  beforeTranscode: () => Promise<void>;
  /** Durable media (origin/durable): the transcode's events, and a flush to R2 once a run has ended. */
  durable?: { onEvent(event: LiveTranscodeEvent): void; afterRun(): Promise<void> };
  /** Disconnects the encoder (the ingest protocol's own close). */
  disconnect: (reason: string) => void;
  /** What the encoder sends: FLV tags through push() (RTMP), or raw MPEG-TS through pushBytes() (SRT). */
  input?: 'flv' | 'mpegts';
  /** Capacity admission (origin/admission/ladder-plan.ts): the ladder this stream may run; the full one without it. */
  planLadder?: PlanLadder;
  /** Simulcast (origin/destinations): the encoder's FLV media as it arrives, for the relays of its own rendition. */
  onMedia?: (input: FlvInput) => void;
}

export type BroadcastEnd = { reason: string };

export class Broadcast {
  readonly streamId: string;
  readonly sessionId: string;
  readonly outDir: string;
  private readonly muxer = new FlvMuxer();
  private readonly input: 'flv' | 'mpegts';
  /** MPEG-TS has no onMetaData: its start is read for the source's size instead. */
  private readonly tsProbe: TsProbe | null;
  private linkIssues: readonly string[] = [];
  /** The encoder's frame rate and keyframe interval, from its video as it arrives (session health). */
  private readonly cadence = new VideoCadence();
  /** MPEG-TS input: its video frames' times and keyframe flags, for the cadence. */
  private readonly tsFrames: TsVideoFrames | null;
  private readonly onTsFrame = (f: TsVideoFrame) => this.cadence.frame(f.at, f.keyframe);
  /** Set when capacity admission gave this stream its source only. */
  private admissionIssues: readonly string[] = [];
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private transcode: PooledTranscode | null = null;
  /** Waiting for a slot (or for this session's previous run) before the transcode starts. */
  private starting = false;
  private metadataTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private ended = false;
  private lastStats = { at: Date.now(), inputBytes: 0, transcodedBytes: 0 };
  private inputBytes = 0;
  /** Resolves when the transcode has finished with the session's folder. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  /** Set when the edge ended the whole session (complete, disable, delete): no reconnect window to wait out. */
  sessionOver = false;
  private readonly manifestWritten: Promise<void>;
  /** What this session's earlier runs (before a reconnect) counted; this run's counters add to it. */
  private earlierRuns: SessionTotals = zeroTotals();
  private recordingAnnounced = false;
  /** Resolves once the last stats and publish_done are in the outbox (draining waits for it before exiting). */
  private endReported: Promise<void> = Promise.resolve();

  constructor(
    readonly grant: AuthorizeIngestResponse,
    readonly protocol: IngestProtocol,
    private readonly deps: BroadcastDeps,
  ) {
    this.streamId = grant.streamId;
    this.sessionId = grant.sessionId;
    this.outDir = path.join(deps.mediaDir, grant.streamId, grant.sessionId);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.input = deps.input ?? (protocol === 'srt' ? 'mpegts' : 'flv');
    this.tsProbe = this.input === 'mpegts' ? new TsProbe() : null;
    this.tsFrames = this.input === 'mpegts' ? new TsVideoFrames() : null;
    this.metadataTimer = setTimeout(() => this.startTranscode(null), METADATA_WAIT_MS);
    this.statsTimer = setInterval(() => void this.reportStats(), deps.statsIntervalMs);
    refreshThumbnails(this.outDir, { isOver: () => this.ended }); // live thumbnail.jpg, served through /hls
    void this.event('publish', { protocol, resume: grant.resume });
    if (grant.resume) void readTotals(this.outDir).then((totals) => (this.earlierRuns = totals));
    this.manifestWritten = writeManifest(this.outDir, {
      streamId: grant.streamId,
      sessionId: grant.sessionId,
      record: grant.record,
      reconnectWindow: grant.reconnectWindow,
      startedAt: new Date().toISOString(),
    }).catch((error: unknown) => logWarn('session_manifest_failed', { streamId: this.streamId, error: String(error) }));
  }

  /** Media and metadata from the encoder, in order. */
  push(input: FlvInput): void {
    if (this.ended) return;
    this.deps.onMedia?.(input);
    if (input.type === 'video') {
      const frame = flvVideoFrame(input.payload);
      if (frame) this.cadence.frame(input.timestamp / 1000, frame.keyframe);
    }
    if (input.type === 'metadata' && !this.transcode) {
      this.startTranscode(input.properties as StreamMetadata);
    }
    this.take(this.muxer.push(input));
  }

  /** Raw MPEG-TS from the encoder (SRT), in order. */
  pushBytes(chunk: Uint8Array): void {
    if (this.ended) return;
    this.tsFrames?.push(chunk, this.onTsFrame);
    if (!this.transcode && this.tsProbe && !this.tsProbe.done) {
      const metadata = this.tsProbe.push(chunk);
      if (metadata) this.startTranscode(metadata);
    }
    this.take(chunk);
  }

  /** The encoder's network link as its protocol measures it (SRT statistics): each entry is an issue. */
  reportLinkHealth(issues: readonly string[]): void {
    this.linkIssues = issues.slice(0, 5);
  }

  private take(bytes: Uint8Array): void {
    this.inputBytes += bytes.length;
    this.deps.metrics.ingestBytes.inc({ protocol: this.protocol }, bytes.length);
    if (this.transcode) {
      this.transcode.push(bytes);
      return;
    }
    this.early.push(bytes);
    this.earlyBytes += bytes.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.deps.disconnect('too much media before the transcode could start');
  }

  private startTranscode(metadata: StreamMetadata | null): void {
    if (this.transcode || this.starting || (this.ended && this.early.length === 0)) return;
    this.starting = true;
    if (this.metadataTimer) clearTimeout(this.metadataTimer);
    // Media keeps arriving into `early` while an earlier run of this session, or a draining stream, frees its slot.
    void this.deps.beforeTranscode().then(
      async () => {
        // A session resumed from R2 brings its earlier runs' counters with its timeline (origin/durable).
        if (this.grant.resume) this.earlierRuns = await readTotals(this.outDir).catch(() => this.earlierRuns);
        this.launchTranscode(metadata);
      },
      (error: unknown) => {
        // The session's timeline could not be brought back from R2: starting afresh would restart its sequence numbers.
        logWarn('transcode_not_started', { streamId: this.streamId, sessionId: this.sessionId, error: String(error).slice(0, 300) });
        this.deps.disconnect('the session could not be resumed here (its media in storage is unreachable)');
        this.resolveFinished();
      },
    );
  }

  private launchTranscode(metadata: StreamMetadata | null): void {
    const source = describeSource(metadata);
    const full = chooseLadder(source, { profiles: this.grant.profiles, maxResolution: this.grant.maxResolution });
    const plan = this.deps.planLadder?.(source, full, this.outDir) ?? { renditions: full };
    const renditions = plan.renditions;
    if (plan.issue) this.admissionIssues = [plan.issue];
    const started = this.deps.pool.tryStart(
      {
        sessionId: this.sessionId,
        input: this.input,
        outDir: this.outDir,
        renditions,
        resume: this.grant.resume,
        hasAudio: source.audio !== 'none',
        sourceAudio: source.audio === 'aac' ? 'copy' : 'aac',
        latencyMode: this.grant.latencyMode ?? 'standard',
        ...(this.deps.partSeconds !== undefined ? { partSeconds: this.deps.partSeconds } : {}),
      },
      (event) => this.onTranscodeEvent(event),
    );
    if (!started.ok) {
      // The slot was reserved before authorizing, so this only happens while shutting down.
      logWarn('transcode_refused', { streamId: this.streamId, sessionId: this.sessionId, reason: started.message });
      this.deps.disconnect(started.message);
      this.resolveFinished();
      return;
    }
    this.transcode = started.transcode;
    this.deps.metrics.transcodesStarted.inc();
    log('transcode_started', {
      streamId: this.streamId,
      sessionId: this.sessionId,
      resume: this.grant.resume,
      renditions: renditions.map((r) => `${r.name}:${r.width}x${r.height}${r.copy ? ':copy' : ''}`),
    });
    for (const chunk of this.early) this.transcode.push(chunk);
    this.early = [];
    this.earlyBytes = 0;
    if (this.ended) this.transcode.end();
    void this.transcode.done.then((result) => {
      log('transcode_finished', { streamId: this.streamId, sessionId: this.sessionId, reason: result.reason, restarts: result.restarts });
      if (result.error?.startsWith('origin disk full')) {
        // This origin's fault, not the stream's: the broadcast ends (publish_done says why) and may go on elsewhere.
        this.deps.disconnect(result.error.slice(0, 300));
      } else if (result.reason === 'failed' || result.reason === 'backlog') {
        void this.event('error', { reason: `live transcode ${result.reason}: ${result.error ?? 'ffmpeg exited'}`.slice(0, 480) });
        this.deps.disconnect(`transcode ${result.reason}`);
      }
      // The run's last segments go to R2 in the background (the edge then hears media_durable): a reconnect's run need
      // not wait for storage, and the session's end flushes again before it closes the playlists.
      void this.deps.durable?.afterRun();
      this.resolveFinished();
    });
  }

  private onTranscodeEvent(event: LiveTranscodeEvent): void {
    this.deps.durable?.onEvent(event);
    if (event.type === 'issue' && event.issue.code === 'ffmpeg-restarted') this.deps.metrics.ffmpegRestarts.inc();
    // The recording is the session's source rendition: it is being written once its first segment is.
    if (event.type === 'segment' && event.source && this.grant.record && !this.recordingAnnounced) {
      this.recordingAnnounced = true;
      void this.manifestWritten.then(() => this.event('recording_started', {}));
    }
  }

  private currentStats(): SessionStats {
    const now = Date.now();
    const stats = this.transcode?.stats;
    const transcodedBytes = stats?.transcodedBytes ?? 0;
    const seconds = Math.max(0.001, (now - this.lastStats.at) / 1000);
    const issues = [...this.admissionIssues, ...(this.transcode?.issues.slice(-10).map((i) => i.message) ?? []), ...this.linkIssues];
    const base = this.earlierRuns;
    const totals: SessionTotals = {
      sourceSegments: base.sourceSegments + (stats?.sourceSegments ?? 0),
      transcodedSegments: base.transcodedSegments + (stats?.transcodedSegments ?? 0),
      sourceSegmentsDuration: round(base.sourceSegmentsDuration + (stats?.sourceSegmentsDuration ?? 0)),
      transcodedSegmentsDuration: round(base.transcodedSegmentsDuration + (stats?.transcodedSegmentsDuration ?? 0)),
      sourceBytes: base.sourceBytes + (stats?.sourceBytes ?? 0),
      transcodedBytes: base.transcodedBytes + transcodedBytes,
    };
    // Only once this run counts anything: before, the file holds the earlier runs' totals (perhaps just restored).
    if (this.transcode) void this.manifestWritten.then(() => writeTotals(this.outDir, totals)).catch(() => undefined);
    const result: SessionStats = {
      ...totals,
      ingestRate: Math.round((this.inputBytes - this.lastStats.inputBytes) / seconds),
      outgoingRate: Math.round(Math.max(0, transcodedBytes - this.lastStats.transcodedBytes) / seconds),
      isHealthy: this.transcode !== null && issues.length === 0,
      issues: issues.length ? issues : null,
      ...this.cadence.read(),
    };
    this.lastStats = { at: now, inputBytes: this.inputBytes, transcodedBytes };
    return result;
  }

  private async reportStats(): Promise<void> {
    if (!this.ended) await this.event('stats', this.currentStats());
  }

  /** The encoder is gone (it left, was kicked, or failed): finish the segment in progress and tell the edge. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.metadataTimer) clearTimeout(this.metadataTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.transcode) this.transcode.end();
    else if (this.early.length) this.startTranscode(null); // a short publish still leaves its segments
    else if (!this.starting) this.resolveFinished();
    this.endReported = this.event('stats', this.currentStats()).then(() => this.event('publish_done', { reason: reason.slice(0, 300) }));
  }

  /** The end's last stats and publish_done are queued in the outbox. */
  get reported(): Promise<void> {
    return this.endReported;
  }

  /** What the encoder sends: FLV tags (RTMP) or MPEG-TS bytes (SRT). */
  get inputFormat(): 'flv' | 'mpegts' {
    return this.input;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  disconnect(reason: string): void {
    this.deps.disconnect(reason);
  }

  private event(type: OriginEvent['type'], data: unknown): Promise<void> {
    const event = {
      id: `oev_${randomUUID()}`,
      streamId: this.streamId,
      sessionId: this.sessionId,
      type,
      at: new Date().toISOString(),
      data,
    } as OriginEvent;
    return this.deps.emit(event).catch((error: unknown) => {
      logWarn('event_not_queued', { streamId: this.streamId, type, error: String(error) });
    });
  }
}

const round = (value: number) => Math.round(value * 1000) / 1000;
