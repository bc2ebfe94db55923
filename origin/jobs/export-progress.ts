// How far a recording export is (pure): its phases weighed into one 0..1 figure, ffmpeg's `-progress` output read for
// the mux phase, and a throttle so the edge hears at most one recording_progress every interval.

/**
 * Parts of an export, in order, with their share of the whole. Fetching the segments and storing the MP4 move about
 * the same bytes through the edge, and the mux is a copy (bench recording-ready, 600 s: 8.8 s, 4.3 s, 13.3 s).
 */
export const EXPORT_PHASES = { download: 0.4, mux: 0.2, upload: 0.4 } as const;
export type ExportPhase = keyof typeof EXPORT_PHASES;
const ORDER: readonly ExportPhase[] = ['download', 'mux', 'upload'];

/** Pure: the whole export's progress when `phase` is `fraction` done (every earlier phase counted whole). */
export function exportProgress(phase: ExportPhase, fraction: number): number {
  let before = 0;
  for (const p of ORDER) {
    if (p === phase) break;
    before += EXPORT_PHASES[p];
  }
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  return Math.min(1, before + EXPORT_PHASES[phase] * f);
}

/**
 * Pure: the media seconds ffmpeg has written so far, from the text of its `-progress` file (blocks of key=value lines,
 * each ending with progress=continue|end); the last `out_time_us` wins. Undefined before the first block.
 */
export function progressSeconds(text: string): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(/^out_time_us=(-?\d+)\s*$/gm)) {
    const us = Number(m[1]);
    if (Number.isFinite(us) && us >= 0) last = us / 1e6;
  }
  return last;
}

/**
 * Says when a progress figure is worth sending: only forward, at most once per `intervalMs`; the caller sends
 * completion itself (recording_ready), so 1 is never reported here.
 */
export class ProgressThrottle {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastSent = -1;

  constructor(private readonly intervalMs = 2000) {}

  /** The figure to send now (rounded to 0.001), or null. */
  next(progress: number, now: number): number | null {
    const p = Math.min(0.999, Math.max(0, Math.round(progress * 1000) / 1000));
    if (p <= this.lastSent || now - this.lastSentAt < this.intervalMs) return null;
    this.lastSent = p;
    this.lastSentAt = now;
    return p;
  }
}

/**
 * Pure: how far an upload of `bytes` probably is after `elapsedMs`, judged by the rate the same job fetched its
 * segments through the edge (the uploader reports nothing until it is done); never past 0.95, so it never claims done.
 */
export function uploadFraction(bytes: number, elapsedMs: number, fetched: { bytes: number; ms: number }): number {
  if (!(bytes > 0) || !(fetched.bytes > 0) || !(fetched.ms > 0)) return 0;
  const expectedMs = bytes / (fetched.bytes / fetched.ms);
  return Math.min(0.95, Math.max(0, elapsedMs / expectedMs));
}
