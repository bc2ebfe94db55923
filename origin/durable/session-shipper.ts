// Ships one session's media to R2 as ffmpeg closes it: each rendition's segments in order (one request at a time per
// rendition, a bounded number for the whole origin), then the rendition's durable playlist listing only what is stored,
// and the session's timeline files (ladder.json, session.json, master.m3u8) whenever they change. It also keeps the
// origin's own durable playlist (what the HLS server serves: stored segments, plus any closed more than 3 s ago while
// storage lags), frees local segment files once stored and out of the live window, and closes the playlists with
// ENDLIST when the session ends here. Each leg's PDT lines come from its anchor (the transcode's leg_anchor event), kept
// in pdt-anchors.json locally and in R2 (stored before any playlist that uses it), so no origin ever rewrites them.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import { durablePlaylistKey, DURABLE_TIMELINE_FILES } from '../../shared/durable-media.ts';
import { backoffDelay } from '../backoff.ts';
import { log, logWarn } from '../log.ts';
import { DEGRADE_AFTER_MS, durablePlaylistText, expiredSegments, lastSequenceOf, LOCAL_DURABLE_PLAYLIST, locallyListedThrough } from './durable-playlist.ts';
import type { UploadLanes } from './upload-lanes.ts';
import { legAnchorsText, parseLegAnchors, PDT_ANCHORS_FILE } from './program-date-time.ts';
import { initOfSegment } from './fmp4-init.ts';

/** What the shipper asks of storage (MediaUploader, EdgeClient.getMedia). */
export interface DurableStore {
  uploadFile(key: string, file: string, grant: string): Promise<number>;
  uploadBytes(key: string, bytes: Uint8Array, type: string, grant: string): Promise<number>;
  read(key: string, grant: string): Promise<Uint8Array | null>;
}

export interface ShipperOptions {
  streamId: string;
  sessionId: string;
  /** the session folder: {rendition}/index.m3u8 (ffmpeg's) and segments, ladder.json, session.json, master.m3u8 */
  outDir: string;
  /** `live/{streamId}/{sessionId}/` */
  prefix: string;
  grant: string;
  store: DurableStore;
  lanes: UploadLanes;
  /** a segment's playlist is uploaded after it at once, or after this many more when a backlog drains; default 4 */
  playlistEvery?: number;
}

export interface DurableFigures {
  /** renditions with a durable playlist in R2 */
  renditions: number;
  /** segments listed by the durable playlists in R2, all renditions together */
  segments: number;
  /** seconds: the longest durable playlist */
  duration: number;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

interface QueuedSegment {
  uri: string;
  sequence: number;
  closedAt: number;
}

interface RenditionShipping {
  name: string;
  queue: QueuedSegment[];
  /** the last sequence stored in R2 (segments go in order) */
  storedThrough: number;
  /** the text of the durable playlist last stored in R2 */
  inR2?: string;
  /** the text of the local durable playlist last written */
  local?: string;
  deletedThrough: number;
  pumping: boolean;
  failures: number;
  retryTimer?: NodeJS.Timeout;
  sincePlaylist: number;
  /** low-latency sessions: the init segments (`init-{legTag}.mp4`) this shipper stored, each before its leg's first segment */
  initsStored: Set<string>;
}

const STATE_FILE = 'durable.json';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/**
 * The session's counters so far (seed 002's totals): not part of the timeline others read, but an origin resuming the
 * session elsewhere continues them instead of counting from zero.
 */
export const SESSION_TOTALS_FILE = 'session-totals.json';
const TIMELINE_TYPES: Record<string, string> = { 'master.m3u8': PLAYLIST_TYPE, 'ladder.json': 'application/json', 'session.json': 'application/json', [SESSION_TOTALS_FILE]: 'application/json' };
/** Latency samples kept per session for its summary. */
const MAX_SAMPLES = 2000;
/** A segment this late into R2 gets a log line of its own. */
const SLOW_MS = 1500;
/** How often a session logs its latency figures while segments flow. */
const LATENCY_LOG_MS = 20_000;

interface StoredState {
  renditions: Record<string, number>;
  final: boolean;
}

export class SessionShipper {
  private grant: string;
  private readonly renditions = new Map<string, RenditionShipping>();
  private readonly timelineInR2 = new Map<string, string>();
  private timelineChain: Promise<void> = Promise.resolve();
  private readonly idle: (() => void)[] = [];
  private readonly stored: number[] = [];
  private readonly listed: number[] = [];
  private readonly ticker: NodeJS.Timeout;
  private closed = false;
  private finalized = false;
  private latencyLoggedAt = Date.now();
  private samplesAtLastLog = 0;
  /** segments listed in R2 so far (the samples themselves are capped) */
  private listedTotal = 0;
  /** each leg's PDT anchor (epoch ms of its first media); the first one heard for a leg is kept for good */
  private readonly anchors: Record<string, number> = {};
  /** the anchors file's text last stored in R2 */
  private anchorsInR2: string | undefined;
  private anchorsSaved: Promise<void> = Promise.resolve();

