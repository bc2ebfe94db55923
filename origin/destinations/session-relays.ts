// The relays of one session on the origin holding it: the targets the edge wants (authorize's simulcast, then each
// POST /control/destinations), one RelayTimeline per rendition relayed, and where each rendition's tags come from in
// the current leg (the encoder's own FLV for 'source' over RTMP; the rung's live playlist on disk otherwise). Lives
// from the broadcast's start to the session's end, so the reconnect window does not end the targets' streams.
// What a timeline gives out reaches the relays at the wall clock's pace (RelayPacer): no target's timeline runs ahead
// of real time.
import { randomUUID } from 'node:crypto';
import type { OriginEvent } from '../../shared/schemas/internal.ts';
import type { MediaTag } from './flv-tags.ts';
import { RelayTimeline } from './relay-timeline.ts';
import { RelayPacer } from './relay-pacer.ts';
import { Relay, type RelaySnapshot } from './relay.ts';
import { RungReader } from './rung-reader.ts';
import { diffTargets, type RelayTarget } from './target-diff.ts';
import { log, logWarn } from '../log.ts';

export const SOURCE = 'source';
/** How often held tags are released and gaps filled: the largest burst a target gets is about this long. */
const PACE_TICK_MS = 100;

export interface SessionRelaysDeps {
  streamId: string;
  sessionId: string;
  outDir: string;
  emit: (event: OriginEvent) => Promise<void>;
  /** Takes a relay's place in the capacity ledger; the returned function frees it. */
  holdCapacity: () => () => void;
  ffmpegPath?: string;
}

/** One rendition relayed: its timeline, the relays reading it, and its reader while it comes from disk. */
interface Feed {
  timeline: RelayTimeline;
  pacer: RelayPacer;
  relays: Set<Relay>;
  reader: RungReader | null;
}

export class SessionRelays {
  private readonly relays = new Map<string, { relay: Relay; release: () => void }>();
  private readonly feeds = new Map<string, Feed>();
  /** What the current leg's encoder sends: its FLV is the 'source' feed; MPEG-TS (SRT) is read back from disk. */
  private input: 'flv' | 'mpegts' | null = null;
  private legLive = false;
  private readonly paceTimer: NodeJS.Timeout;
  private stopped = false;
  /** Relays stopping (removed, changed, session over): waited for by stop(). */
  private readonly stopping = new Set<Promise<void>>();

  constructor(private readonly deps: SessionRelaysDeps) {
    this.paceTimer = setInterval(() => this.pace(), PACE_TICK_MS);
    this.paceTimer.unref();
  }

  get streamId(): string {
    return this.deps.streamId;
  }

  get size(): number {
    return this.relays.size;
  }

