// A media job whose ffmpeg is killed from outside (SIGKILL) is run again with backoff, and the recording or clip is
// still made; each run of a recording is counted in its session folder. A job that fails on its input is not retried,
// and one killed at every run fails after MAX_JOB_RUNS with the reason. Real ffmpeg, real jobs pool; uploads go to a
// loopback stand-in of the edge's /internal/media API that stores what it gets.
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { MediaJobError } from '../../../origin/jobs/job-error.ts';
import { isTransientJobFailure, jobRetryDelay, MAX_JOB_RUNS } from '../../../origin/jobs/job-retry.ts';
import { MediaJobPool } from '../../../origin/jobs/jobs-pool.ts';
import { MediaUploader } from '../../../origin/media-uploader.ts';
import { readFinalizeAttempts, sessionDir, writeManifest } from '../../../origin/ingest/session-manifest.ts';
import { VodPublisher } from '../../../origin/vod/vod-publisher.ts';
import type { OriginEvent } from '../../../shared/schemas/internal.ts';
import { copiedSession, encodeInput } from '../jobs/session-fixture.ts';

let tmp: string;
let input: string;
let pool: MediaJobPool;
let server: Server;
let edgeUrl: string;
const stored = new Set<string>();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'job-retry-'));
  input = path.join(tmp, 'in.ts');
  await encodeInput(input, { seconds: 6 });
  pool = new MediaJobPool({ threads: 1 });
  server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      stored.add(new URL(req.url!, 'http://x').pathname);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await pool?.close();
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function publisher(mediaDir: string) {
  const events: OriginEvent[] = [];
  const vod = new VodPublisher({
    mediaDir,
    workDir: path.join(tmp, 'work'),
    jobs: pool,
    uploader: new MediaUploader(new EdgeClient(edgeUrl, { originId: 'origin-test', secret: 'test-origin-secret-0123456789abcdef' })),
    emit: async (event) => {
      events.push(event);
    },
  });
  return { vod, events };
}

async function recordedSession(mediaDir: string, streamId: string, sessionId: string): Promise<string> {
  const dir = sessionDir(mediaDir, streamId, sessionId);
  await copiedSession(dir, input);
  await writeManifest(dir, { streamId, sessionId, record: true, reconnectWindow: 0, startedAt: new Date().toISOString() });
  return dir;
}

