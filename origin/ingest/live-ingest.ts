// The origin's admission and bookkeeping of encoders: capacity first, then the edge's verdict, then a Broadcast.
// Also where edge commands land (kick), and where a session's playlists are closed once its window is over.
import type { AuthorizeOutcome, EdgeClient } from '../edge-client.ts';
import { nextAuthorizeAttempt } from './authorize-retry.ts';
import { sleep } from '../backoff.ts';
import type { EventOutbox } from '../event-outbox.ts';
import type { TranscodePool } from '../pipeline/transcode-pool.ts';
import { endSession } from '../pipeline/live-transcode.ts';
import type { OriginMetrics } from '../metrics.ts';
import type { IngestProtocol } from '../../shared/schemas/internal.ts';
import { CapacityLedger, type LedgerTicket, type OriginLoad } from '../admission/ledger.ts';
import { ladderPlanner } from '../admission/ladder-plan.ts';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Broadcast } from './broadcast.ts';
import type { DurableMedia } from '../durable/durable-media.ts';
import { sessionDir, unfinishedRecordings, type SessionManifest } from './session-manifest.ts';
import { log, logWarn } from '../log.ts';
import type { Destinations } from '../destinations/destinations.ts';
import type { LowLatencyStore } from '../llhls/low-latency-store.ts';
import type { SimulcastTarget } from '../../shared/schemas/internal.ts';

/** The edge's STOPPED arrives after the window; the playlists end a little after it, when no resume can come. */
const WINDOW_GRACE_MS = 3000;
/** The edge's heartbeat timeout (edge/lifecycle.ts): how long it takes to count a silent origin's encoders lost. */
const HEARTBEAT_TIMEOUT_MS = 10_000;

export interface LiveIngestDeps {
  originId: string;
  publicUrl: string;
  mediaDir: string;
  statsIntervalMs: number;
  /** LL_PART_SECONDS: low-latency streams' part duration (default 0.2 s) */
  llPartSeconds?: number;
  edge: EdgeClient;
  outbox: EventOutbox;
  pool: TranscodePool;
  metrics: OriginMetrics;
  /** Ships every session's media to R2 (origin/durable); without it media stays on this disk only. */
  durable?: DurableMedia;
  /** The media disk's verdict, measured at the publish: a reason while new publishes must be refused (too little free space), else null. */
  disk?: { admissionRefusal(): Promise<string | null> };
  /** Cost-based admission (origin/admission/ledger.ts); without one, capacity is the stream cap (the pool) alone. */
  admission?: CapacityLedger;
  /** Simulcast relays (origin/destinations): started with the broadcast, kept through the window, stopped at its end. */
  destinations?: Destinations;
  /** Low-mode runs' parts and segments (their ll_* events), served from memory by the HLS server while the run lasts. */
  lowLatency?: LowLatencyStore;
  /** How long a publish may wait on the edge's verdict, retries included; AUTHORIZE_BUDGET_MS by default. */
  authorizeBudgetMs?: number;
}


export type Admission =
  | { ok: true; broadcast: Broadcast }
  | { ok: false; reason: string; detail: string };

export class LiveIngest {
  private readonly broadcasts = new Map<string, Broadcast>();
  private readonly sessionEndTimers = new Map<string, NodeJS.Timeout>();
  /** Sessions waiting for their window's end, and how to end each one now (the edge's finalize command). */
  private readonly sessionEndsNow = new Map<string, () => void>();
  private reserved = 0;
  /** Runs whose encoder has gone while their transcode finishes its last segment; their slots are nearly free. */
  private readonly draining = new Set<Promise<void>>();
  /** The latest run of each session, so a reconnect's transcode starts only once the previous one has finished. */
  private readonly sessionRuns = new Map<string, Promise<void>>();

  private busySlots(): number {
    return this.deps.pool.running - this.draining.size + this.reserved;
  }

  private async slotFor(previousRun: Promise<void> | undefined): Promise<void> {
    await previousRun;
    const { pool } = this.deps;
    while (pool.running >= pool.capacity && this.draining.size > 0) await Promise.race(this.draining);
  }

