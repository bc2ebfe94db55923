// What the origin holds in memory for each live low-mode session, per rendition: init segments per leg, the parts of
// the last 4 segments, the segment list the LL playlist is rendered from, and the requests held until a part or
// segment exists (blocking playlist reloads, preload-hinted parts), each with a deadline. Fed by the transcode
// worker's ll_* messages on the main thread; read by the HLS server. Everything bounded; `.end()` lets go of it all.
import { blockingRefusal, blockingSatisfied, type BlockingRequest, type PlaylistPosition, advancePartLimit } from './blocking-reload.ts';
import { lastPartOf, renderLlPlaylist, type LlPart, type LlRenditionView, type LlSegment } from './ll-playlist.ts';
import { logWarn } from '../log.ts';

/** Worker → main thread messages of a low-mode transcode (FromWorker in origin/pipeline/transcode-worker.ts). */
export type LowLatencyMessage =
  /** partTargetSeconds: the run's PART-TARGET (whole frames of the source); the first one a session sees is its own */
  | { type: 'll_init'; rendition: string; legTag: string; bytes: ArrayBuffer; codecs: string; partTargetSeconds?: number }
  | { type: 'll_part'; rendition: string; legTag: string; msn: number; part: number; duration: number; independent: boolean; bytes: ArrayBuffer }
  | { type: 'll_segment'; rendition: string; legTag: string; msn: number; duration: number; parts: number; programDateTime: number };

export function isLowLatencyMessage(event: { type: string }): event is LowLatencyMessage {
  return event.type === 'll_init' || event.type === 'll_part' || event.type === 'll_segment';
}

export interface LowLatencyStoreOptions {
  /** LL_PART_SECONDS: a session's PART-TARGET unless it says otherwise */
  partTargetSeconds: number;
  /** the segment duration the transcode aims at (2 s) */
  segmentTargetSeconds: number;
  /** held requests per session; beyond, 503 at once. Default 10 000. */
  maxWaitersPerSession?: number;
  /** bytes of parts held per rendition; the oldest closed segments' parts go first. Default 32 MiB. */
  maxPartBytesPerRendition?: number;
  /** closed segments listed in the LL playlist (a sliding window). Default 150 (5 min of 2 s segments). */
  windowSegments?: number;
}

export interface LowLatencySessionOptions {
  partTargetSeconds?: number;
  segmentTargetSeconds?: number;
  /** the ladder's renditions, so reports list each from the start (others are added as their media arrives) */
  renditions?: readonly string[];
}

export type PlaylistAnswer =
  | { status: 200; body: string }
  | { status: 400; field: string; detail: string }
  | { status: 503; detail: string }
  /** the session is no longer held here: answer from disk as for any other session */
  | { status: 'gone' };

export type PartAnswer = { status: 200; bytes: Uint8Array } | { status: 404 } | { status: 503; detail: string } | { status: 'gone' };

/** Parts are kept for this many closed segments (the playlist lists 3; one more for clients a reload behind). */
export const HELD_SEGMENTS = 4;
/** Parts of segments after the one in progress: the next one may begin before the current one's ll_segment arrives. */
const OPEN_SEGMENTS_AHEAD = 2;
/** Legs whose init segment is kept (the window rarely spans more; older ones are on disk). */
const HELD_INITS = 4;
/** Part durations are rendered to 5 decimals: what rounds to the target is within it. */
const PART_DURATION_SLACK = 5e-6;

interface HeldPart extends LlPart {
  bytes: Uint8Array;
}

interface HeldSegment {
  legTag: string;
  parts: HeldPart[];
  bytes: number;
}

interface SegmentEntry extends Omit<LlSegment, 'parts'> {
  partCount: number;
}

interface Waiter {
  rendition: string;
  /** an answer once one is due, else undefined */
  check: () => unknown;
  settle: (answer: unknown) => void;
}

export class LowLatencyStore {
  private readonly sessions = new Map<string, LowLatencySession>();

  constructor(readonly opts: LowLatencyStoreOptions) {}