/** ffmpeg processes of this test process whose command line mentions `marker` (children of any of its threads). */
async function ffmpegChildren(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const task of await readdir(`/proc/${process.pid}/task`).catch(() => [])) {
    const children = await readFile(`/proc/${process.pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const pid of children.split(/\s+/).filter(Boolean).map(Number)) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const args = cmdline.split('\0');
      if (/ffmpeg$/.test(args[0] ?? '') && args.some((a) => a.includes(marker))) found.push(pid);
    }
  }
  return found;
}

/**
 * SIGKILLs the job's ffmpeg `times` times (once per run), from outside as an operator or the OOM killer would.
 * Polls every few ms until `deadlineMs`; resolves with the kills done.
 */
async function killJobFfmpeg(marker: string, times: number, deadlineMs: number): Promise<number> {
  const killed = new Set<number>();
  const until = Date.now() + deadlineMs;
  while (killed.size < times && Date.now() < until) {
    for (const pid of await ffmpegChildren(marker)) {
      if (killed.has(pid) || killed.size >= times) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  return killed.size;
}

describe('media job retries', () => {
  it('classifies by the job error code: only an interrupted job is worth another run, a bounded number of times', () => {
    const interrupted = new MediaJobError('interrupted', 'the recording MP4 was interrupted: the process got SIGKILL');
    expect(isTransientJobFailure(interrupted)).toBe(true);
    for (const code of ['ffmpeg-failed', 'no-media', 'invalid-range', 'busy'] as const) expect(isTransientJobFailure(new MediaJobError(code, 'x'))).toBe(false);
    expect(isTransientJobFailure(new Error('ENOSPC'))).toBe(false);
    const waits = Array.from({ length: MAX_JOB_RUNS }, (_, i) => jobRetryDelay(i + 1, interrupted, () => 0.5));
    expect(waits).toEqual([2000, 4000, null]);
  });

  it('builds the recording although its ffmpeg was SIGKILLed once', async () => {
    const mediaDir = path.join(tmp, 'media-once');
    const dir = await recordedSession(mediaDir, 'str_k', 'ses_k');
    const { vod, events } = publisher(mediaDir);
    const killing = killJobFfmpeg('recording.mp4', 1, 30_000);
    await vod.finalizeRecording({ streamId: 'str_k', sessionId: 'ses_k' });
    expect(await killing).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['recording_ready']);
    expect(events[0]!.data).toMatchObject({ mp4Key: 'recordings/str_k/ses_k/recording.mp4' });
    expect((events[0]!.data as { duration: number }).duration).toBeGreaterThan(5);
    expect(stored.has('/internal/media/recordings/str_k/ses_k/recording.mp4')).toBe(true);
    // Both runs counted; the killed one's reason kept until the next run started.
    expect(await readFinalizeAttempts(dir)).toMatchObject({ attempts: 2, lastError: null });
  }, 60_000);

  it('fails the recording with the reason once every run was killed', async () => {
    const mediaDir = path.join(tmp, 'media-always');
    const dir = await recordedSession(mediaDir, 'str_a', 'ses_a');
    const { vod, events } = publisher(mediaDir);
    const killing = killJobFfmpeg('recording.mp4', MAX_JOB_RUNS, 60_000);
    await vod.finalizeRecording({ streamId: 'str_a', sessionId: 'ses_a' });
    expect(await killing).toBe(MAX_JOB_RUNS);
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
    expect(events[0]!.data).toMatchObject({ reason: expect.stringMatching(new RegExp(`interrupted.*SIGKILL.*after ${MAX_JOB_RUNS} runs`)) });
    expect(await readFinalizeAttempts(dir)).toMatchObject({ attempts: MAX_JOB_RUNS, lastError: expect.stringMatching(/SIGKILL/) });
  }, 90_000);

  it('does not retry a recording that fails on its input', async () => {
    const mediaDir = path.join(tmp, 'media-empty');
    const dir = sessionDir(mediaDir, 'str_e', 'ses_e');
    await writeManifest(dir, { streamId: 'str_e', sessionId: 'ses_e', record: true, reconnectWindow: 0, startedAt: new Date().toISOString() });
    const { vod, events } = publisher(mediaDir);
    const started = Date.now();
    await vod.finalizeRecording({ streamId: 'str_e', sessionId: 'ses_e' });
    expect(Date.now() - started).toBeLessThan(1500); // no backoff wait
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
    expect(await readFinalizeAttempts(dir)).toMatchObject({ attempts: 1 });
  });

  it('cuts the clip although its ffmpeg was SIGKILLed once, holding its workspace place meanwhile', async () => {
    const mediaDir = path.join(tmp, 'media-clip');
    await recordedSession(mediaDir, 'str_c', 'ses_c');
    const { vod, events } = publisher(mediaDir);
    const clipId = 'clp_killed';
    const done = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.length > 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const killing = killJobFfmpeg(path.join('clips', clipId), 1, 30_000);
    expect(vod.acceptClip({ clipId, streamId: 'str_c', sessionId: 'ses_c', workspaceId: 'ws_k', startTime: 1, endTime: 4, accurate: false })).toEqual({ ok: true });
    expect(await killing).toBe(1);
    expect(pool.clipsOf('ws_k')).toBe(1); // between runs, the clip still has its place
    await done;
    expect(events.map((e) => e.type)).toEqual(['clip_ready']);
    expect(stored.has(`/internal/media/clips/${clipId}/clip.mp4`)).toBe(true);
    expect(pool.clipsOf('ws_k')).toBe(0);
  }, 60_000);
});