  private readonly ledger: CapacityLedger;
  /** Each broadcast's place in the capacity ledger, freed when its encoder leaves. */
  private readonly tickets = new Map<Broadcast, LedgerTicket>();
  /**
   * Encoders here per stream key (a SHA-256 of it: the keys themselves are not kept), from the authorize until the
   * connection is released. None for a key lets the edge hand this encoder a session it holds here as live with no
   * encoder: a publish this origin gave up on, which the edge applied late (edge/takeover.ts reclaimableHere).
   */
  private readonly keysHere = new Map<string, number>();
  private readonly broadcastKeys = new Map<Broadcast, string>();
  /** Ended broadcasts whose publish_done is not yet in the outbox. */
  private readonly endReports = new Set<Promise<void>>();

  constructor(private readonly deps: LiveIngestDeps) {
    this.ledger = deps.admission ?? new CapacityLedger(Number.MAX_SAFE_INTEGER);
  }

  /** Capacity, load and draining, as the heartbeat announces them and /metrics exports them. */
  originLoad(): OriginLoad {
    return this.ledger.originLoad();
  }

  /** Follows whether a new publisher would be refused for capacity (the SRT hook rejects callers meanwhile). */
  watchFull(listener: (full: boolean) => void): () => void {
    return this.ledger.watchFull(listener);
  }

  /** SIGTERM (origin/drain.ts): every publish from now on is refused; the broadcasts held go on. */
  stopAccepting(): void {
    this.ledger.startDraining();
  }

  get liveCount(): number {
    return this.broadcasts.size;
  }

  /** The sessions with an encoder connected here now; the origin heartbeat lists them for the edge. */
  get heldSessions(): { streamId: string; sessionId: string }[] {
    return [...this.broadcasts.values()].map((b) => ({ streamId: b.streamId, sessionId: b.sessionId }));
  }