  /** The session's state, made on first use; a session already held is returned as it is. */
  session(streamId: string, sessionId: string, opts: LowLatencySessionOptions = {}): LowLatencySession {
    const key = `${streamId}/${sessionId}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = new LowLatencySession(
        {
          partTargetSeconds: opts.partTargetSeconds ?? this.opts.partTargetSeconds,
          segmentTargetSeconds: opts.segmentTargetSeconds ?? this.opts.segmentTargetSeconds,
          maxWaiters: this.opts.maxWaitersPerSession ?? 10_000,
          maxPartBytes: this.opts.maxPartBytesPerRendition ?? 32 * 1024 * 1024,
          windowSegments: this.opts.windowSegments ?? 150,
        },
        () => {
          if (this.sessions.get(key) === session) this.sessions.delete(key);
        },
      );
      this.sessions.set(key, session);
    }
    for (const name of opts.renditions ?? []) session.addRendition(name);
    return session;
  }

  find(streamId: string, sessionId: string): LowLatencySession | undefined {
    return this.sessions.get(`${streamId}/${sessionId}`);
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * One transcode run's sink: its ll_* events go to the session (made on the first one, so standard-mode runs cost
   * nothing), and `end()` when the run is over releases it (what follows is served from disk).
   */
  feed(streamId: string, sessionId: string): { onEvent(event: { type: string }): void; end(): void } {
    let session: LowLatencySession | undefined;
    return {
      onEvent: (event) => {
        if (!isLowLatencyMessage(event)) return;
        // The first message of a run is an init (a rendition's parts follow its init): it sets the session's
        // PART-TARGET, counted in the source's frames by the run, which knows the frame rate.
        session ??= this.session(streamId, sessionId, event.type === 'll_init' && event.partTargetSeconds ? { partTargetSeconds: event.partTargetSeconds } : {});
        session.onMessage(event);
      },
      end: () => session?.end(),
    };
  }

  /** Ends every session (origin shutdown). */
  close(): void {
    for (const session of [...this.sessions.values()]) session.end();
  }
}

interface SessionLimits {
  partTargetSeconds: number;
  segmentTargetSeconds: number;
  maxWaiters: number;
  maxPartBytes: number;
  windowSegments: number;
}

export class LowLatencySession {
  private readonly renditions = new Map<string, RenditionState>();
  private readonly waiters = new Set<Waiter>();
  private ended = false;
  /** bumped by every change: a playlist rendered at this version is still the answer (held requests share it) */
  private version = 0;
  private readonly rendered = new Map<string, { version: number; body: string }>();

  /** @internal made by LowLatencyStore.session */
  constructor(private readonly limits: SessionLimits, private readonly onEnd: () => void) {}

  get waiting(): number {
    return this.waiters.size;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  addRendition(name: string): RenditionState {
    let r = this.renditions.get(name);
    if (!r) {
      r = new RenditionState(name, this.limits);
      this.renditions.set(name, r);
    }
    return r;
  }

  hasRendition(name: string): boolean {
    return this.renditions.has(name);
  }

  onMessage(m: LowLatencyMessage): void {
    if (m.type === 'll_init') this.onInit(m);
    else if (m.type === 'll_part') this.onPart(m);
    else this.onSegment(m);
  }

  onInit(m: Extract<LowLatencyMessage, { type: 'll_init' }>): void {
    if (this.ended) return;
    this.addRendition(m.rendition).addInit(m.legTag, new Uint8Array(m.bytes), m.codecs);
    this.changed(m.rendition);
  }

  onPart(m: Extract<LowLatencyMessage, { type: 'll_part' }>): void {
    if (this.ended) return;
    if (this.addRendition(m.rendition).addPart(m.legTag, m.msn, m.part, { duration: m.duration, independent: m.independent, bytes: new Uint8Array(m.bytes) })) this.changed(m.rendition);
  }

  onSegment(m: Extract<LowLatencyMessage, { type: 'll_segment' }>): void {
    if (this.ended) return;
    if (this.addRendition(m.rendition).closeSegment(m)) this.changed(m.rendition);
  }

  /** The last part a rendition's playlist lists now (LAST-MSN / LAST-PART), or undefined before its first. */
  lastPart(rendition: string): { msn: number; part: number } | undefined {
    return this.renditions.get(rendition)?.lastPart();
  }

  init(rendition: string, legTag: string): { bytes: Uint8Array; codecs: string } | undefined {
    return this.renditions.get(rendition)?.inits.get(legTag);
  }

  /** The rendition's LL playlist for this request: at once, or when what it waits for exists (deadline 3 × target). */
  playlist(rendition: string, request: BlockingRequest, signal?: AbortSignal): Promise<PlaylistAnswer> {
    const state = this.renditions.get(rendition);
    if (this.ended || !state) return Promise.resolve({ status: 'gone' });
    // Before its first part a run (maybe resuming a session at sequence 500) has no position to judge a request by.
    const refusal = state.view() ? blockingRefusal(request, state.position()) : undefined;
    if (refusal) return Promise.resolve({ status: 400, ...refusal });
    const check = (): PlaylistAnswer | undefined => {
      const view = state.view();
      if (!view || !blockingSatisfied(request, state.position())) return undefined;
      const key = `${rendition}\n${request.skip}`;
      let cached = this.rendered.get(key);
      if (cached?.version !== this.version) {
        cached = { version: this.version, body: renderLlPlaylist(view, { skip: request.skip, reports: this.reportsFor(rendition) }) };
        this.rendered.set(key, cached);
      }
      return { status: 200, body: cached.body };
    };
    return this.wait(rendition, check, signal, `the playlist did not reach segment ${request.msn ?? 'any'} part ${request.part ?? 'any'} in time`);
  }

  /** A part's bytes: at once when held, held back while it is the next one coming (preload hint), else 404. */
  part(rendition: string, legTag: string, msn: number, part: number, signal?: AbortSignal): Promise<PartAnswer> {
    const state = this.renditions.get(rendition);
    if (this.ended || !state) return Promise.resolve({ status: 'gone' });
    const check = (): PartAnswer | undefined => state.partAnswer(legTag, msn, part);
    const now = check();
    if (now) return Promise.resolve(now);
    if (!state.mayCome(legTag, msn, part)) return Promise.resolve({ status: 404 });
    return this.wait(rendition, check, signal, `part ${part} of segment ${msn} did not come in time`);
  }

  /** The session is over here: every held request is answered ('gone': the server falls back to disk), memory freed. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of [...this.waiters]) w.settle({ status: 'gone' });
    this.renditions.clear();
    this.rendered.clear();
    this.onEnd();
  }

  private reportsFor(rendition: string) {
    const reports = [];
    for (const [name, other] of this.renditions) {
      if (name === rendition) continue;
      const last = other.lastPart();
      if (last) reports.push({ uri: `../${name}/index.m3u8`, lastMsn: last.msn, lastPart: last.part });
    }
    return reports;
  }

  private wait<T extends { status: unknown }>(rendition: string, check: () => T | undefined, signal: AbortSignal | undefined, late: string): Promise<T> {
    const now = check();
    if (now) return Promise.resolve(now);
    if (this.waiters.size >= this.limits.maxWaiters) return Promise.resolve({ status: 503, detail: 'too many requests are held for this session' } as unknown as T);
    if (signal?.aborted) return Promise.resolve({ status: 'gone' } as unknown as T);
    const state = this.renditions.get(rendition)!;
    return new Promise<T>((resolve) => {
      const waiter: Waiter = {
        rendition,
        check,
        settle: (answer) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(answer as T);
        },
      };
      const onAbort = () => waiter.settle({ status: 'gone' });
      // rfc8216bis: a request still unanswerable after three target durations gets 503.
      const timer = setTimeout(() => waiter.settle({ status: 503, detail: late }), 3 * state.targetDuration() * 1000);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  private changed(rendition: string): void {
    this.version += 1;
    for (const w of [...this.waiters]) {
      if (w.rendition !== rendition) continue;
      const answer = w.check();
      if (answer) w.settle(answer);
    }
  }
}

/** One rendition's memory: its inits, the window of closed segments, and the parts held. */
export class RenditionState {
  readonly inits = new Map<string, { bytes: Uint8Array; codecs: string }>();
  private readonly segments: SegmentEntry[] = [];
  private readonly held = new Map<number, HeldSegment>();
  private heldBytes = 0;
  private lastClosedMsn = -1;
  private lastLeg: string | undefined;
  private latestLeg: string | undefined;
  private discontinuities = 0;
  private maxSegmentSeconds = 0;
  private partOverTargetLogged = false;

  constructor(readonly name: string, private readonly limits: SessionLimits) {}

  get bytesHeld(): number {
    return this.heldBytes;
  }

  addInit(legTag: string, bytes: Uint8Array, codecs: string): void {
    this.inits.delete(legTag);
    this.inits.set(legTag, { bytes, codecs });
    while (this.inits.size > HELD_INITS) this.inits.delete(this.inits.keys().next().value!);
    this.latestLeg = legTag;
  }

  /** False when the part is not taken: late (its segment closed), out of order, or too far ahead. */
  addPart(legTag: string, msn: number, index: number, part: HeldPart): boolean {
    if (msn <= this.lastClosedMsn) return false;
    if (this.lastClosedMsn >= 0 && msn > this.lastClosedMsn + OPEN_SEGMENTS_AHEAD) return false;
    let segment = this.held.get(msn);
    if (!segment) {
      if (index !== 0) return false;
      segment = { legTag, parts: [], bytes: 0 };
      this.held.set(msn, segment);
    }
    if (segment.legTag !== legTag || index !== segment.parts.length) return false;
    segment.parts.push(part);
    segment.bytes += part.bytes.length;
    this.heldBytes += part.bytes.length;
    if (part.duration > this.partTarget() + PART_DURATION_SLACK && !this.partOverTargetLogged) {
      // The run cuts fragments of whole frames within the target (llhls-command.ts fragmentSeconds) from the ladder's
      // frame rate; a source whose real rate is lower than it announced can still make longer ones. Listed as they
      // are (a shorter DURATION would be a lie), said once per rendition.
      this.partOverTargetLogged = true;
      logWarn('ll_part_over_target', { rendition: this.name, msn, part: index, duration: part.duration, partTarget: this.partTarget() });
    }
    this.latestLeg = legTag;
    this.trimParts();
    return true;
  }

  closeSegment(m: { legTag: string; msn: number; duration: number; parts: number; programDateTime: number }): boolean {
    if (m.msn <= this.lastClosedMsn) return false;
    if (this.lastLeg !== undefined && this.lastLeg !== m.legTag) this.discontinuities += 1;
    this.lastLeg = m.legTag;
    this.lastClosedMsn = m.msn;
    this.maxSegmentSeconds = Math.max(this.maxSegmentSeconds, m.duration);
    this.segments.push({ msn: m.msn, legTag: m.legTag, duration: m.duration, programDateTime: m.programDateTime, discontinuitySequence: this.discontinuities, partCount: m.parts });
    if (this.segments.length > this.limits.windowSegments) this.segments.splice(0, this.segments.length - this.limits.windowSegments);
    // Parts of segments that never closed before this one (a leg cut short) cannot be listed any more.
    for (const msn of [...this.held.keys()]) if (msn < m.msn && !this.segments.some((s) => s.msn === msn)) this.drop(msn);
    this.trimParts();
    return true;
  }

  /**
   * Whole seconds: the segment target rounded up, from the first playlist on. It changes only when a segment's
   * rounded EXTINF exceeds it (rfc8216bis requires EXTINF rounded ≤ TARGETDURATION, and forbids changing
   * TARGETDURATION: the first rule is the one players break on). That happens only when the encoder's keyframes are
   * further apart than the segment length (a segment can only close at a keyframe); the transcode says so in the
   * session's issues (LiveTranscode raises 'keyframe-interval-too-long', naming TARGETDURATION in low mode).
   */
  targetDuration(): number {
    return Math.max(1, Math.ceil(this.limits.segmentTargetSeconds - 1e-9), Math.round(this.maxSegmentSeconds));
  }

  /**
   * The session's PART-TARGET: LL_PART_SECONDS as whole frames of the source, as the run's first ll_init said
   * (llhls-command.ts partTargetSeconds; the configured seconds when it did not), announced in the first playlist and
   * never changed (rfc8216bis). The run makes every part fit in it: its fragments are cut at whole frames within it
   * (llhls-command.ts fragmentSeconds).
   */
  partTarget(): number {
    return this.limits.partTargetSeconds;
  }

  private currentMsn(): number | undefined {
    if (this.lastClosedMsn >= 0) return this.lastClosedMsn + 1;
    const open = [...this.held.keys()];
    return open.length > 0 ? Math.min(...open) : undefined;
  }

  lastPart(): { msn: number; part: number } | undefined {
    const view = this.view();
    return view ? lastPartOf(view) : undefined;
  }

  position(): PlaylistPosition {
    const last = this.lastPart();
    return { lastClosedMsn: this.lastClosedMsn, ...(last ? { lastPart: last } : {}), partTarget: this.partTarget() };
  }

  /** What the playlist shows now, or undefined before the first part. */
  view(): LlRenditionView | undefined {
    const msn = this.currentMsn();
    if (msn === undefined) return undefined;
    const open = this.held.get(msn);
    const legTag = open?.legTag ?? this.latestLeg ?? this.lastLeg;
    if (legTag === undefined) return undefined;
    if (this.segments.length === 0 && !open) return undefined;
    const segments: LlSegment[] = this.segments.map((s) => {
      const held = this.held.get(s.msn);
      const { partCount: _count, ...rest } = s;
      return held && held.legTag === s.legTag ? { ...rest, parts: held.parts } : rest;
    });
    return { targetDuration: this.targetDuration(), partTarget: this.partTarget(), segments, current: { msn, legTag, parts: open?.parts ?? [] } };
  }

  partAnswer(legTag: string, msn: number, index: number): PartAnswer | undefined {
    const segment = this.held.get(msn);
    if (segment && segment.legTag === legTag && index < segment.parts.length) return { status: 200, bytes: segment.parts[index]!.bytes };
    // Its segment closed without it (the hint named a part the keyframe cut never made), or its leg is another.
    if (msn <= this.lastClosedMsn || (segment && segment.legTag !== legTag)) return { status: 404 };
    return undefined;
  }

  /** Whether a missing part is one the stream is about to make (the hinted one, or a few past it). */
  mayCome(legTag: string, msn: number, index: number): boolean {
    const current = this.currentMsn();
    if (current === undefined) return index === 0 || index <= advancePartLimit(this.partTarget());
    if (msn < current || msn > current + 1) return false;
    const have = this.held.get(msn)?.parts.length ?? 0;
    if (index > have + advancePartLimit(this.partTarget())) return false;
    const leg = this.held.get(msn)?.legTag ?? this.latestLeg;
    return leg === undefined || leg === legTag;
  }

  private trimParts(): void {
    const closed = [...this.held.keys()].filter((msn) => msn <= this.lastClosedMsn).sort((a, b) => a - b);
    while (closed.length > HELD_SEGMENTS) this.drop(closed.shift()!);
    while (this.heldBytes > this.limits.maxPartBytes && closed.length > 0) this.drop(closed.shift()!);
    if (this.heldBytes > this.limits.maxPartBytes) {
      // Only open segments left and still too big: the encoder sends no keyframes (or ll_segment never came).
      const oldest = Math.min(...this.held.keys());
      logWarn('ll_parts_dropped', { rendition: this.name, msn: oldest, heldBytes: this.heldBytes, maxBytes: this.limits.maxPartBytes });
      this.drop(oldest);
    }
  }

  private drop(msn: number): void {
    const segment = this.held.get(msn);
    if (!segment) return;
    this.heldBytes -= segment.bytes;
    this.held.delete(msn);
  }
}