  /** The full desired set: new targets start, removed ones stop, a changed revision restarts only that target. */
  apply(targets: readonly RelayTarget[]): void {
    if (this.stopped) return;
    const running = new Map([...this.relays].map(([id, { relay }]) => [id, relay.target]));
    const diff = diffTargets(running, targets);
    for (const id of diff.stop) this.stopRelay(id);
    for (const target of diff.restart) this.stopRelay(target.destinationId);
    for (const target of [...diff.restart, ...diff.start]) this.startRelay(target);
    if (diff.start.length || diff.restart.length || diff.stop.length) {
      log('destinations_applied', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, started: diff.start.length, restarted: diff.restart.length, stopped: diff.stop.length, running: this.relays.size });
    }
  }

  /** An encoder (re)joined the session. */
  legStarted(input: 'flv' | 'mpegts'): void {
    this.input = input;
    this.legLive = true;
    // The encoder's own feed is kept from its first tag (configuration, last keyframe), relayed or not yet.
    if (input === 'flv') this.feedFor(SOURCE);
    for (const [rendition, feed] of this.feeds) {
      feed.timeline.startLeg();
      this.startReader(rendition, feed);
    }
  }

  /** The encoder's media (RTMP): the 'source' feed's input in this leg. */
  sourceTag(tag: MediaTag): void {
    if (this.input !== 'flv') return;
    const feed = this.feeds.get(SOURCE);
    if (feed) this.deliver(feed, feed.timeline.take(tag, Date.now()));
  }

  /** The encoder is gone; the session waits for its reconnect window: the targets get the repeated last keyframe. */
  legEnded(): void {
    this.legLive = false;
    for (const feed of this.feeds.values()) feed.timeline.endLeg();
  }

  /** The session is over: every relay unpublishes and stops. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      clearInterval(this.paceTimer);
      for (const id of [...this.relays.keys()]) this.stopRelay(id);
      for (const feed of this.feeds.values()) {
        feed.reader?.stop();
        feed.pacer.clear();
      }
      this.feeds.clear();
    }
    await Promise.all([...this.stopping]);
  }

  private startRelay(target: RelayTarget): void {
    const feed = this.feedFor(target.rendition);
    const relay = new Relay(target, {
      streamId: this.deps.streamId,
      sessionId: this.deps.sessionId,
      joinHeaders: () => feed.timeline.joinHeaders(),
      onStatus: (snapshot) => this.report(snapshot),
      ...(this.deps.ffmpegPath ? { ffmpegPath: this.deps.ffmpegPath } : {}),
    });
    feed.relays.add(relay);
    this.relays.set(target.destinationId, { relay, release: this.deps.holdCapacity() });
  }

  private stopRelay(destinationId: string): void {
    const entry = this.relays.get(destinationId);
    if (!entry) return;
    this.relays.delete(destinationId);
    entry.release();
    const rendition = entry.relay.target.rendition;
    const feed = this.feeds.get(rendition);
    feed?.relays.delete(entry.relay);
    const done = entry.relay.stop();
    this.stopping.add(done);
    void done.finally(() => this.stopping.delete(done));
    // A rendition nobody relays any more needs no reader (the encoder's own feed stays: see legStarted).
    if (feed && feed.relays.size === 0 && !(rendition === SOURCE && this.input === 'flv')) {
      feed.reader?.stop();
      this.feeds.delete(rendition);
    }
  }

  private feedFor(rendition: string): Feed {
    let feed = this.feeds.get(rendition);
    if (!feed) {
      feed = { timeline: new RelayTimeline(), pacer: new RelayPacer(), relays: new Set(), reader: null };
      this.feeds.set(rendition, feed);
      if (this.legLive) this.startReader(rendition, feed);
      else feed.timeline.endLeg();
    }
    return feed;
  }

  /** In this leg, a rung (and the source of an SRT encoder) comes from its playlist on disk. */
  private startReader(rendition: string, feed: Feed): void {
    feed.reader?.stop();
    feed.reader = null;
    if (rendition === SOURCE && this.input === 'flv') return;
    // An SRT encoder's source is the ladder's copied rendition, which is named 'source' on disk too.
    const reader = new RungReader({
      streamId: this.deps.streamId,
      sessionId: this.deps.sessionId,
      outDir: this.deps.outDir,
      rendition,
      onTag: (tag) => this.deliver(feed, feed.timeline.take(tag, Date.now())),
      onMissing: (reason) => {
        logWarn('destination_rendition_missing', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, rendition });
        for (const relay of feed.relays) relay.fail(reason);
      },
      ...(this.deps.ffmpegPath ? { ffmpegPath: this.deps.ffmpegPath } : {}),
    });
    feed.reader = reader;
    void reader.startLeg();
  }

  /** Tags the timeline gave out: held until the clock reaches them (at once if it already has). */
  private deliver(feed: Feed, tags: MediaTag[]): void {
    for (const tag of tags) feed.pacer.push(tag);
    this.release(feed, Date.now());
  }

  private release(feed: Feed, now: number): void {
    for (const tag of feed.pacer.due(feed.timeline.clock(now))) for (const relay of feed.relays) relay.push(tag);
  }

  private pace(): void {
    const now = Date.now();
    for (const feed of this.feeds.values()) {
      for (const tag of feed.timeline.fill(now)) feed.pacer.push(tag);
      this.release(feed, now);
    }
  }

  private report(snapshot: RelaySnapshot): void {
    // A failed relay runs no ffmpeg any more: its capacity is free (releasing is idempotent).
    if (snapshot.status === 'failed') this.relays.get(snapshot.destinationId)?.release();
    log('destination_status', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, ...snapshot });
    const event = {
      id: `oev_${randomUUID()}`,
      streamId: this.deps.streamId,
      sessionId: this.deps.sessionId,
      type: 'destination_status',
      at: new Date().toISOString(),
      data: { ...snapshot, error: snapshot.error?.slice(0, 480) ?? null },
    } as OriginEvent;
    void this.deps.emit(event).catch((error: unknown) => logWarn('event_not_queued', { streamId: this.deps.streamId, type: 'destination_status', error: String(error) }));
  }
}
