// The outbox against an edge that is down, one that answers per event (a real local HTTP server, signed calls through
// the real EdgeClient), and one that refuses whole batches like the edge before issue 10: nothing wedges it.
import { describe, it, expect, afterEach, vi } from 'vitest';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EventOutbox, OutboxFull, type EventSink } from '../../origin/event-outbox.ts';
import { EdgeClient } from '../../origin/edge-client.ts';
import { logger } from '../../origin/log.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { ORIGIN_EVENT_LIMITS, OriginEvent, type OriginEventOutcome, type SessionStats } from '../../shared/schemas/internal.ts';

let counter = 0;
const event = (streamId: string, type: 'publish_done' | 'stats' | 'error' = 'publish_done', data?: unknown): OriginEvent =>
  ({
    id: `evt_${++counter}_${Date.now()}`,
    streamId,
    sessionId: 'ses_1',
    type,
    at: new Date().toISOString(),
    data: data ?? (type === 'stats' ? stats() : { reason: 'eof' }),
  }) as OriginEvent;

const stats = (issues: string[] | null = null): SessionStats => ({
  sourceSegments: 1, transcodedSegments: 1, sourceSegmentsDuration: 2, transcodedSegmentsDuration: 2,
  sourceBytes: 10, transcodedBytes: 10, ingestRate: 5, outgoingRate: 5, isHealthy: issues === null, issues,
});
/** Invalid by the contract in a way the origin's clamp does not touch (a type error, as a bug or an old version makes). */
const poison = (streamId: string) => event(streamId, 'stats', { ...stats(), isHealthy: 'maybe' });

const outdir = () => mkdtemp(path.join(os.tmpdir(), 'outbox-'));
const eventFiles = async (dir: string) => (await readdir(dir)).filter((n) => /^\d{12}\.json$/.test(n));
const quarantined = async (outbox: EventOutbox) =>
  (await readFile(outbox.quarantinePath, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** An edge stand-in that is down for the first `failures` calls, then records what it receives. */
class FlakyEdge implements EventSink {
  received: OriginEvent[] = [];
  calls = 0;
  constructor(private failures: number) {}
  async sendEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]> {
    this.calls += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('edge unreachable');
    }
    const seen = new Set(this.received.map((e) => e.id));
    const outcomes = events.map((e) => ({ id: e.id, outcome: seen.has(e.id) ? 'duplicate' : 'applied' }) as const);
    this.received.push(...events.filter((e) => !seen.has(e.id)));
    return outcomes;
  }
}

const SECRET = 'outbox-test-secret';

/**
 * A local HTTP server in the edge's place: checks the signature and the schema like the edge does. `per-event`
 * answers each event (rejected when invalid; `retry` for the streams in `retryFirst` while their count lasts);
 * `whole-batch` answers 400 to a batch with any invalid event, as the edge did before issue 10.
 */
class StandInEdge {
  applied: OriginEvent[] = [];
  requests = 0;
  retryFirst = new Map<string, number>();
  private server: Server;
  constructor(private readonly mode: 'per-event' | 'whole-batch') {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => void this.answer(request.method!, request.url!, Buffer.concat(chunks).toString(), request.headers, response));
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  private async answer(method: string, url: string, body: string, headers: Record<string, unknown>, response: import('node:http').ServerResponse) {
    this.requests += 1;
    const verdict = await verifyRequest(SECRET, method, url, body, { get: (name) => (headers[name] as string | undefined) ?? null });
    if (!verdict.ok) return response.writeHead(401).end();
    const { events } = JSON.parse(body) as { events: unknown[] };
    const parsed = events.map((e) => OriginEvent.safeParse(e));
    if (this.mode === 'whole-batch' && parsed.some((p) => !p.success)) {
      response.writeHead(400, { 'content-type': 'application/problem+json' });
      return response.end(JSON.stringify({ status: 400, detail: 'the request body does not match the schema' }));
    }
    const streamsThisRequest = new Set<string>();
    const results = parsed.map((p, i): OriginEventOutcome => {
      const id = (events[i] as { id: string }).id;
      if (!p.success) return { id, outcome: 'rejected', reason: p.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ') };
      const left = this.retryFirst.get(p.data.streamId) ?? 0;
      if (left > 0) {
        streamsThisRequest.add(p.data.streamId);
        return { id, outcome: 'retry', reason: 'stream unavailable' };
      }
      if (this.applied.some((a) => a.id === id)) return { id, outcome: 'duplicate' };
      this.applied.push(p.data);
      return { id, outcome: 'applied' };
    });
    for (const streamId of streamsThisRequest) this.retryFirst.set(streamId, this.retryFirst.get(streamId)! - 1);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ results }));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  vi.restoreAllMocks();
});