  /** Decides whether an encoder may publish; on yes the Broadcast exists and the caller feeds it media. */
  async admit(
    request:
      | { streamKey: string; protocol: Exclude<IngestProtocol, 'simulive'>; remoteAddress: string }
      /** The origin's own simulive publisher (origin/simulive): the stream and its one-time ticket instead of a key. */
      | { protocol: 'simulive'; streamId: string; simuliveTicket: string; remoteAddress: string },
    disconnect: (reason: string) => void,
  ): Promise<Admission> {
    const { pool } = this.deps;
    if (this.ledger.draining) return this.refuse('origin_draining', 'this origin is draining (shutting down); publish to another origin');
    const diskFull = await this.deps.disk?.admissionRefusal();
    if (diskFull) return this.refuse('origin_disk_full', diskFull);
    if (this.busySlots() >= pool.capacity) {
      return this.refuse('origin_at_capacity', `all ${pool.capacity} transcode slots are busy`);
    }
    const place = this.ledger.admitPublish();
    if (!place.ok) return this.refuse(place.reason, place.detail);
    let admitted = false;
    this.reserved += 1;
    // Counted before the call, so a second encoder of the key arriving meanwhile is not idle (the edge refuses it).
    const keyDigest = request.protocol === 'simulive' ? null : createHash('sha256').update(request.streamKey).digest('hex');
    const keyIdleHere = keyDigest !== null && !this.keysHere.has(keyDigest);
    if (keyDigest) this.keysHere.set(keyDigest, (this.keysHere.get(keyDigest) ?? 0) + 1);
    try {
      const origin = { originId: this.deps.originId, originUrl: this.deps.publicUrl, remoteAddress: request.remoteAddress };
      const verdict = await this.authorizeWithRetry(
        request.protocol === 'simulive'
          ? { protocol: 'simulive', streamId: request.streamId, simuliveTicket: request.simuliveTicket, ...origin }
          : { streamKey: request.streamKey, protocol: request.protocol, ...origin, keyIdleHere },
      );
      if (!verdict) return this.refuse('edge_unavailable', 'the control plane could not be reached in time; try again');
      if (!verdict.ok) return this.refuse(verdict.reason, verdict.detail);
      const grant = verdict.grant;
      // A broadcast this origin still holds for the stream is stale: the edge has just given the stream away.
      this.broadcasts.get(grant.streamId)?.end('replaced by a new publisher');
      const timer = this.sessionEndTimers.get(grant.sessionId);
      if (timer) clearTimeout(timer);
      this.sessionEndTimers.delete(grant.sessionId);
      this.sessionEndsNow.delete(grant.sessionId);

      const previousRun = this.sessionRuns.get(grant.sessionId);
      const outDir = sessionDir(this.deps.mediaDir, grant.streamId, grant.sessionId);
      // A resumed session with no folder here (another origin held it, or this disk was lost) comes back from R2 first.
      const restore = grant.resume && (grant.resumeFrom != null || !existsSync(outDir));
      const { durable } = this.deps;
      // A low-mode run's LL-HLS state lives while the run does; then its files are served from disk.
      const lowLatency = this.deps.lowLatency?.feed(grant.streamId, grant.sessionId);
      const broadcast = new Broadcast(grant, request.protocol, {
        beforeTranscode: () => this.slotFor(previousRun).then(() => durable?.prepare(grant, outDir, restore)),
        ...(durable || lowLatency
          ? {
              durable: {
                onEvent: (event) => {
                  lowLatency?.onEvent(event);
                  durable?.onTranscodeEvent(grant.sessionId, event);
                },
                afterRun: async () => {
                  lowLatency?.end();
                  await durable?.afterRun(grant);
                },
              },
            }
          : {}),
        planLadder: ladderPlanner(this.ledger, place.ticket, { streamId: grant.streamId, sessionId: grant.sessionId, resume: grant.resume, metrics: this.deps.metrics }),
        pool,
        mediaDir: this.deps.mediaDir,
        statsIntervalMs: this.deps.statsIntervalMs,
        ...(this.deps.llPartSeconds !== undefined ? { partSeconds: this.deps.llPartSeconds } : {}),
        metrics: this.deps.metrics,
        emit: (event) => this.deps.outbox.enqueue(event),
        disconnect,
        ...(this.deps.destinations ? { onMedia: (input) => this.deps.destinations!.media(grant.sessionId, input) } : {}),
      });
      this.broadcasts.set(grant.streamId, broadcast);
      this.deps.destinations?.broadcastStarted({ streamId: grant.streamId, sessionId: grant.sessionId, outDir, input: broadcast.inputFormat, targets: grant.simulcast });
      this.tickets.set(broadcast, place.ticket);
      if (keyDigest) this.broadcastKeys.set(broadcast, keyDigest);
      admitted = true;
      log('publish_accepted', { streamId: grant.streamId, sessionId: grant.sessionId, resume: grant.resume, protocol: request.protocol });
      return { ok: true, broadcast };
    } finally {
      this.reserved -= 1;
      if (!admitted) {
        this.ledger.release(place.ticket);
        if (keyDigest) this.forgetKey(keyDigest);
      }
    }
  }

  private forgetKey(digest: string): void {
    const left = (this.keysHere.get(digest) ?? 1) - 1;
    if (left > 0) this.keysHere.set(digest, left);
    else this.keysHere.delete(digest);
  }

  /** The encoder's connection closed: the broadcast ends, and the session ends once its window has. */
  released(broadcast: Broadcast, reason: string): void {
    broadcast.end(reason);
    const ticket = this.tickets.get(broadcast);
    if (ticket) this.ledger.release(ticket);
    this.tickets.delete(broadcast);
    const keyDigest = this.broadcastKeys.get(broadcast);
    if (keyDigest) this.forgetKey(keyDigest);
    this.broadcastKeys.delete(broadcast);
    const reported = broadcast.reported;
    this.endReports.add(reported);
    void reported.finally(() => this.endReports.delete(reported));
    if (this.broadcasts.get(broadcast.streamId) === broadcast) {
      this.broadcasts.delete(broadcast.streamId);
      // Not when a new publisher of the session replaced this one: its leg has begun already.
      this.deps.destinations?.broadcastEnded(broadcast.sessionId);
    }
    const finished = broadcast.finished;
    this.draining.add(finished);
    this.sessionRuns.set(broadcast.sessionId, finished);
    void finished.then(() => {
      this.draining.delete(finished);
      if (this.sessionRuns.get(broadcast.sessionId) === finished) this.sessionRuns.delete(broadcast.sessionId);
    });
    const { grant } = broadcast;
    const delay = broadcast.sessionOver ? 0 : grant.reconnectWindow * 1000 + WINDOW_GRACE_MS;
    this.scheduleSessionEnd(
      { streamId: grant.streamId, sessionId: grant.sessionId, record: grant.record, reconnectWindow: grant.reconnectWindow, startedAt: '' },
      delay,
      broadcast.finished,
    );
  }