  constructor(private readonly o: ShipperOptions) {
    this.grant = o.grant;
    // Degraded listing and stalled-upload checks; one cheap pass per session every half second.
    this.ticker = setInterval(() => void this.refreshDegraded(), 500);
    this.ticker.unref();
  }

  get streamId(): string {
    return this.o.streamId;
  }

  get sessionId(): string {
    return this.o.sessionId;
  }

  get isFinal(): boolean {
    return this.finalized;
  }

  /** A fresh grant (every authorize issues one, and the heartbeat renews one running out); uploads waiting to be retried use it. */
  renewGrant(grant: string): void {
    this.grant = grant;
  }

  /** The grant uploads carry now (kept on disk by DurableMedia; read for when to ask for the next). */
  get currentGrant(): string {
    return this.grant;
  }

  get outDir(): string {
    return this.o.outDir;
  }

  get prefix(): string {
    return this.o.prefix;
  }

  /**
   * Picks up where the folder stands: what durable.json says is stored, and every segment ffmpeg's playlists list
   * beyond it (a restart, or a run that ended before its uploads did) is queued.
   */
  async start(): Promise<void> {
    const state = await readState(this.o.outDir);
    this.finalized = state.final;
    const anchors = await readFile(path.join(this.o.outDir, PDT_ANCHORS_FILE), 'utf8').catch(() => undefined);
    if (anchors !== undefined) Object.assign(this.anchors, parseLegAnchors(anchors), this.anchors);
    await this.catchUp(state.renditions, true);
    this.timelineChanged(false);
  }

