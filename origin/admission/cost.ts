// The cost model of live transcoding: what one stream's ladder takes from this origin, in capacity units.
// Pure. One unit is one 1280x720 encode at 30 fps; an encoded rendition costs its pixel rate in that measure and a
// copied one (the encoder's own rendition, segmented only) a small constant. Decoding the source is not counted
// apart: it grows with the same pixel rate, so the calibration (`npm run bench`) folds it into the units it measures.
import { chooseLadder, type Rendition, type SourceInfo } from '../pipeline/ladder.ts';

/** Pixels per second of one unit: 1280x720 at 30 fps. */
export const UNIT_PIXEL_RATE = 1280 * 720 * 30;
/** A copied rendition: demux, segment and write, no decode or encode. */
export const COPIED_RENDITION_COST = 0.05;
/** A simulcast relay (origin/destinations): an ffmpeg copying one rendition to one target, no decode or encode. */
export const RELAY_COST = 0.02;

/** What one rendition of a ladder costs, in units. */
export function renditionCost(rendition: Pick<Rendition, 'copy' | 'width' | 'height' | 'fps' | 'fpsDen'>): number {
  if (rendition.copy) return COPIED_RENDITION_COST;
  const rate = rendition.fpsDen > 0 ? rendition.fps / rendition.fpsDen : rendition.fps;
  if (!(rate > 0) || !(rendition.width > 0) || !(rendition.height > 0)) return 0;
  return (rendition.width * rendition.height * rate) / UNIT_PIXEL_RATE;
}

/** What a whole ladder costs: the sum of its renditions. */
export function ladderCost(renditions: readonly Pick<Rendition, 'copy' | 'width' | 'height' | 'fps' | 'fpsDen'>[]): number {
  let units = 0;
  for (const rendition of renditions) units += renditionCost(rendition);
  return units;
}

/** The ladder cost of a source under the default rungs (no profiles, no cap). */
export function defaultLadderCost(source: SourceInfo): number {
  return ladderCost(chooseLadder(source));
}

/**
 * What a publisher is assumed to cost before its encoder has said what it sends (onMetaData, the first SPS): the
 * default ladder of a 720p30 source, the most common encoder setting. Its real cost replaces it once known.
 */
export const TENTATIVE_STREAM_COST = defaultLadderCost({ width: 1280, height: 720, fps: 30 });

/** Units rounded for reports (logs, heartbeat, metrics): three decimals are far finer than the model. */
export function roundUnits(units: number): number {
  return Math.round(units * 1000) / 1000;
}
