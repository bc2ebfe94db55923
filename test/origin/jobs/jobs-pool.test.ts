// The media jobs pool: jobs run on a worker thread (the .ts worker under vitest's loader); recordings always queue
// and go first, clips are limited per workspace and take turns, and failures come back as MediaJobError.
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
  pool = new MediaJobPool({ threads: 1, clipsPerWorkspace: 2, clipsPerOrigin: 4 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('MediaJobPool', () => {
  it('runs a recording export and a clip on a worker thread', async () => {
    const rec = await pool.exportRecording({ sessionDir: session, outDir: path.join(tmp, 'rec') });
    expect(rec.segments).toBe(3);
    expect(Math.abs(rec.duration - 6)).toBeLessThan(1);
    const c = await pool.runJob({ kind: 'clip', sessionDir: session, startTime: 1, endTime: 4.5, accurate: true, outDir: path.join(tmp, 'clip') });
    expect(c.method).toBe('smart');
    expect(Math.abs(c.duration - 3.5)).toBeLessThan(0.1);
    expect(await decodeErrors(c.mp4Path)).toBe('');
  });

  it('lets one workspace saturate its clips without delaying a recording or starving another workspace', async () => {
    const order: string[] = [];
    const clip = (name: string, workspaceId: string) =>
      pool.clip({ sessionDir: session, startTime: 0, endTime: 2, outDir: path.join(tmp, name) }, workspaceId).then((c) => {
        order.push(name);
        return c;
      });
    const a1 = clip('a1', 'ws_a');
    const a2 = clip('a2', 'ws_a');
    // Workspace A is at its limit: its third clip is refused at once, with a time to come back.
    const refused = pool.admitClip('ws_a');
    expect(refused).toMatchObject({ ok: false, reason: expect.stringMatching(/already has 2 clips/) });
    expect(refused.ok ? 0 : refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    const a3 = await clip('a3', 'ws_a').catch((e: unknown) => e);
    expect(a3).toMatchObject({ code: 'busy' });
    // A recording is never refused, and a clip of workspace B is admitted beside A's.
    const recording = pool.exportRecording({ sessionDir: session, outDir: path.join(tmp, 'rec-busy') }).then((r) => {
      order.push('recording');
      return r;
    });
    const b1 = clip('b1', 'ws_b');
    expect(pool.running).toBe(1);
    expect(pool.waiting).toBe(3);
    expect(pool.clipsOf('ws_a')).toBe(2);
    await Promise.all([a1, a2, recording, b1]);
    // A's running clip finishes, then the recording goes first, then B's turn comes before A's second clip.
    expect(order).toEqual(['a1', 'recording', 'b1', 'a2']);
    expect(pool.running + pool.waiting).toBe(0);
    expect(pool.clipsOf('ws_a')).toBe(0);
    const again = pool.admitClip('ws_a');
    expect(again.ok).toBe(true);
    if (again.ok) again.slot.release();
    expect(pool.clipsOf('ws_a')).toBe(0);
  });

  it("holds a job's lane place for all of its work, the I/O around its thread part too", async () => {
    const order: string[] = [];
    let release!: () => void;
    const fetching = new Promise<void>((resolve) => (release = resolve));
    const recording = pool.recordingLane(async (onThread) => {
      await fetching; // the session's media coming from R2
      const r = await onThread({ kind: 'export', sessionDir: session, outDir: path.join(tmp, 'rec-lane') });
      order.push('recording');
      return r;
    });
    const clip = pool.clip({ sessionDir: session, startTime: 0, endTime: 2, outDir: path.join(tmp, 'lane-clip') }, 'ws_c').then(() => order.push('clip'));
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.running).toBe(1);
    expect(pool.waiting).toBe(1);
    expect(order).toEqual([]);
    release();
    await Promise.all([recording, clip]);
    expect(order).toEqual(['recording', 'clip']);
  });

  it('brings a job failure back as MediaJobError with its code and field', async () => {
    const err = await pool.clip({ sessionDir: session, startTime: 4, endTime: 30, outDir: path.join(tmp, 'bad') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaJobError);
    expect(err).toMatchObject({ code: 'invalid-range', field: 'endTime', message: expect.stringMatching(/beyond the 6 s available/) });
    const none = await pool.exportRecording({ sessionDir: path.join(tmp, 'nowhere'), outDir: path.join(tmp, 'none') }).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'no-media' });
  });
});
