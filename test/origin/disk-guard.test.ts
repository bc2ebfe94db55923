// The media disk's guard: the pure state rule with hysteresis, ENOSPC recognition, and statfs on a real small tmpfs
// (mount needs root; skipped with the reason where it is not allowed).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskGuard, diskLimitsFromEnv, diskStateOf, isDiskFullError } from '../../origin/disk-guard.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const limits = { minFreeBytes: 100 * MiB, floorBytes: 20 * MiB };

describe('diskStateOf', () => {
  it('is low under the minimum, full under the floor', () => {
    expect(diskStateOf(500 * MiB, limits, 'ok')).toBe('ok');
    expect(diskStateOf(99 * MiB, limits, 'ok')).toBe('low');
    expect(diskStateOf(19 * MiB, limits, 'ok')).toBe('full');
  });

  it('needs 10 % more than a threshold to leave its state, so it does not flap', () => {
    expect(diskStateOf(105 * MiB, limits, 'low')).toBe('low');
    expect(diskStateOf(111 * MiB, limits, 'low')).toBe('ok');
    expect(diskStateOf(21 * MiB, limits, 'full')).toBe('full');
    expect(diskStateOf(23 * MiB, limits, 'full')).toBe('low');
  });

  it('reads its limits in MiB from the environment', () => {
    expect(diskLimitsFromEnv({ MEDIA_MIN_FREE_MB: '6', MEDIA_FLOOR_MB: '2' })).toEqual({ minFreeBytes: 6 * MiB, floorBytes: 2 * MiB });
    expect(diskLimitsFromEnv({})).toEqual({ minFreeBytes: 512 * MiB, floorBytes: 128 * MiB });
    expect(() => diskLimitsFromEnv({ MEDIA_MIN_FREE_MB: '2', MEDIA_FLOOR_MB: '6' })).toThrow(/must not exceed/);
    expect(() => diskLimitsFromEnv({ MEDIA_MIN_FREE_MB: 'lots' })).toThrow(/MEDIA_MIN_FREE_MB/);
  });

  it('recognises a full disk in errors', () => {
    expect(isDiskFullError(Object.assign(new Error('write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFullError(new Error('av_interleaved_write_frame(): No space left on device'))).toBe(true);
    expect(isDiskFullError(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe(false);
  });
});

describe('DiskGuard on a real 8 MiB tmpfs', () => {
  let dir = '';
  let mounted = false;
  let skipReason: string | null = null;

  beforeAll(async () => {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'disk-guard-')), 'media');
    await mkdir(dir);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
      mounted = true;
    } catch (error) {
      skipReason = `cannot mount a tmpfs here (needs root): ${String(error)}`;
    }
  });

  afterAll(async () => {
    if (mounted) await run('umount', ['-l', dir]).catch(() => undefined);
    if (dir) await rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('refuses below the minimum, calls onFull under the floor or on ENOSPC, and recovers when space returns', async (context) => {
    if (skipReason) return context.skip(skipReason);
    const full: string[] = [];
    const guard = new DiskGuard({ dir, limits: { minFreeBytes: 4 * MiB, floorBytes: 1 * MiB }, intervalMs: 60_000, onFull: (r) => full.push(r) });
    await guard.start();
    try {
      expect(guard.state).toBe('ok');
      expect(guard.refusal()).toBeNull();
      await writeFile(path.join(dir, 'a.bin'), Buffer.alloc(5 * MiB));
      await guard.measure();
      expect(guard.state).toBe('low');
      expect(guard.refusal()).toMatch(/^origin disk full: [23] MiB free, under the 4 MiB minimum$/);
      expect(full).toEqual([]);
      // Fill to the last byte: the write itself fails with ENOSPC.
      const error = await writeFile(path.join(dir, 'b.bin'), Buffer.alloc(4 * MiB)).catch((e: unknown) => e);
      expect(isDiskFullError(error)).toBe(true);
      await guard.measure();
      expect(guard.state).toBe('full');
      expect(full).toHaveLength(1);
      await rm(path.join(dir, 'b.bin'));
      await rm(path.join(dir, 'a.bin'));
      await guard.measure();
      expect(guard.state).toBe('ok');
      guard.reportDiskFull('a segment write');
      expect(guard.state).toBe('full');
      expect(full).toEqual(['origin disk full', 'origin disk full (a segment write)']);
    } finally {
      guard.stop();
    }
  });
});