  /**
   * After a restart, recorded sessions left on disk (their media not yet final in R2) are treated like encoders lost
   * now: if no encoder resumes them within their window, they end and their media is made final in R2, from where the
   * edge has the recording exported.
   */
  async recover(): Promise<number> {
    const unfinished = await unfinishedRecordings(this.deps.mediaDir);
    // Sessions whose media is not final in R2 yet end the same way, so their playlists are closed there too.
    for (const manifest of (await this.deps.durable?.unfinishedSessions(this.deps.mediaDir)) ?? []) {
      if (!unfinished.some((u) => u.sessionId === manifest.sessionId)) unfinished.push(manifest);
    }
    for (const manifest of unfinished) {
      log('recording_recovered', { streamId: manifest.streamId, sessionId: manifest.sessionId });
      // The edge notices a silent origin only after its heartbeat timeout, and then runs the window.
      this.scheduleSessionEnd(manifest, HEARTBEAT_TIMEOUT_MS + manifest.reconnectWindow * 1000 + WINDOW_GRACE_MS, Promise.resolve());
    }
    return unfinished.length;
  }

  private scheduleSessionEnd(session: SessionManifest, delayMs: number, transcodeFinished: Promise<void>): void {
    const existing = this.sessionEndTimers.get(session.sessionId);
    if (existing) clearTimeout(existing);
    const end = () => {
      clearTimeout(timer);
      this.sessionEndTimers.delete(session.sessionId);
      this.sessionEndsNow.delete(session.sessionId);
      void transcodeFinished.then(async () => {
        if (this.broadcasts.get(session.streamId)?.sessionId === session.sessionId) return; // resumed meanwhile
        void this.deps.destinations?.sessionEnded(session.sessionId);
        const outDir = sessionDir(this.deps.mediaDir, session.streamId, session.sessionId);
        // A full disk can refuse the ENDLIST writes: the session still ends, and its recording is still attempted.
        const closed = await endSession(outDir).catch((error: unknown) => {
          logWarn('session_end_failed', { streamId: session.streamId, sessionId: session.sessionId, error: String(error) });
          return [];
        });
        log('session_ended', { streamId: session.streamId, sessionId: session.sessionId, playlists: closed.length });
        await this.deps.durable?.endSession(session, outDir);
      });
    };
    const timer = setTimeout(end, delayMs);
    timer.unref();
    this.sessionEndTimers.set(session.sessionId, timer);
    this.sessionEndsNow.set(session.sessionId, end);
  }

  /**
   * An edge command (the session is STOPPED there): a session waiting here for its reconnect window ends now — its
   * playlists closed and its media made final in R2 (media_durable final) — instead of at the window's end. False when
   * this origin has no such session waiting (a broadcast of it is live here, or it is not here at all).
   */
  finishSession(streamId: string, sessionId: string): boolean {
    if (this.broadcasts.get(streamId)?.sessionId === sessionId) return false;
    const end = this.sessionEndsNow.get(sessionId);
    if (!end) return false;
    log('session_finish_requested', { streamId, sessionId });
    end();
    return true;
  }

