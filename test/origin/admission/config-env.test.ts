// Admission settings from the environment: ORIGIN_CAPACITY_UNITS over the calibration file over the cores,
// OVER_CAPACITY, the stream cap (MAX_LIVE_STREAMS, or the deprecated TRANSCODE_CAPACITY) and DRAIN_TIMEOUT_SECONDS.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../../origin/config.ts';
import { UNITS_PER_CORE } from '../../../origin/admission/calibration.ts';

const base = { EDGE_URL: 'http://127.0.0.1:8787', ORIGIN_ID: 'origin-a', ORIGIN_SECRET: 'e2e-origin-secret-0123456789abcdef' };
let dir = '';
let calibrationFile = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-admission-config-'));
  calibrationFile = path.join(dir, 'capacity.json');
  const cores = os.availableParallelism();
  await writeFile(calibrationFile, JSON.stringify({ units: 2.235, measuredAt: new Date().toISOString(), cores, streams: 3, ladder: ['source:1280x720:copy', '480p:854x480', '360p:640x360'], ladderUnits: 0.745 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('admission config', () => {
  it('reads the calibration file unless ORIGIN_CAPACITY_UNITS overrides it; without either, cores × 1.5', () => {
    expect(configFromEnv({ ...base, CAPACITY_FILE: calibrationFile }).admission).toMatchObject({ units: 2.235, source: 'calibration', overCapacity: 'source-only' });
    expect(configFromEnv({ ...base, CAPACITY_FILE: calibrationFile, ORIGIN_CAPACITY_UNITS: '0.5' }).admission).toMatchObject({ units: 0.5, source: 'env' });
    expect(configFromEnv({ ...base, CAPACITY_FILE: path.join(dir, 'none.json') }).admission).toMatchObject({ units: os.availableParallelism() * UNITS_PER_CORE, source: 'cores' });
  });

  it('caps live streams by MAX_LIVE_STREAMS, or the deprecated TRANSCODE_CAPACITY, else as many copies as fit', () => {
    expect(configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '1', MAX_LIVE_STREAMS: '3', TRANSCODE_CAPACITY: '9' }).capacity).toBe(3);
    expect(configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '1', TRANSCODE_CAPACITY: '2' }).capacity).toBe(2);
    expect(configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '1' }).capacity).toBe(20);
  });

  it('takes OVER_CAPACITY=refuse and DRAIN_TIMEOUT_SECONDS, and refuses nonsense', () => {
    const config = configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '3', OVER_CAPACITY: 'refuse', DRAIN_TIMEOUT_SECONDS: '5' });
    expect(config.admission.overCapacity).toBe('refuse');
    expect(config.drainTimeoutMs).toBe(5000);
    expect(configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '3' }).drainTimeoutMs).toBe(600_000);
    expect(() => configFromEnv({ ...base, OVER_CAPACITY: 'queue' })).toThrow(/OVER_CAPACITY must be source-only or refuse/);
    expect(() => configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: '0' })).toThrow(/ORIGIN_CAPACITY_UNITS must be a positive number/);
    expect(() => configFromEnv({ ...base, ORIGIN_CAPACITY_UNITS: 'lots' })).toThrow(/ORIGIN_CAPACITY_UNITS/);
  });
});
