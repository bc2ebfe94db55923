// The media jobs pool: jobs run on a worker thread (the .ts worker under vitest's loader), wait in a
// bounded queue rather than being refused, and their failures come back as MediaJobError with code and field.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaJobError } from '../../../origin/jobs/job-error.ts';
import { MediaJobPool } from '../../../origin/jobs/jobs-pool.ts';
import { copiedSession, decodeErrors, encodeInput } from './session-fixture.ts';

let tmp: string;
let session: string;
let pool: MediaJobPool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'jobs-pool-'));
  const input = path.join(tmp, 'in.ts');
  await encodeInput(input, { seconds: 6 });
  session = path.join(tmp, 'session');
  await copiedSession(session, input);
  pool = new MediaJobPool({ threads: 1, maxQueue: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('MediaJobPool', () => {
  it('runs a finalization and a clip on a worker thread', async () => {
    const rec = await pool.finalize({ sessionDir: session, outDir: path.join(tmp, 'rec') });
    expect(rec.segments).toBe(3);
    expect(Math.abs(rec.duration - 6)).toBeLessThan(1);
    const c = await pool.runJob({ kind: 'clip', sessionDir: session, startTime: 1, endTime: 4.5, accurate: true, outDir: path.join(tmp, 'clip') });
    expect(c.method).toBe('smart');
    expect(Math.abs(c.duration - 3.5)).toBeLessThan(0.1);
    expect(await decodeErrors(c.mp4Path)).toBe('');
  });

  it('queues beyond the running job up to maxQueue, then refuses with busy', async () => {
    const job = (i: number) => pool.clip({ sessionDir: session, startTime: 0, endTime: 2, outDir: path.join(tmp, `q${i}`) });
    const first = job(1);
    const second = job(2);
    expect(pool.running).toBe(1);
    expect(pool.waiting).toBe(1);
    const third = await job(3).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(MediaJobError);
    expect(third).toMatchObject({ code: 'busy' });
    const done = await Promise.all([first, second]);
    expect(done.map((c) => c.actualEnd)).toEqual([2, 2]);
    expect(pool.running + pool.waiting).toBe(0);
  });

  it('brings a job failure back as MediaJobError with its code and field', async () => {
    const err = await pool.clip({ sessionDir: session, startTime: 4, endTime: 30, outDir: path.join(tmp, 'bad') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaJobError);
    expect(err).toMatchObject({ code: 'invalid-range', field: 'endTime', message: expect.stringMatching(/beyond the 6 s available/) });
    const none = await pool.finalize({ sessionDir: path.join(tmp, 'nowhere'), outDir: path.join(tmp, 'none') }).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'no-media' });
  });
});
