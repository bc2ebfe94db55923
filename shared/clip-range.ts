// What a clip request may ask for: one rule set, used by the edge for its 400s and by the origin's clip job.

export const MAX_CLIP_SECONDS = 300;
export const MIN_CLIP_SECONDS = 0.1;

const fmt = (n: number): string => String(Math.round(n * 1000) / 1000);

export interface ClipRangeInput {
  startTime: number;
  endTime: number;
  /** seconds of media that exist on the session timeline */
  available: number;
  /** longest clip allowed; default MAX_CLIP_SECONDS */
  maxSeconds?: number;
  /** how far past `available` an end may reach; the edge allows for stats that trail the media by a report */
  tolerance?: number;
}

export interface ClipRangeProblem {
  field: 'startTime' | 'endTime';
  message: string;
}

/** Pure: what is wrong with a requested range, or null. Messages are fit for a 400's detail. */
export function validateClipRange(r: ClipRangeInput): ClipRangeProblem | null {
  const max = r.maxSeconds ?? MAX_CLIP_SECONDS;
  if (typeof r.startTime !== 'number' || !Number.isFinite(r.startTime)) return { field: 'startTime', message: 'startTime must be a number of seconds' };
  if (typeof r.endTime !== 'number' || !Number.isFinite(r.endTime)) return { field: 'endTime', message: 'endTime must be a number of seconds' };
  if (r.startTime < 0) return { field: 'startTime', message: 'startTime must not be negative' };
  if (r.endTime <= r.startTime) return { field: 'endTime', message: 'endTime must be after startTime' };
  const available = Math.max(0, r.available);
  if (r.startTime >= available) return { field: 'startTime', message: `startTime ${fmt(r.startTime)} s is beyond the ${fmt(available)} s available` };
  if (r.endTime > available + (r.tolerance ?? 0.001)) return { field: 'endTime', message: `endTime ${fmt(r.endTime)} s is beyond the ${fmt(available)} s available` };
  if (r.endTime - r.startTime > max + 1e-9) return { field: 'endTime', message: `the clip would last ${fmt(r.endTime - r.startTime)} s; the limit is ${fmt(max)} s` };
  if (r.endTime - r.startTime < MIN_CLIP_SECONDS) return { field: 'endTime', message: `the clip must last at least ${MIN_CLIP_SECONDS} s` };
  return null;
}
