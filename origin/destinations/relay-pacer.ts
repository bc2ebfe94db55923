// A relayed rendition's tags released at the pace of the wall clock. A rung is read back a whole HLS segment at a time
// (2 s of media in one burst), and a resumed leg's first segment lands right after the repeated keyframes: relayed as
// they come, the target's timeline would run a segment ahead of real time at every join and gain another at every
// encoder drop (a platform sees a stream faster than real time, its buffer and latency grow). Here a tag waits until
// the timeline's wall clock (RelayTimeline.clock) reaches it. Bounded: the timeline's clock never falls more than
// MAX_AHEAD_MS behind what it took, and past MAX_PACED_BYTES the oldest tags go at once. Pure.
import type { MediaTag } from './flv-tags.ts';

/** A tag may leave this much before the clock reaches it (timer granularity), never more. */
export const PACE_LEAD_MS = 200;
/** Safety bound on the held bytes (several seconds of a 1080p source). */
export const MAX_PACED_BYTES = 16 * 1024 * 1024;

export class RelayPacer {
  private queue: MediaTag[] = [];
  private bytes = 0;

  push(tag: MediaTag): void {
    this.queue.push(tag);
    this.bytes += tag.data.length;
  }

  /** The tags due at `clock` (the timeline's clock now), in the order they were taken. */
  due(clock: number): MediaTag[] {
    let n = 0;
    let bytes = this.bytes;
    while (n < this.queue.length && (this.queue[n]!.timestamp <= clock + PACE_LEAD_MS || bytes > MAX_PACED_BYTES)) {
      bytes -= this.queue[n]!.data.length;
      n += 1;
    }
    if (n === 0) return [];
    this.bytes = bytes;
    return this.queue.splice(0, n);
  }

  get heldBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.queue = [];
    this.bytes = 0;
  }
}
