// The durable event outbox: every event is on disk before we try to send it, and stays there until the edge
// acknowledges it. Sent in order (so in order per stream), retried with backoff, resumed after a restart.
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { OriginEvent, OriginEventOutcome } from '../shared/schemas/internal.ts';
import { log, logWarn } from './log.ts';

export interface EventSink {
  sendEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]>;
}

const BATCH_SIZE = 50;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;

export class EventOutbox {
  private pending: string[] = [];
  private counter = 0;
  private sending = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly drainWaiters: (() => void)[] = [];

  private constructor(
    private readonly dir: string,
    private readonly sink: EventSink,
  ) {}

  /** Opens the outbox folder and resumes sending whatever an earlier run left in it. */
  static async open(dir: string, sink: EventSink): Promise<EventOutbox> {
    await mkdir(dir, { recursive: true });
    const outbox = new EventOutbox(dir, sink);
    const names = (await readdir(dir)).filter((n) => /^\d{12}\.json$/.test(n)).sort();
    outbox.pending = names;
    outbox.counter = names.length ? Number(names[names.length - 1]!.slice(0, 12)) : 0;
    if (names.length) log('outbox_resumed', { pending: names.length });
    outbox.kick();
    return outbox;
  }

  get depth(): number {
    return this.pending.length;
  }

  /** Resolves once the event is durably on disk; delivery follows in the background. */
  async enqueue(event: OriginEvent): Promise<void> {
    this.counter += 1;
    const name = `${String(this.counter).padStart(12, '0')}.json`;
    const temporary = path.join(this.dir, `${name}.tmp`);
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(event));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path.join(this.dir, name));
    this.pending.push(name);
    this.pending.sort();
    this.kick();
  }

  /** Waits until everything queued so far is acknowledged, or the timeout passes; true when drained. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.pending.length === 0) return Promise.resolve(true);
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private kick(): void {
    if (this.sending || this.closed || this.retryTimer) return;
    void this.sendLoop();
  }

  private async sendLoop(): Promise<void> {
    this.sending = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const names = this.pending.slice(0, BATCH_SIZE);
        const events = await Promise.all(
          names.map(async (name) => JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as OriginEvent),
        );
        let outcomes: OriginEventOutcome[];
        try {
          outcomes = await this.sink.sendEvents(events);
        } catch (error) {
          this.scheduleRetry(error);
          return;
        }
        this.failures = 0;
        for (const outcome of outcomes) {
          if (outcome.outcome === 'refused') logWarn('event_refused_by_edge', { eventId: outcome.id, reason: outcome.reason });
        }
        // Every event the edge answered for is settled (applied, duplicate or refused); remove those files.
        const settled = new Set(outcomes.map((o) => o.id));
        const done = names.filter((_, i) => settled.has(events[i]!.id));
        await Promise.all(done.map((name) => unlink(path.join(this.dir, name)).catch(() => undefined)));
        const doneSet = new Set(done);
        this.pending = this.pending.filter((name) => !doneSet.has(name));
        if (done.length === 0) {
          this.scheduleRetry(new Error('edge settled none of the batch'));
          return;
        }
      }
      if (this.pending.length === 0) this.drainWaiters.splice(0).forEach((wake) => wake());
    } finally {
      this.sending = false;
    }
  }

  private scheduleRetry(error: unknown): void {
    this.failures += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.failures - 1));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    logWarn('outbox_send_failed', { attempt: this.failures, retryInMs: Math.round(delay), pending: this.pending.length, error: String(error) });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }
}
