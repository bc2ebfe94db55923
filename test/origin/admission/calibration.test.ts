// Where the capacity comes from: the override, else a calibration file measured on this machine shape, else cores.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UNITS_PER_CORE, readCalibration, resolveCapacity, type CapacityCalibration } from '../../../origin/admission/calibration.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const measured: CapacityCalibration = { units: 2.979, measuredAt: '2026-11-28T10:00:00.000Z', cores: 2, streams: 4, ladder: ['source:1280x720:copy', '480p:854x480', '360p:640x360'], ladderUnits: 0.745 };

describe('capacity resolution', () => {
  it('the override wins, then a calibration from a machine with as many cores, then cores × 1.5', () => {
    expect(resolveCapacity({ override: 7, calibration: measured, cores: 2 })).toEqual({ units: 7, source: 'env' });
    expect(resolveCapacity({ override: null, calibration: measured, cores: 2 })).toEqual({ units: 2.979, source: 'calibration' });
    expect(resolveCapacity({ override: null, calibration: measured, cores: 8 })).toEqual({ units: 8 * UNITS_PER_CORE, source: 'cores', ignoredCalibration: 'measured on 2 cores, this machine has 8' });
    expect(resolveCapacity({ override: null, calibration: null, cores: 2 })).toEqual({ units: 3, source: 'cores' });
  });

  it('reads the file the benchmark writes; a missing file is no problem, a broken one is named', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-calibration-'));
    dirs.push(dir);
    expect(readCalibration(path.join(dir, 'missing.json'))).toEqual({ calibration: null });
    await writeFile(path.join(dir, 'capacity.json'), JSON.stringify(measured));
    expect(readCalibration(path.join(dir, 'capacity.json'))).toEqual({ calibration: measured });
    await writeFile(path.join(dir, 'broken.json'), '{"units": -1}');
    const broken = readCalibration(path.join(dir, 'broken.json'));
    expect(broken.calibration).toBeNull();
    expect(broken.problem).toMatch(/^not a capacity calibration/);
    const resolved = resolveCapacity({ override: null, calibration: null, calibrationProblem: broken.problem!, cores: 2 });
    expect(resolved).toMatchObject({ units: 3, source: 'cores', ignoredCalibration: broken.problem });
  });
});
