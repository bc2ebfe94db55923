// Draining on SIGTERM: the origin stops taking publishers (RTMP refuses the publish, SRT rejects the caller), tells
// the edge it is draining, keeps its broadcasts until they end or DRAIN_TIMEOUT_SECONDS passes, then disconnects the
// encoders still here (not final: their sessions' reconnect windows run, and the encoders come back through the load
// balancer to another origin), waits for their last segments, the segment uploads and the event outbox, all within
// one flush deadline, and hands over to the ordinary shutdown. A second SIGTERM or a SIGINT hurries it: the
// broadcasts are let go at once and what is left of the flush shrinks to a short one.
import { log, logWarn } from './log.ts';

/** What draining acts on; main.ts wires the ingest, the listeners, the uploads and the outbox. */
export interface DrainTargets {
  /** From now on every new publisher is refused (ingest admission, RTMP publish, SRT callers). */
  stopAccepting(): void;
  /** Tells the edge at once (a heartbeat saying draining: true) rather than at the next beat. */
  announce?(): Promise<unknown>;
  /** Encoders publishing here now. */
  liveCount(): number;
  /** Disconnects every encoder still here, not final; returns how many. */
  disconnectAll(reason: string): number;
  /** Resolves once every broadcast's transcode has written its last segment. */
  broadcastsFinished(): Promise<void>;
  /** Waits for the segments on disk to reach durable storage (the segment shipper); true when all are there. */
  flushUploads?(timeoutMs: number): Promise<boolean>;
  /** Waits for the outbox to hand every event to the edge; true when empty. */
  outboxDrained(timeoutMs: number): Promise<boolean>;
}

export interface DrainOptions {
  /** DRAIN_TIMEOUT_SECONDS: how long broadcasts may go on after SIGTERM. */
  timeoutMs: number;
  /** All the waits after the broadcasts together (last segments, uploads, outbox); default 30 s. */
  flushTimeoutMs?: number;
  /** What is left of them once hurried by a second signal, at most; default 2 s. */
  hurriedFlushMs?: number;
  /** How often the broadcasts left are counted; default 250 ms. */
  pollMs?: number;
}

export interface DrainOutcome {
  /** encoders disconnected at the deadline (or when hurried) */
  disconnected: number;
  hurried: boolean;
  uploadsFlushed: boolean | null;
  outboxDrained: boolean;
  tookMs: number;
}

export const DRAIN_DISCONNECT_REASON = 'origin draining: reconnect to another origin';

export class OriginDrain {
  private running: Promise<DrainOutcome> | null = null;
  private hurried = false;
  private hurriedAt = 0;
  /** When the waits after the broadcasts must be over, set once they start. */
  private flushDeadline = Number.POSITIVE_INFINITY;
  private wake: (() => void) | null = null;
  private readonly hurriedSignal: Promise<void>;
  private resolveHurried!: () => void;

  constructor(
    private readonly targets: DrainTargets,
    private readonly options: DrainOptions,
  ) {
    this.hurriedSignal = new Promise((resolve) => (this.resolveHurried = resolve));
  }

  get draining(): boolean {
    return this.running !== null;
  }

  /** Starts draining (once; later calls join it). */
  begin(signal: string): Promise<DrainOutcome> {
    this.running ??= this.run(signal);
    return this.running;
  }

  /** A second signal: stop waiting for broadcasts, and flush briefly. */
  hurry(signal: string): void {
    if (this.hurried) return;
    this.hurried = true;
    this.hurriedAt = Date.now();
    log('origin_drain_hurried', { signal });
    this.wake?.();
    this.resolveHurried();
  }

  private async run(signal: string): Promise<DrainOutcome> {
    const started = Date.now();
    const { targets } = this;
    targets.stopAccepting();
    log('origin_draining', { signal, liveStreams: targets.liveCount(), timeoutMs: this.options.timeoutMs });
    void targets.announce?.().catch(() => undefined);

    await this.untilBroadcastsEnd(started + this.options.timeoutMs);
    const left = targets.liveCount();
    const disconnected = left > 0 ? targets.disconnectAll(DRAIN_DISCONNECT_REASON) : 0;
    if (disconnected > 0) log('origin_drain_disconnected', { encoders: disconnected, hurried: this.hurried });

    this.flushDeadline = Date.now() + (this.options.flushTimeoutMs ?? 30_000);
    await this.bounded('last_segments', () => targets.broadcastsFinished().then(() => true));
    const flushUploads = targets.flushUploads?.bind(targets);
    const uploadsFlushed = flushUploads ? await this.bounded('uploads', (ms) => flushUploads(ms)) : null;
    const outboxDrained = await this.bounded('outbox', (ms) => targets.outboxDrained(ms));
    const outcome: DrainOutcome = { disconnected, hurried: this.hurried, uploadsFlushed, outboxDrained, tookMs: Date.now() - started };
    log('origin_drained', { ...outcome });
    return outcome;
  }

  /** Polls the live count until none is left, the deadline passes, or a second signal hurries the drain. */
  private async untilBroadcastsEnd(deadline: number): Promise<void> {
    const pollMs = this.options.pollMs ?? 250;
    while (!this.hurried && this.targets.liveCount() > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(pollMs, Math.max(0, deadline - Date.now())));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  /** Time left for the flush: to its deadline, or to the end of the short flush a second signal allows. */
  private flushMs(): number {
    const hurriedEnd = this.hurried ? this.hurriedAt + (this.options.hurriedFlushMs ?? 2000) : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(this.flushDeadline, hurriedEnd) - Date.now());
  }

  /** One wait after the broadcasts: at most the flush time, cut to the hurried flush time by a second signal. */
  private async bounded(what: string, work: (timeoutMs: number) => Promise<boolean>): Promise<boolean> {
    const timers: NodeJS.Timeout[] = [];
    const after = (ms: number) => new Promise<boolean>((resolve) => timers.push(setTimeout(() => resolve(false), ms)));
    const limit = this.flushMs();
    const done = await Promise.race([
      work(limit).catch(() => false),
      after(limit),
      this.hurriedSignal.then(() => after(this.flushMs())),
    ]);
    for (const timer of timers) clearTimeout(timer);
    if (!done) logWarn('origin_drain_wait_timed_out', { what, limitMs: limit, hurried: this.hurried });
    return done;
  }
}