  /**
   * Queues every segment ffmpeg's playlists list beyond what is stored or queued: at start (a restart, a run that ended
   * before its uploads did), and before a flush (a segment event still in flight from the transcode's thread).
   */
  private async catchUp(storedThrough: Record<string, number>, reading: boolean): Promise<void> {
    const entries = await readdir(this.o.outDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const text = await readFile(path.join(this.o.outDir, entry.name, MEDIA_PLAYLIST), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const r = this.rendition(entry.name, storedThrough[entry.name] ?? -1);
      if (reading) {
        const local = await readFile(path.join(this.o.outDir, entry.name, LOCAL_DURABLE_PLAYLIST), 'utf8').catch(() => undefined);
        if (local !== undefined) r.local = local;
      }
      let segments;
      try {
        segments = parseMediaPlaylist(text).segments;
      } catch {
        continue;
      }
      const last = () => (r.queue.length ? r.queue[r.queue.length - 1]!.sequence : r.storedThrough);
      let added = 0;
      for (const s of segments) {
        if (s.sequence <= last()) continue;
        const closedAt = await stat(path.join(this.o.outDir, entry.name, s.uri)).then((x) => x.mtimeMs, () => Date.now());
        // A segment event may have queued it (or a later one) while this looked at the file: order is kept.
        if (s.sequence <= last()) continue;
        r.queue.push({ uri: s.uri, sequence: s.sequence, closedAt });
        added++;
      }
      if (added && reading) log('durable_backlog', { streamId: this.o.streamId, sessionId: this.o.sessionId, rendition: r.name, segments: added });
      if (r.queue.length) void this.pump(r);
    }
  }

  /** ffmpeg closed a segment (the live transcode's segment event). */
  onSegment(rendition: string, uri: string, sequence: number, closedAt: number): void {
    if (this.closed) return;
    const r = this.rendition(rendition, -1);
    const last = r.queue.length ? r.queue[r.queue.length - 1]!.sequence : r.storedThrough;
    if (sequence <= last) return;
    r.queue.push({ uri, sequence, closedAt });
    void this.pump(r);
  }

  /**
   * The transcode measured a leg's anchor (before the leg's first segment event). Later news for the same leg is
   * ignored: once a playlist listed the leg, its PDTs must never change.
   */
  setLegAnchor(legTag: string, at: number): void {
    if (this.closed || this.anchors[legTag] !== undefined) return;
    const valid = parseLegAnchors(JSON.stringify({ [legTag]: at }));
    if (valid[legTag] === undefined) return;
    this.anchors[legTag] = valid[legTag];
    const text = legAnchorsText(this.anchors);
    this.anchorsSaved = this.anchorsSaved
      .then(() => writeAtomic(path.join(this.o.outDir, PDT_ANCHORS_FILE), text))
      .catch((error: unknown) => logWarn('durable_anchors_not_kept', { streamId: this.o.streamId, sessionId: this.o.sessionId, error: String(error).slice(0, 200) }));
    log('pdt_anchor', { streamId: this.o.streamId, sessionId: this.o.sessionId, legTag, at: new Date(valid[legTag]).toISOString() });
  }

  /** The anchors into R2 before a playlist using them: an origin taking the session over writes the same PDTs. */
  private async storeAnchors(): Promise<void> {
    const text = legAnchorsText(this.anchors);
    if (text === this.anchorsInR2 || Object.keys(this.anchors).length === 0) return;
    await this.o.lanes.run(() => this.o.store.uploadBytes(this.o.prefix + PDT_ANCHORS_FILE, Buffer.from(text), 'application/json', this.grant));
    this.anchorsInR2 = text;
  }

  /** ladder.json, session.json or master.m3u8 may have changed. */
  timelineChanged(withMaster = true): void {
    const run = async () => {
      const allListed = [...this.renditions.values()].length > 0 && [...this.renditions.values()].every((r) => r.inR2 !== undefined);
      for (const name of [...DURABLE_TIMELINE_FILES, SESSION_TOTALS_FILE]) {
        // The master names the rendition playlists: stored once each of them is.
        if (name === 'master.m3u8' && !(withMaster && (allListed || this.finalized))) continue;
        const text = await readFile(path.join(this.o.outDir, name), 'utf8').catch(() => undefined);
        if (text === undefined || this.timelineInR2.get(name) === text) continue;
        await this.o.lanes.run(() => this.o.store.uploadBytes(this.o.prefix + name, Buffer.from(text), TIMELINE_TYPES[name]!, this.grant));
        this.timelineInR2.set(name, text);
      }
    };
    this.timelineChain = this.timelineChain.then(run).catch((error: unknown) => {
      logWarn('durable_timeline_failed', { streamId: this.o.streamId, sessionId: this.o.sessionId, error: String(error).slice(0, 300) });
    });
  }

  /** Resolves true once every segment queued so far is stored with its playlist, false at the deadline. */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (!this.closed) await this.catchUp({}, false);
    for (const r of this.renditions.values()) if (r.queue.length && !r.pumping) void this.pump(r);
    while (!this.settled()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.timelineChanged(true);
    await this.timelineChain;
    return true;
  }

  /**
   * The session ended on this origin: every segment stored, then each durable playlist closed with ENDLIST (R2 and the
   * local copy) and the timeline stored. 'moved' when R2 holds more than this origin shipped (the session went on
   * elsewhere, which then owns its end); 'incomplete' when storage did not take everything before the deadline.
   */
  async finalize(timeoutMs = 60_000): Promise<'final' | 'moved' | 'incomplete'> {
    if (!(await this.flush(timeoutMs))) return 'incomplete';
    for (const r of this.renditions.values()) {
      const remote = await this.o.store.read(this.o.prefix + durablePlaylistKey(r.name), this.grant).catch(() => null);
      if (remote && lastSequenceOf(Buffer.from(remote).toString('utf8')) > r.storedThrough) return 'moved';
    }
    for (const r of this.renditions.values()) {
      const ffmpegText = await readFile(path.join(this.o.outDir, r.name, MEDIA_PLAYLIST), 'utf8');
      const text = durablePlaylistText(ffmpegText, r.storedThrough, true, this.anchors);
      if (text !== r.inR2) {
        await this.storeAnchors();
        await this.o.lanes.run(() => this.o.store.uploadBytes(this.o.prefix + durablePlaylistKey(r.name), Buffer.from(text), PLAYLIST_TYPE, this.grant));
        r.inR2 = text;
      }
      await this.writeLocal(r, text);
    }
    this.finalized = true;
    this.timelineChanged(true);
    await this.timelineChain;
    await this.saveState();
    log('durable_final', { streamId: this.o.streamId, sessionId: this.o.sessionId, ...this.figures(), latency: this.latency() });
    return 'final';
  }

  /** What R2 holds for the session, from the durable playlists stored there. */
  figures(): DurableFigures {
    let renditions = 0;
    let segments = 0;
    let duration = 0;
    for (const r of this.renditions.values()) {
      if (r.inR2 === undefined) continue;
      const pl = parseMediaPlaylist(r.inR2);
      renditions++;
      segments += pl.segments.length;
      duration = Math.max(duration, Math.round(pl.segments.reduce((sum, s) => sum + s.duration, 0) * 1000) / 1000);
    }
    return { renditions, segments, duration };
  }

  /** Segment closed → stored in R2 (`stored`), and → listed by the durable playlist in R2 (`listed`), in ms. */
  latency(): { stored: LatencySummary; listed: LatencySummary } {
    return { stored: summarize(this.stored), listed: summarize(this.listed) };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.ticker);
    for (const r of this.renditions.values()) if (r.retryTimer) clearTimeout(r.retryTimer);
    for (const wake of this.idle.splice(0)) wake();
  }