  /**
   * An edge command: the session's full set of simulcast targets. False when this origin neither has an encoder of the
   * session nor waits for one to resume it (the edge then tries the session's holder again later).
   */
  applyDestinations(streamId: string, sessionId: string, targets: readonly SimulcastTarget[]): boolean {
    const destinations = this.deps.destinations;
    if (!destinations) return false;
    const live = this.broadcasts.get(streamId);
    const outDir = sessionDir(this.deps.mediaDir, streamId, sessionId);
    const held =
      live?.sessionId === sessionId
        ? { outDir, input: live.inputFormat, encoderConnected: true }
        : this.sessionEndsNow.has(sessionId)
          ? { outDir, input: 'flv' as const, encoderConnected: false }
          : null;
    return destinations.apply(streamId, sessionId, targets, held);
  }

  /** Whether an encoder publishes this session here now (the edge's question before a failover takes it elsewhere). */
  holds(streamId: string, sessionId: string): boolean {
    const publishing = this.broadcasts.get(streamId)?.sessionId === sessionId;
    // The edge asks before handing the session to another origin: this one's relays, waiting out the window, must not
    // keep publishing to the targets the new holder is about to connect to.
    if (!publishing) void this.deps.destinations?.sessionEnded(sessionId);
    return publishing;
  }

  /** An edge command: drop this stream's encoder now. */
  kick(streamId: string, sessionId: string | null, reason: string, final: boolean): boolean {
    const broadcast = this.broadcasts.get(streamId);
    if (!broadcast || (sessionId && broadcast.sessionId !== sessionId)) return false;
    log('encoder_kicked', { streamId, sessionId: broadcast.sessionId, reason, final });
    broadcast.sessionOver = final;
    broadcast.disconnect(reason);
    return true;
  }

  /**
   * The media disk is full: every encoder is disconnected with the reason (publish_done carries it to the edge), and
   * the reconnect window runs as for any lost encoder. ffmpeg would otherwise go on writing empty segments.
   */
  endAll(reason: string): number {
    const live = [...this.broadcasts.values()];
    for (const broadcast of live) {
      logWarn('encoder_dropped', { streamId: broadcast.streamId, sessionId: broadcast.sessionId, reason });
      broadcast.disconnect(reason);
    }
    return live.length;
  }

  /**
   * Resolves once the transcode of every broadcast here, and of those just ended, has written its last segment, and
   * their publish_done events are in the outbox.
   */
  async transcodesFinished(): Promise<void> {
    await Promise.all([...[...this.broadcasts.values()].map((b) => b.finished), ...this.draining]);
    await Promise.all([...this.endReports]);
  }

  async close(): Promise<void> {
    for (const broadcast of this.broadcasts.values()) broadcast.disconnect('origin shutting down');
    for (const timer of this.sessionEndTimers.values()) clearTimeout(timer);
    await Promise.all([...this.broadcasts.values()].map((b) => b.finished));
    await this.deps.destinations?.close();
  }

  /**
   * The edge's verdict, or null when no call got one within the budget (origin/ingest/authorize-retry.ts): the first
   * call may take all of it; one that failed fast (network, 5xx) is tried again while it lasts. Each failure is logged.
   */
  private async authorizeWithRetry(request: Parameters<EdgeClient['authorize']>[0]): Promise<AuthorizeOutcome | null> {
    const startedAt = Date.now();
    for (let failures = 0; ; failures++) {
      const next = nextAuthorizeAttempt(failures, Date.now() - startedAt, this.deps.authorizeBudgetMs);
      if (!next) return null;
      if (next.delayMs > 0) await sleep(next.delayMs);
      try {
        return await this.deps.edge.authorize(request, next.timeoutMs);
      } catch (error) {
        const elapsedMs = Date.now() - startedAt;
        // fetch's own error says only "fetch failed": its cause says which (ECONNREFUSED, "other side closed", …).
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        logWarn('authorize_failed', {
          attempt: failures + 1,
          elapsedMs,
          error: String(error),
          ...(cause ? { cause: cause.code ?? cause.message } : {}),
          retry: nextAuthorizeAttempt(failures + 1, elapsedMs, this.deps.authorizeBudgetMs) !== null,
        });
      }
    }
  }

  private refuse(reason: string, detail: string): { ok: false; reason: string; detail: string } {
    this.deps.metrics.publishRefusals.inc({ reason });
    log('publish_refused', { reason });
    return { ok: false, reason, detail };
  }
}
