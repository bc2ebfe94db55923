// The latency mode's one rule (issue 15): it is fixed while the stream is live. The origin packages a session in the
// mode the authorize answer named (LL-HLS parts or MPEG-TS), so a change mid-broadcast could not take effect; it is
// refused (409 stream-live, naming the field) instead of silently waiting for the next broadcast.
import type { LatencyMode } from '../../shared/schemas/live-stream.ts';
import { isLive, type LifecycleState } from '../lifecycle.ts';

/** A refused change: the API field at fault and why. */
export interface LatencyModeLocked {
  field: string;
  detail: string;
}

/** The problem type the API answers a locked change with (edge/streams.ts, edge/routes/live-events.ts). */
export const STREAM_LIVE_PROBLEM = 'stream-live';

/**
 * Null when `wanted` may be stored now: nothing asked, the same mode as now, or the stream is not live. `field` is
 * how the caller's API names it (`latencyMode` on streams, `ullEnabled` on events).
 */
export function latencyModeLock(
  lifecycle: LifecycleState,
  current: LatencyMode | undefined,
  wanted: LatencyMode | undefined,
  field: string,
): LatencyModeLocked | null {
  if (wanted === undefined || wanted === (current ?? 'standard') || !isLive(lifecycle)) return null;
  return {
    field,
    detail: `${field}: the stream is ${lifecycle.status}; the latency mode can change only while it is not live (it applies from the next broadcast)`,
  };
}
