// The durable event outbox: every event is on disk before we try to send it, and stays there until the edge settles
// it. In order per stream (not globally: one stream's retrying event never holds up another's), retried with backoff,
// resumed after a restart; what the edge rejects as invalid goes to a bounded quarantine file instead of wedging us.
import { appendFile, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OriginEvent, OriginEventOutcome } from '../shared/schemas/internal.ts';
import { EdgeRefusedBatch } from './edge-client.ts';
import { clampOriginEvent, clampText } from './event-clamp.ts';
import { log, logWarn } from './log.ts';

/** The edge, seen from here. Throws EdgeRefusedBatch for a whole-batch refusal that will not change; else transient. */
export interface EventSink {
  sendEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]>;
}

export interface OutboxLimits {
  /**
   * The outbox's cap on disk. When full, the oldest stats event goes first (preferably one a newer stats event of
   * its stream supersedes: stats are the heartbeat and the latest counters, so nothing but their history is lost);
   * when no stats event is left to drop, enqueue refuses the new event (OutboxFull) and its caller logs it.
   */
  maxEvents: number;
  maxBytes: number;
  /** The quarantine keeps the last maxEntries (and at most maxBytes); the file holds up to twice that between trims. */
  quarantineMaxEntries: number;
  quarantineMaxBytes: number;
  batchMaxEvents: number;
  batchMaxBytes: number;
  /** An event the edge keeps answering `retry` for is quarantined after this many attempts (~20 min at the cap). */
  maxRetries: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxEvents: 10_000,
  maxBytes: 64 * 1024 * 1024,
  quarantineMaxEntries: 1000,
  quarantineMaxBytes: 4 * 1024 * 1024,
  batchMaxEvents: 50,
  // Well under the edge's 1 MiB body limit.
  batchMaxBytes: 256 * 1024,
  maxRetries: 40,
};

/** enqueue() could not make room: the outbox is full of events that are not stats. */
export class OutboxFull extends Error {}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A quarantined event is kept whole up to this size; beyond it, only its id, stream and type. */
const QUARANTINE_EVENT_MAX_BYTES = 16 * 1024;
const QUARANTINE_FILE = 'quarantine.jsonl';
const EVENT_FILE = /^\d{12}\.json$/;

/** One pending event, as the outbox tracks it in memory (the event itself stays on disk). */
interface Entry {
  name: string;
  id: string;
  streamId: string;
  type: string;
  bytes: number;
  attempts: number;
}

/** Exponential with jitter: half the ceiling plus up to half again. */
const backoff = (failures: number) => {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
};

export class EventOutbox {
  private entries: Entry[] = [];
  private bytes = 0;
  private counter = 0;
  private sending = false;
  private closed = false;
  /** Transient failures of whole sends in a row; while `retryAt` is ahead, nothing is sent. */
  private failures = 0;
  private retryAt = 0;
  /** Streams whose first pending event the edge answered `retry`: held, with their own backoff. */
  private readonly held = new Map<string, { until: number; failures: number }>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly drainWaiters: (() => void)[] = [];
  private quarantineEntries = 0;
  private quarantineBytes = 0;
  private readonly reserved = { events: 0, bytes: 0 };
  /** Settled events whose files are still being removed. */
  private unlinking = 0;
  private statsDropped = 0;
  private statsDropLoggedAt = 0;

  private constructor(
    private readonly dir: string,
    private readonly sink: EventSink,
    private readonly limits: OutboxLimits,
  ) {}

  /** Opens the outbox folder and resumes sending whatever an earlier run left in it. */
  static async open(dir: string, sink: EventSink, limits: Partial<OutboxLimits> = {}): Promise<EventOutbox> {
    await mkdir(dir, { recursive: true });
    const outbox = new EventOutbox(dir, sink, { ...DEFAULT_OUTBOX_LIMITS, ...limits });
    const files = await readdir(dir);
    // A .tmp is an enqueue the process did not finish: it was never acknowledged to its caller.
    await Promise.all(files.filter((n) => n.endsWith('.json.tmp')).map((n) => unlink(path.join(dir, n)).catch(() => undefined)));
    const names = files.filter((n) => EVENT_FILE.test(n)).sort();
    for (const name of names) {
      const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
      const event = parseEvent(text);
      outbox.entries.push({
        name,
        id: event?.id ?? name,
        streamId: event?.streamId ?? '',
        type: event?.type ?? 'unreadable',
        bytes: Buffer.byteLength(text),
        attempts: 0,
      });
      outbox.bytes += Buffer.byteLength(text);
    }
    outbox.counter = names.length ? Number(names[names.length - 1]!.slice(0, 12)) : 0;
    const quarantine = await readFile(path.join(dir, QUARANTINE_FILE), 'utf8').catch(() => '');
    outbox.quarantineEntries = quarantine.split('\n').filter(Boolean).length;
    outbox.quarantineBytes = Buffer.byteLength(quarantine);
    if (names.length) log('outbox_resumed', { pending: names.length });
    outbox.kick();
    return outbox;
  }

