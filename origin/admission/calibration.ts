// This origin's capacity in units: ORIGIN_CAPACITY_UNITS when set, else what `npm run bench` measured on this machine
// (the calibration file scripts/bench/transcode-capacity.ts writes), else a guess from the core count.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Where `npm run bench` leaves its measure, relative to the working directory (the repository root). */
export const CALIBRATION_FILE = '.state/bench/capacity.json';
/** Without a measure: units per core. The benchmark saw 4 concurrent 720p30 ladders (~3 units) on 2 cores. */
export const UNITS_PER_CORE = 1.5;

export const CapacityCalibrationSchema = z.object({
  /** the measured capacity: streams sustained in real time × the cost of each one's ladder */
  units: z.number().positive().finite(),
  measuredAt: z.string(),
  /** cores of the machine it was measured on; a file from another machine shape is not trusted */
  cores: z.number().int().positive(),
  /** concurrent broadcasts the origin kept in real time */
  streams: z.number().int().nonnegative(),
  /** the ladder each of them ran, e.g. ["source:1280x720:copy", "480p:854x480"] */
  ladder: z.array(z.string()).max(32),
  /** units of that ladder */
  ladderUnits: z.number().nonnegative().finite(),
});
export type CapacityCalibration = z.infer<typeof CapacityCalibrationSchema>;

export type CapacitySource = 'env' | 'calibration' | 'cores';

export interface ResolvedCapacity {
  units: number;
  source: CapacitySource;
  /** why a calibration file present was not used */
  ignoredCalibration?: string;
}

/** Reads the calibration file; null when it is missing, with the reason when it is unusable. */
export function readCalibration(file: string): { calibration: CapacityCalibration | null; problem?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { calibration: null };
  }
  try {
    const parsed = CapacityCalibrationSchema.safeParse(JSON.parse(text));
    if (!parsed.success) return { calibration: null, problem: `not a capacity calibration: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
    return { calibration: parsed.data };
  } catch (error) {
    return { calibration: null, problem: `unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Pure: the override wins, then a calibration measured on a machine with as many cores, then the core count. */
export function resolveCapacity(input: {
  override: number | null;
  calibration: CapacityCalibration | null;
  calibrationProblem?: string;
  cores: number;
}): ResolvedCapacity {
  if (input.override !== null) return { units: input.override, source: 'env' };
  const fallback = { units: Math.max(1, input.cores) * UNITS_PER_CORE, source: 'cores' as const };
  if (input.calibrationProblem) return { ...fallback, ignoredCalibration: input.calibrationProblem };
  const calibration = input.calibration;
  if (!calibration) return fallback;
  if (calibration.cores !== input.cores) {
    return { ...fallback, ignoredCalibration: `measured on ${calibration.cores} cores, this machine has ${input.cores}` };
  }
  if (calibration.streams === 0) return { ...fallback, ignoredCalibration: 'the benchmark sustained no stream' };
  return { units: calibration.units, source: 'calibration' };
}
