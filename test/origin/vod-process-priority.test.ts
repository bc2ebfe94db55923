// VOD jobs never take what recordings, clips and live transcodes need (issue 13): with a real library-video encode
// running on the VOD thread, a recording export and a clip submitted meanwhile start at once on their own thread (their
// wait measured), and the VOD ffmpeg runs at the VOD nice value with bounded threads while this thread keeps its own.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaJobPool } from '../../origin/jobs/jobs-pool.ts';
import type { ProcessedVideo } from '../../origin/vod/process-video.ts';
import { VOD_NICENESS, vodEncodeThreads } from '../../origin/vod/vod-priority.ts';
import { copiedSession, encodeInput } from './jobs/session-fixture.ts';

let tmp: string;
let source: string;
let session: string;
let pool: MediaJobPool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vod-priority-'));
  // 720p, 12 s: a ladder of three rungs whose encode (niced, bounded threads) takes far longer than an export and a clip.
  source = path.join(tmp, 'upload.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '12', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', source]);
  const input = path.join(tmp, 'in.ts');
  await encodeInput(input, { seconds: 6 });
  session = path.join(tmp, 'session');
  await copiedSession(session, input);
  pool = new MediaJobPool({ threads: 1, vodThreads: 1, vodPerOrigin: 1 });
}, 120_000);

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Processes whose command line holds `needle` (Linux /proc): pid and argv. */
async function processesWith(needle: string): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, 'utf8').then((t) => t.split('\0').filter(Boolean), () => [] as string[]);
    if (argv.some((a) => a.includes(needle))) found.push({ pid: Number(name), argv });
  }
  return found;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('vodEncodeThreads (pure)', () => {
  it('gives one VOD encode half the cores, shared among the VOD threads, at least one', () => {
    expect(vodEncodeThreads(2, 1)).toBe(1);
    expect(vodEncodeThreads(8, 1)).toBe(4);
    expect(vodEncodeThreads(8, 2)).toBe(2);
    expect(vodEncodeThreads(16, 3)).toBe(2);
    expect(vodEncodeThreads(1, 1)).toBe(1);
    expect(vodEncodeThreads(4, 8)).toBe(1);
  });
});

describe.skipIf(process.platform !== 'linux')('the VOD lane beside recordings and clips (real ffmpeg)', () => {
  it('a recording export and a clip submitted while a VOD encode runs start at once; the VOD ffmpeg runs niced with bounded threads', async () => {
    const vodStarted = Date.now();
    let vodEnded = 0;
    const vod = pool
      .vodLane((onThread) => onThread({ kind: 'vod', sourceFile: source, outDir: path.join(tmp, 'vod-out'), progressFile: path.join(tmp, 'vod-progress.txt') }))
      .then((done: ProcessedVideo) => {
        vodEnded = Date.now();
        return done;
      });

    // The ladder encode is running: its ffmpeg is there and has written output time.
    const encoder = await until('the VOD encode', async () => (await processesWith(source)).find((p) => p.argv.includes('-filter_complex')), 60_000);
    await until('encode progress', async () => (/out_time_us=[1-9]/.test(await readFile(path.join(tmp, 'vod-progress.txt'), 'utf8').catch(() => '')) ? true : undefined), 30_000);
    // Born at the VOD priority (the thread that spawned it is lowered), with half the cores at most for its threads.
    expect(os.getPriority(encoder.pid)).toBe(VOD_NICENESS);
    const threads = String(vodEncodeThreads(os.availableParallelism(), 1));
    expect(encoder.argv.filter((a, i) => a === '-threads' && encoder.argv[i + 1] === threads)).toHaveLength(2);
    expect(encoder.argv[encoder.argv.indexOf('-filter_complex_threads') + 1]).toBe(threads);
    // Only the VOD thread got lowered: this thread and the process keep their priority.
    expect(os.getPriority(0)).toBe(0);
    expect(os.getPriority(process.pid)).toBe(0);
    expect(pool.vodRunning).toBe(1);

    // A recording export arrives meanwhile: its lane place and its thread are free at once.
    const recSubmitted = Date.now();
    let recStarted = 0;
    let recPriority: number | undefined;
    const recording = await pool.recordingLane(async (onThread) => {
      recStarted = Date.now();
      const run = onThread({ kind: 'export', sessionDir: session, outDir: path.join(tmp, 'rec-out') });
      // The export's ffmpeg (if still there to see) runs at normal priority: the recordings thread was never lowered.
      const seen = (await processesWith(session))[0];
      try {
        if (seen) recPriority = os.getPriority(seen.pid);
      } catch {
        // it ended meanwhile
      }
      return run;
    });
    const recDone = Date.now();
    expect(recording.segments).toBe(3);
    expect(vodEnded).toBe(0); // the VOD encode still runs: the recording did not wait for it
    expect(pool.vodRunning).toBe(1);

    // A clip too, through its own admission as the control route takes it.
    const clipSubmitted = Date.now();
    let clipStarted = 0;
    const admission = pool.admitClip('ws_a');
    if (!admission.ok) throw new Error(`clip refused: ${admission.reason}`);
    const clip = await admission.slot.run(async (onThread) => {
      clipStarted = Date.now();
      return onThread({ kind: 'clip', sessionDir: session, startTime: 1, endTime: 3, accurate: true, outDir: path.join(tmp, 'clip-out') });
    });
    const clipDone = Date.now();
    expect(Math.abs(clip.duration - 2)).toBeLessThan(0.1);
    expect(vodEnded).toBe(0);

    const recWaitMs = recStarted - recSubmitted;
    const clipWaitMs = clipStarted - clipSubmitted;
    const done = await vod;
    const figures = {
      recordingWaitMs: recWaitMs,
      recordingTotalMs: recDone - recSubmitted,
      clipWaitMs,
      clipTotalMs: clipDone - clipSubmitted,
      vodEncodeMs: vodEnded - vodStarted,
      vodLeftWhenRecordingArrivedMs: vodEnded - recSubmitted,
      recordingFfmpegPriority: recPriority ?? 'not seen (finished first)',
      vodFfmpegPriority: VOD_NICENESS,
      cores: os.availableParallelism(),
    };
    console.log(JSON.stringify({ vod_priority_figures: figures }));
    expect(recWaitMs).toBeLessThan(250);
    expect(clipWaitMs).toBeLessThan(250);
    if (recPriority !== undefined) expect(recPriority).toBe(0);
    // Under the old single thread the recording would have waited for the rest of the encode: it was seconds away.
    expect(vodEnded - recDone).toBeGreaterThan(0);
    expect(done.renditions.map((r) => r.name)).toEqual(['720p', '480p', '360p']);
  }, 300_000);

  it('the recordings thread refuses a VOD job, and the VOD thread anything else', async () => {
    const onRecordingThread = await pool.recordingLane((onThread) => onThread({ kind: 'vod', sourceFile: source, outDir: path.join(tmp, 'wrong') })).catch((e: unknown) => e);
    expect(String(onRecordingThread)).toMatch(/VOD job runs in the VOD lane only/);
    const onVodThread = await pool.vodLane((onThread) => onThread({ kind: 'export', sessionDir: session, outDir: path.join(tmp, 'wrong2') })).catch((e: unknown) => e);
    expect(String(onVodThread)).toMatch(/export job does not run on the VOD threads/);
    expect(pool.vodJobs).toBe(0);
  });
});
