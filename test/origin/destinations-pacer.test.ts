// Relayed media at the wall clock's pace: a rung's segment read in one burst, and a leg resumed after the repeated
// keyframes, reach the targets no faster than real time; the held media is bounded.
import { describe, expect, it } from 'vitest';
import { MAX_AHEAD_MS, RelayTimeline } from '../../origin/destinations/relay-timeline.ts';
import { MAX_PACED_BYTES, PACE_LEAD_MS, RelayPacer } from '../../origin/destinations/relay-pacer.ts';
import type { MediaTag } from '../../origin/destinations/flv-tags.ts';

const key = (ts: number): MediaTag => ({ type: 9, timestamp: ts, data: Buffer.from([0x17, 1, 0, 0, 0x21, 9, 9, 9]) });
const inter = (ts: number): MediaTag => ({ type: 9, timestamp: ts, data: Buffer.from([0x27, 1, 0, 0, 0x21, 8]) });

/** A 2 s segment at 25 fps, as a rung reader gives it: all at once. */
const segment = (from: number): MediaTag[] => Array.from({ length: 50 }, (_, i) => (i === 0 ? key(from) : inter(from + i * 40)));

/** Runs a feed tick by tick (100 ms) and returns, per release, how far the released media ran ahead of the wall clock. */
function lead(timeline: RelayTimeline, pacer: RelayPacer, released: MediaTag[], now: number, startedAt: number): number {
  for (const tag of pacer.due(timeline.clock(now))) released.push(tag);
  return released.length ? released.at(-1)!.timestamp - (now - startedAt) : 0;
}

describe('relay pacing', () => {
  it('a segment read at once leaves at real time, and an encoder drop filled then resumed adds no lead', () => {
    const t = new RelayTimeline();
    const pacer = new RelayPacer();
    const released: MediaTag[] = [];
    let worst = 0;
    // Segments arrive every 2 s, each 2 s of media at once; the encoder drops at 10 s and is back (a new leg's first
    // segment, timestamps from 0 again) at 17 s.
    for (let now = 0; now <= 30_000; now += 100) {
      if (now % 2000 === 0 && (now < 10_000 || now >= 17_000)) {
        if (now === 17_000) t.startLeg();
        for (const tag of segment(now < 10_000 ? now : now - 17_000)) for (const out of t.take(tag, now)) pacer.push(out);
      }
      if (now === 10_000) t.endLeg();
      for (const fill of t.fill(now)) pacer.push(fill);
      worst = Math.max(worst, lead(t, pacer, released, now, 0));
    }
    expect(worst).toBeLessThanOrEqual(PACE_LEAD_MS);
    // Nothing was lost either: the released timeline followed the clock through the drop (filled at 2 fps).
    const last = released.at(-1)!.timestamp;
    expect(last).toBeGreaterThan(30_000 - 2000);
    const gaps = released.slice(1).map((tag, i) => tag.timestamp - released[i]!.timestamp);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1500);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
  });

  it('input running ahead of real time moves the clock on rather than holding it without bound', () => {
    const t = new RelayTimeline();
    const pacer = new RelayPacer();
    // 20 s of media arrive within 1 s.
    for (let i = 0; i < 500; i++) for (const out of t.take(i % 50 === 0 ? key(i * 40) : inter(i * 40), i * 2)) pacer.push(out);
    const held = 500 - pacer.due(t.clock(1000)).length;
    expect(t.clock(1000)).toBeGreaterThanOrEqual(20_000 - 40 - MAX_AHEAD_MS);
    expect(held * 40).toBeLessThanOrEqual(MAX_AHEAD_MS);
  });

  it('past its byte bound the pacer lets the oldest go', () => {
    const pacer = new RelayPacer();
    const big = (ts: number): MediaTag => ({ type: 9, timestamp: ts, data: Buffer.alloc(1024 * 1024) });
    for (let i = 0; i < 20; i++) pacer.push(big(10_000 + i));
    expect(pacer.due(0)).toHaveLength(20 - MAX_PACED_BYTES / (1024 * 1024));
    expect(pacer.heldBytes).toBeLessThanOrEqual(MAX_PACED_BYTES);
  });
});