  get depth(): number {
    return this.entries.length;
  }

  /** Where rejected events are kept (JSON lines: quarantinedAt, reason, eventId, streamId, type, event). */
  get quarantinePath(): string {
    return path.join(this.dir, QUARANTINE_FILE);
  }

  /** Resolves once the (clamped) event is durably on disk; delivery follows in the background. */
  async enqueue(event: OriginEvent): Promise<void> {
    const text = JSON.stringify(clampOriginEvent(event));
    const bytes = Buffer.byteLength(text);
    await this.makeRoom(bytes); // reserves the room, released once the entry is listed
    this.counter += 1;
    const name = `${String(this.counter).padStart(12, '0')}.json`;
    const temporary = path.join(this.dir, `${name}.tmp`);
    try {
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(text);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path.join(this.dir, name));
    } catch (error) {
      this.reserved.events -= 1;
      this.reserved.bytes -= bytes;
      this.wakeIfDrained();
      throw error;
    }
    this.reserved.events -= 1;
    this.reserved.bytes -= bytes;
    this.entries.push({ name, id: event.id, streamId: event.streamId, type: event.type, bytes, attempts: 0 });
    this.entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.bytes += bytes;
    this.kick();
  }

  /**
   * Waits until every event is settled and its file gone, or the timeout passes; true when drained. An enqueue still
   * writing its file counts as pending: a shutdown that took "drained" for true while one was mid-write left that
   * event on disk for the next run (CI, drain.test.ts).
   */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.isEmpty()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ── the cap ───────────────────────────────────────────────────────────────────────────────────────────────

  private async makeRoom(bytes: number): Promise<void> {
    const full = () =>
      this.entries.length + this.reserved.events + 1 > this.limits.maxEvents ||
      this.bytes + this.reserved.bytes + bytes > this.limits.maxBytes;
    while (full()) {
      const victim = this.statsToDrop();
      if (!victim) {
        throw new OutboxFull(`event outbox full (${this.entries.length} events, ${this.bytes} bytes) and no stats event to drop`);
      }
      this.forget(victim);
      await unlink(path.join(this.dir, victim.name)).catch(() => undefined);
      this.statsDropped += 1;
    }
    // Reserved before any await, so concurrent enqueues cannot overshoot the cap together.
    this.reserved.events += 1;
    this.reserved.bytes += bytes;
    if (this.statsDropped > 0 && Date.now() - this.statsDropLoggedAt > 10_000) {
      logWarn('outbox_full_stats_dropped', { dropped: this.statsDropped, pending: this.entries.length, bytes: this.bytes });
      this.statsDropped = 0;
      this.statsDropLoggedAt = Date.now();
    }
  }

  /** The oldest stats event a newer stats event of its stream supersedes, else the oldest stats event. */
  private statsToDrop(): Entry | undefined {
    const newestStats = new Map<string, Entry>();
    for (const entry of this.entries) if (entry.type === 'stats') newestStats.set(entry.streamId, entry);
    const candidates = this.entries.filter((e) => e.type === 'stats' && !this.inFlight.has(e.name));
    return candidates.find((e) => newestStats.get(e.streamId) !== e) ?? candidates[0];
  }

  private forget(entry: Entry): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return;
    this.entries.splice(index, 1);
    this.bytes -= entry.bytes;
    if (this.entries.length === 0) this.held.clear();
  }

  /** Settled: forgotten, and its file removed before anyone waiting for the outbox to drain is told. */
  private async settle(entry: Entry): Promise<void> {
    this.forget(entry);
    this.unlinking += 1;
    try {
      await unlink(path.join(this.dir, entry.name)).catch(() => undefined);
    } finally {
      this.unlinking -= 1;
    }
    this.wakeIfDrained();
  }

  private isEmpty(): boolean {
    return this.entries.length === 0 && this.reserved.events === 0 && this.unlinking === 0;
  }

  private wakeIfDrained(): void {
    if (this.isEmpty()) this.drainWaiters.splice(0).forEach((wake) => wake());
  }

  // ── sending ───────────────────────────────────────────────────────────────────────────────────────────────

  private kick(): void {
    if (this.sending || this.closed) return;
    if (Date.now() < this.retryAt) {
      if (!this.timer) this.wakeAt(this.retryAt);
      return;
    }
    void this.sendLoop().catch((error: unknown) => {
      // Only a bug gets here; keep the events on disk and try again later rather than stop sending for good.
      logWarn('outbox_loop_failed', { error: String(error) });
      this.sending = false;
      this.retryLater(error);
    });
  }

  private async sendLoop(): Promise<void> {
    this.sending = true;
    try {
      while (!this.closed) {
        const now = Date.now();
        const batch = this.nextBatch(now);
        if (batch.length === 0) {
          // The instant that held a stream back also arms its wake-up. A second Date.now() can be past the hold already
          // (the hold's timer fires a little early, the process is preempted in between): it then armed nothing, and
          // the stream's events waited for the next enqueue, forever at the end of a broadcast.
          this.wakeForHeldStreams(now);
          break;
        }
        if (!(await this.deliver(batch))) return; // transient: retryLater() has set the timer
        this.failures = 0;
      }
    } finally {
      this.sending = false;
    }
  }

  /**
   * The next events to send: in order, skipping held streams, and once one event of a stream is left out, every
   * later event of that stream too (per-stream order). Bounded by count and bytes.
   */
  private nextBatch(now: number): Entry[] {
    const batch: Entry[] = [];
    const skipped = new Set<string>();
    let bytes = 0;
    for (const entry of this.entries) {
      if (batch.length >= this.limits.batchMaxEvents) break;
      const hold = this.held.get(entry.streamId);
      if (skipped.has(entry.streamId) || (hold && hold.until > now)) {
        skipped.add(entry.streamId);
        continue;
      }
      if (batch.length > 0 && bytes + entry.bytes > this.limits.batchMaxBytes) {
        skipped.add(entry.streamId);
        continue;
      }
      batch.push(entry);
      bytes += entry.bytes;
    }
    return batch;
  }

  /** Sends one batch and settles what the edge answered; false on a transient failure (everything stays pending). */
  private async deliver(batch: Entry[]): Promise<boolean> {
    // In flight from the first read: a full outbox must not drop (and unlink) what is being read or sent.
    batch.forEach((entry) => this.inFlight.add(entry.name));
    const loaded: { entry: Entry; event: OriginEvent }[] = [];
    let outcomes: OriginEventOutcome[];
    try {
      for (const entry of batch) {
        const event = parseEvent(await readFile(path.join(this.dir, entry.name), 'utf8').catch(() => ''));
        if (event) loaded.push({ entry, event });
        else await this.quarantine(entry, null, 'unreadable on the origin disk');
      }
      if (loaded.length === 0) return true;
      outcomes = await this.sink.sendEvents(loaded.map((l) => l.event));
    } catch (error) {
      // (awaited here, so the halves' own in-flight marks are theirs until they finish)
      if (error instanceof EdgeRefusedBatch) return await this.split(loaded.map((l) => l.entry), loaded.map((l) => l.event), error);
      this.retryLater(error);
      return false;
    } finally {
      batch.forEach((entry) => this.inFlight.delete(entry.name));
    }
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    for (const [i, { entry, event }] of loaded.entries()) {
      const outcome = outcomes[i]?.id === entry.id ? outcomes[i] : byId.get(entry.id);
      await this.apply(entry, event, outcome);
    }
    return true;
  }

  /**
   * The edge refused the whole batch for good: send each half on its own until the event at fault stands alone,
   * then quarantine it. Halves go in order, and a stream held by a `retry` meanwhile is left for later.
   */
  private async split(entries: Entry[], events: OriginEvent[], refusal: EdgeRefusedBatch): Promise<boolean> {
    if (entries.length === 1) {
      await this.quarantine(entries[0]!, events[0]!, `edge refused it (${refusal.status}): ${refusal.detail}`);
      return true;
    }
    const middle = Math.ceil(entries.length / 2);
    for (const half of [entries.slice(0, middle), entries.slice(middle)]) {
      const now = Date.now();
      const still = half.filter((e) => this.entries.includes(e) && !((this.held.get(e.streamId)?.until ?? 0) > now));
      if (still.length && !(await this.deliver(still))) return false;
    }
    return true;
  }

  private async apply(entry: Entry, event: OriginEvent, outcome: OriginEventOutcome | undefined): Promise<void> {
    switch (outcome?.outcome) {
      case 'applied':
      case 'duplicate':
        this.held.delete(entry.streamId);
        return this.settle(entry);
      case 'refused':
        // Valid, but the stream will not take it (it ended, or this session is not its current one): nothing to redo.
        logWarn('event_refused_by_edge', { eventId: entry.id, streamId: entry.streamId, type: entry.type, reason: outcome.reason });
        return this.settle(entry);
      case 'rejected':
        return this.quarantine(entry, event, outcome.reason);
      case 'retry':
      case undefined: {
        entry.attempts += 1;
        const reason = outcome?.reason ?? 'the edge did not answer for this event';
        if (entry.attempts > this.limits.maxRetries) return this.quarantine(entry, event, `gave up after ${entry.attempts - 1} retries: ${reason}`);
        const hold = this.held.get(entry.streamId);
        // One backoff step per answer, however many of the stream's events it held back.
        const failures = hold && hold.until > Date.now() ? hold.failures : (hold?.failures ?? 0) + 1;
        const delay = hold && hold.until > Date.now() ? hold.until - Date.now() : backoff(failures);
        this.held.set(entry.streamId, { until: Date.now() + delay, failures });
        logWarn('outbox_event_retry', { eventId: entry.id, streamId: entry.streamId, type: entry.type, attempt: entry.attempts, retryInMs: Math.round(delay), reason });
      }
    }
  }

  /** Moves an event the edge will never take to the quarantine file (bounded), with a log line, and forgets it. */
  private async quarantine(entry: Entry, event: OriginEvent | null, reason: string): Promise<void> {
    const clamped = clampText(reason, 500);
    logWarn('outbox_event_quarantined', { eventId: entry.id, streamId: entry.streamId, type: entry.type, reason: clamped });
    const record: Record<string, unknown> = {
      quarantinedAt: new Date().toISOString(),
      reason: clamped,
      eventId: entry.id,
      streamId: entry.streamId,
      type: entry.type,
    };
    if (event && entry.bytes <= QUARANTINE_EVENT_MAX_BYTES) record.event = event;
    else record.eventBytes = entry.bytes;
    const line = `${JSON.stringify(record)}\n`;
    try {
      await appendFile(this.quarantinePath, line);
      this.quarantineEntries += 1;
      this.quarantineBytes += Buffer.byteLength(line);
      if (this.quarantineEntries > 2 * this.limits.quarantineMaxEntries || this.quarantineBytes > 2 * this.limits.quarantineMaxBytes) {
        await this.trimQuarantine();
      }
    } catch (error) {
      // A full disk must not wedge the outbox either: the log line above is the record then.
      logWarn('outbox_quarantine_write_failed', { eventId: entry.id, error: String(error) });
    }
    await this.settle(entry);
  }

  /** Keeps the newest quarantineMaxEntries lines that fit in quarantineMaxBytes. */
  private async trimQuarantine(): Promise<void> {
    const lines = (await readFile(this.quarantinePath, 'utf8')).split('\n').filter(Boolean);
    const kept: string[] = [];
    let bytes = 0;
    for (let i = lines.length - 1; i >= 0 && kept.length < this.limits.quarantineMaxEntries; i--) {
      const size = Buffer.byteLength(lines[i]!) + 1;
      if (bytes + size > this.limits.quarantineMaxBytes) break;
      kept.push(lines[i]!);
      bytes += size;
    }
    const text = kept.reverse().map((l) => `${l}\n`).join('');
    const temporary = `${this.quarantinePath}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, this.quarantinePath);
    this.quarantineEntries = kept.length;
    this.quarantineBytes = (await stat(this.quarantinePath)).size;
  }

  // ── timers ────────────────────────────────────────────────────────────────────────────────────────────────

  private retryLater(error: unknown): void {
    this.failures += 1;
    const delay = backoff(this.failures);
    this.retryAt = Date.now() + delay;
    logWarn('outbox_send_failed', { attempt: this.failures, retryInMs: Math.round(delay), pending: this.entries.length, error: String(error).slice(0, 300) });
    this.wakeAt(this.retryAt);
  }

  /** Nothing sendable at `now`, but held streams still have events: come back when the first hold ends. */
  private wakeForHeldStreams(now: number): void {
    let first = Infinity;
    for (const entry of this.entries) {
      const until = this.held.get(entry.streamId)?.until ?? 0;
      if (until > now && until < first) first = until;
    }
    if (first < Infinity) this.wakeAt(first);
  }

  private wakeAt(at: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, Math.max(0, Math.ceil(at - Date.now())));
    this.timer.unref();
  }
}

function parseEvent(text: string): OriginEvent | null {
  try {
    const event = JSON.parse(text) as OriginEvent;
    return typeof event?.id === 'string' && typeof event.streamId === 'string' ? event : null;
  } catch {
    return null;
  }
}