  private firstRendition(): string | undefined {
    return this.renditions.keys().next().value;
  }

  private settled(): boolean {
    return [...this.renditions.values()].every((r) => r.queue.length === 0 && !r.pumping);
  }

  private rendition(name: string, storedThrough: number): RenditionShipping {
    let r = this.renditions.get(name);
    if (!r) {
      r = { name, queue: [], storedThrough, deletedThrough: -1, pumping: false, failures: 0, sincePlaylist: 0, initsStored: new Set() };
      this.renditions.set(name, r);
    }
    return r;
  }

  /** One rendition's uploads, in order, one at a time; a failure waits (backoff) and the same segment is tried again. */
  private async pump(r: RenditionShipping): Promise<void> {
    if (r.pumping || this.closed) return;
    r.pumping = true;
    if (r.retryTimer) clearTimeout(r.retryTimer);
    r.retryTimer = undefined;
    try {
      while (r.queue.length && !this.closed) {
        const segment = r.queue[0]!;
        const file = path.join(this.o.outDir, r.name, segment.uri);
        const present = await stat(file).then(() => true, () => false);
        if (present) {
          await this.storeInit(r, segment.uri);
          await this.o.lanes.run(() => this.o.store.uploadFile(`${this.o.prefix}${r.name}/${segment.uri}`, file, this.grant));
          this.sample(this.stored, Date.now() - segment.closedAt);
        } else {
          // Only a deleted folder gets here (ffmpeg lists a segment once it is complete): nothing left to store.
          logWarn('durable_segment_missing', { streamId: this.o.streamId, sessionId: this.o.sessionId, rendition: r.name, segment: segment.uri });
        }
        r.queue.shift();
        r.storedThrough = segment.sequence;
        r.failures = 0;
        if (r.queue.length === 0 || ++r.sincePlaylist >= (this.o.playlistEvery ?? 4)) await this.publishPlaylist(r);
      }
    } catch (error) {
      r.failures++;
      const waitMs = backoffDelay(r.failures - 1, 500, 10_000);
      logWarn('durable_upload_failed', { streamId: this.o.streamId, sessionId: this.o.sessionId, rendition: r.name, attempt: r.failures, waitMs, error: String(error).slice(0, 300) });
      if (!this.closed) {
        r.retryTimer = setTimeout(() => void this.pump(r), waitMs);
        r.retryTimer.unref();
      }
    } finally {
      r.pumping = false;
      if (this.settled()) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /**
   * An fMP4 segment (low-latency sessions) is unplayable without its leg's init segment: that goes to R2 first, under
   * the same folder (`{prefix}{rendition}/init-{legTag}.mp4`), so a durable playlist never names a MAP not stored.
   * Once per leg and shipper; a restarted origin stores it again (the same bytes under the same key).
   */
  private async storeInit(r: RenditionShipping, segmentUri: string): Promise<void> {
    const init = initOfSegment(segmentUri);
    if (init === null || r.initsStored.has(init)) return;
    const file = path.join(this.o.outDir, r.name, init);
    await this.o.lanes.run(() => this.o.store.uploadFile(`${this.o.prefix}${r.name}/${init}`, file, this.grant));
    r.initsStored.add(init);
  }

  /** The rendition's durable playlist into R2 (only stored segments), then the local copy, state, and retention. */
  private async publishPlaylist(r: RenditionShipping): Promise<void> {
    r.sincePlaylist = 0;
    const ffmpegText = await readFile(path.join(this.o.outDir, r.name, MEDIA_PLAYLIST), 'utf8');
    const text = durablePlaylistText(ffmpegText, r.storedThrough, this.finalized, this.anchors);
    const first = r.inR2 === undefined;
    if (text !== r.inR2) {
      await this.storeAnchors();
      await this.o.lanes.run(() => this.o.store.uploadBytes(this.o.prefix + durablePlaylistKey(r.name), Buffer.from(text), PLAYLIST_TYPE, this.grant));
      r.inR2 = text;
      const now = Date.now();
      for (const s of parseMediaPlaylist(text).segments.slice(-1)) {
        const closedAt = await stat(path.join(this.o.outDir, r.name, s.uri)).then((x) => x.mtimeMs, () => undefined);
        if (closedAt !== undefined) {
          const ms = now - closedAt;
          this.sample(this.listed, ms);
          this.listedTotal++;
          if (ms > SLOW_MS) log('durable_slow_segment', { streamId: this.o.streamId, sessionId: this.o.sessionId, rendition: r.name, segment: s.uri, listedMs: Math.round(ms) });
        }
      }
    }
    await this.writeLocal(r, durablePlaylistText(ffmpegText, locallyListedThrough(r.storedThrough, r.queue, Date.now()), this.finalized, this.anchors));
    await this.saveState();
    await this.retain(r, ffmpegText);
    // The counters follow the stored segments (at most one upload per segment of one rendition).
    if (first || r.name === this.firstRendition()) this.timelineChanged(true);
  }

  /** Segments stored and older than the live window leave the disk (ffmpeg's playlist keeps naming them). */
  private async retain(r: RenditionShipping, ffmpegText: string): Promise<void> {
    for (const s of expiredSegments(ffmpegText, r.storedThrough, r.deletedThrough)) {
      await unlink(path.join(this.o.outDir, r.name, s.uri)).catch(() => undefined);
      r.deletedThrough = s.sequence;
    }
  }

  /** Storage lags: closed segments older than DEGRADE_AFTER_MS are listed by the origin's playlist anyway. */
  private async refreshDegraded(): Promise<void> {
    const now = Date.now();
    if (now - this.latencyLoggedAt >= LATENCY_LOG_MS && this.listedTotal !== this.samplesAtLastLog) {
      this.latencyLoggedAt = now;
      this.samplesAtLastLog = this.listedTotal;
      log('durable_latency', { streamId: this.o.streamId, sessionId: this.o.sessionId, latency: this.latency() });
    }
    for (const r of this.renditions.values()) {
      const head = r.queue[0];
      if (!head || now - head.closedAt <= DEGRADE_AFTER_MS) continue;
      const ffmpegText = await readFile(path.join(this.o.outDir, r.name, MEDIA_PLAYLIST), 'utf8').catch(() => undefined);
      if (ffmpegText === undefined) continue;
      const through = locallyListedThrough(r.storedThrough, r.queue, now);
      const text = durablePlaylistText(ffmpegText, through, false, this.anchors);
      if (text !== r.local) {
        logWarn('durable_degraded', { streamId: this.o.streamId, sessionId: this.o.sessionId, rendition: r.name, storedThrough: r.storedThrough, listedThrough: through });
        await this.writeLocal(r, text).catch(() => undefined);
      }
    }
  }

  private async writeLocal(r: RenditionShipping, text: string): Promise<void> {
    if (text === r.local) return;
    await writeAtomic(path.join(this.o.outDir, r.name, LOCAL_DURABLE_PLAYLIST), text);
    r.local = text;
  }

  private async saveState(): Promise<void> {
    const state: StoredState = { renditions: {}, final: this.finalized };
    for (const r of this.renditions.values()) state.renditions[r.name] = r.storedThrough;
    await writeAtomic(path.join(this.o.outDir, STATE_FILE), JSON.stringify(state));
  }

  private sample(into: number[], ms: number): void {
    into.push(Math.max(0, ms));
    if (into.length > MAX_SAMPLES) into.shift();
  }
}

/** What the folder says is stored: durable.json, written by the shipper or by a restore from R2. */
export async function readState(outDir: string): Promise<StoredState> {
  const text = await readFile(path.join(outDir, STATE_FILE), 'utf8').catch(() => undefined);
  try {
    const parsed = text ? (JSON.parse(text) as Partial<StoredState>) : {};
    return { renditions: parsed.renditions ?? {}, final: parsed.final === true };
  } catch {
    return { renditions: {}, final: false };
  }
}

export async function writeState(outDir: string, state: StoredState): Promise<void> {
  await writeAtomic(path.join(outDir, STATE_FILE), JSON.stringify(state));
}

export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { n: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: Math.round(sorted[sorted.length - 1]!) };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