async function withEdge(mode: 'per-event' | 'whole-batch', limits = {}) {
  const edge = new StandInEdge(mode);
  const url = await edge.start();
  const dir = await outdir();
  // The stand-in runs in this process: a call it answered must not be given up on (the client's 5 s timeout on a loaded
  // machine), or what it counted (retryFirst) and what the outbox saw would differ.
  const outbox = await EventOutbox.open(dir, new EdgeClient(url, { originId: 'origin-test', secret: SECRET }, 60_000), limits);
  cleanups.push(() => edge.stop(), () => outbox.close());
  return { edge, outbox, dir };
}

const ids = (events: OriginEvent[]) => events.map((e) => e.id);
const ofStream = (events: OriginEvent[], streamId: string) => ids(events.filter((e) => e.streamId === streamId));

describe('EventOutbox', () => {
  it('delivers in order after the edge comes back, and empties its folder', async () => {
    const dir = await outdir();
    const edge = new FlakyEdge(3);
    const outbox = await EventOutbox.open(dir, edge);
    const sent = [event('a'), event('b'), event('a'), event('a')];
    for (const e of sent) await outbox.enqueue(e);
    expect(await outbox.drained(10_000)).toBe(true);
    expect(edge.received.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(edge.calls).toBeGreaterThan(3);
    expect(await readdir(dir)).toEqual([]);
    outbox.close();
  });

  it('is not drained while an event is still being written, nor before a settled event\'s file is gone', async () => {
    for (let round = 0; round < 20; round++) {
      const dir = await outdir();
      const edge = new FlakyEdge(0);
      const outbox = await EventOutbox.open(dir, edge);
      // Not awaited, as the ingest's emitters do not await: a shutdown asks for "drained" with this write in flight.
      const writing = outbox.enqueue(event('w'));
      expect(await outbox.drained(5_000)).toBe(true);
      expect(edge.received).toHaveLength(1);
      expect(await eventFiles(dir)).toEqual([]);
      await writing;
      outbox.close();
    }
  });

  it('keeps events on disk across a restart and sends them on reopening', async () => {
    const dir = await outdir();
    const down = new FlakyEdge(1_000);
    const first = await EventOutbox.open(dir, down);
    const sent = [event('s'), event('s'), event('t')];
    for (const e of sent) await first.enqueue(e);
    first.close(); // the process "dies" with everything unsent
    expect((await readdir(dir)).length).toBe(3);

    const edge = new FlakyEdge(0);
    const second = await EventOutbox.open(dir, edge);
    expect(await second.drained(5_000)).toBe(true);
    expect(edge.received.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    await second.enqueue(event('s'));
    expect(await second.drained(5_000)).toBe(true);
    expect(edge.received).toHaveLength(4);
    second.close();
  });
});

describe('EventOutbox and one bad event (issue 10, defect 4)', () => {
  it('per-event answers: the valid events are delivered, the rejected one is quarantined with a log line', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const { edge, outbox, dir } = await withEdge('per-event');
    const bad = poison('a');
    // A long ffmpeg stderr line in an issue: clamped when queued, so it is delivered, not rejected.
    const stderr = event('a', 'stats', stats([`[h264 @ 0x5581] ${'error while decoding MB '.repeat(200)}`, ...Array.from({ length: 40 }, (_, i) => `issue ${i}`)]));
    const sent = [event('a', 'stats'), bad, stderr, event('b', 'stats'), event('a'), event('b')];
    for (const e of sent) await outbox.enqueue(e);
    expect(await outbox.drained(10_000)).toBe(true);

    expect(ids(edge.applied)).toEqual(ids(sent.filter((e) => e !== bad)));
    const delivered = edge.applied.find((e) => e.id === stderr.id) as Extract<OriginEvent, { type: 'stats' }>;
    expect(delivered.data.issues).toHaveLength(ORIGIN_EVENT_LIMITS.issues);
    expect(delivered.data.issues![0]!.length).toBeLessThanOrEqual(ORIGIN_EVENT_LIMITS.issueChars);
    expect(delivered.data.issues!.at(-1)).toBe('issue 39'); // the latest issues are kept

    const [entry, ...more] = await quarantined(outbox);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ eventId: bad.id, streamId: 'a', type: 'stats', event: bad });
    expect(entry.reason).toMatch(/^data\.isHealthy: /);
    const line = warn.mock.calls.map((c) => c[0] as any).find((fields) => fields?.event === 'outbox_event_quarantined');
    expect(line).toEqual({ event: 'outbox_event_quarantined', eventId: bad.id, streamId: 'a', type: 'stats', reason: entry.reason });
    expect(await eventFiles(dir)).toEqual([]);
  });

  it('an edge that refuses the whole batch (400) does not wedge it: it splits the batch and quarantines the event at fault', async () => {
    const { edge, outbox, dir } = await withEdge('whole-batch');
    const bad = poison('a');
    const sent = [event('a', 'stats'), event('a', 'stats'), event('b', 'stats'), bad, event('a', 'stats'), event('b'), event('a')];
    for (const e of sent) await outbox.enqueue(e);
    expect(await outbox.drained(10_000)).toBe(true);
    const good = sent.filter((e) => e !== bad);
    expect(ofStream(edge.applied, 'a')).toEqual(ofStream(good, 'a'));
    expect(ofStream(edge.applied, 'b')).toEqual(ofStream(good, 'b'));
    expect(edge.applied).toHaveLength(good.length);
    const entries = await quarantined(outbox);
    expect(entries.map((q) => q.eventId)).toEqual([bad.id]);
    expect(entries[0].reason).toMatch(/^edge refused it \(400\)/);
    expect(await eventFiles(dir)).toEqual([]);
    // Not a tight loop either: a 7-event batch with one bad event takes a handful of requests.
    expect(edge.requests).toBeLessThanOrEqual(8);
  });

  it("one stream's retrying event holds back that stream only; it is delivered later, in order", async () => {
    const { edge, outbox } = await withEdge('per-event');
    edge.retryFirst.set('a', 3);
    const sent = [event('a', 'stats'), event('b', 'stats'), event('a'), event('b')];
    for (const e of sent) await outbox.enqueue(e);
    await expect.poll(() => ofStream(edge.applied, 'b'), { timeout: 2000 }).toEqual(ofStream(sent, 'b'));
    expect(ofStream(edge.applied, 'a')).toEqual([]);
    expect(await outbox.drained(10_000)).toBe(true);
    expect(ofStream(edge.applied, 'a')).toEqual(ofStream(sent, 'a'));
    expect(await quarantined(outbox)).toEqual([]);
  });

  it('an event the edge keeps answering retry for is quarantined after maxRetries, and the stream moves on', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const { edge, outbox } = await withEdge('per-event', { maxRetries: 2 });
    edge.retryFirst.set('a', 3);
    const stuck = event('a', 'stats');
    const later = event('a');
    await outbox.enqueue(stuck);
    // `later` joins once the outbox has had the edge's first `retry` for `stuck` alone (a first call that failed in
    // transit would otherwise carry both, and both would run out of retries together).
    const retried = (id: string) => warn.mock.calls.some(([fields]) => (fields as any)?.event === 'outbox_event_retry' && (fields as any).eventId === id);
    await expect.poll(() => retried(stuck.id), { timeout: 30_000 }).toBe(true);
    await outbox.enqueue(later);
    expect(await outbox.drained(30_000)).toBe(true); // retries back off from 250 ms: seconds normally, longer on a loaded machine
    // `stuck` was sent alone first, so it ran out of retries one answer before `later`, which then went through.
    const entries = await quarantined(outbox);
    expect(entries.map((q) => q.eventId)).toEqual([stuck.id]);
    expect(entries[0].reason).toMatch(/^gave up after 2 retries: stream unavailable/);
    expect(ids(edge.applied)).toEqual([later.id]);
  });

  it('the quarantine keeps the last N entries', async () => {
    const { outbox } = await withEdge('per-event', { quarantineMaxEntries: 3 });
    const bad = Array.from({ length: 10 }, () => poison('a'));
    for (const e of bad) await outbox.enqueue(e);
    expect(await outbox.drained(10_000)).toBe(true);
    const kept = (await quarantined(outbox)).map((q) => q.eventId);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.length).toBeLessThanOrEqual(6);
    expect(kept).toEqual(ids(bad).slice(-kept.length));
  });

  it('a full outbox drops the oldest superseded stats first, then refuses what it cannot make room for', async () => {
    const dir = await outdir();
    const outbox = await EventOutbox.open(dir, new FlakyEdge(1_000), { maxEvents: 4 });
    cleanups.push(() => outbox.close());
    const a1 = event('a', 'stats');
    const done = event('x');
    const a2 = event('a', 'stats');
    const b1 = event('b', 'stats');
    for (const e of [a1, done, a2, b1]) await outbox.enqueue(e);
    const onDisk = async () => Promise.all((await eventFiles(dir)).sort().map(async (n) => JSON.parse(await readFile(path.join(dir, n), 'utf8')).id));

    const e1 = event('x', 'error', { reason: 'boom' });
    await outbox.enqueue(e1); // a1 goes: a2 supersedes it
    expect(await onDisk()).toEqual(ids([done, a2, b1, e1]));
    const e2 = event('y', 'error', { reason: 'boom' });
    await outbox.enqueue(e2); // no superseded stats left: the oldest stats goes
    expect(await onDisk()).toEqual(ids([done, b1, e1, e2]));
    await outbox.enqueue(event('y', 'error', { reason: 'boom' }));
    await expect(outbox.enqueue(event('y', 'error', { reason: 'boom' }))).rejects.toBeInstanceOf(OutboxFull);
    expect(outbox.depth).toBe(4);
    expect(await eventFiles(dir)).toHaveLength(4);
  });

  it('concurrent enqueues do not overshoot the cap together', async () => {
    const dir = await outdir();
    const outbox = await EventOutbox.open(dir, new FlakyEdge(1_000), { maxEvents: 3 });
    cleanups.push(() => outbox.close());
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => outbox.enqueue(event('x', 'error', { reason: 'boom' }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof OutboxFull)).toBe(true);
    expect(await eventFiles(dir)).toHaveLength(3);
  });
});
