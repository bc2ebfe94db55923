import { describe, it, expect } from 'vitest';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EventOutbox, type EventSink } from '../../origin/event-outbox.ts';
import type { OriginEvent, OriginEventOutcome } from '../../shared/schemas/internal.ts';

let counter = 0;
const event = (streamId: string): OriginEvent => ({
  id: `evt_${++counter}_${Date.now()}`,
  streamId,
  sessionId: 'ses_1',
  type: 'publish_done',
  at: new Date().toISOString(),
  data: { reason: 'eof' },
});

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

describe('EventOutbox', () => {
  it('delivers in order after the edge comes back, and empties its folder', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outbox-'));
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

  it('keeps events on disk across a restart and sends them on reopening', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outbox-'));
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
