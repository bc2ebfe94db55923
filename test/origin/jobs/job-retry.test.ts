// A media job whose ffmpeg is killed from outside (SIGKILL) is run again with backoff, and the recording or clip is
// still made from the session's durable media. A job that fails on its input is not retried, and one killed at every
// run fails after MAX_JOB_RUNS with the reason. Real ffmpeg, real jobs pool; storage is a loopback stand-in of the
// edge's /internal/media API (media-store-fixture.ts).
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { DurableJobs } from '../../../origin/jobs/durable-jobs.ts';
import { MediaJobError } from '../../../origin/jobs/job-error.ts';
import { isTransientJobFailure, jobRetryDelay, MAX_JOB_RUNS } from '../../../origin/jobs/job-retry.ts';
import { MediaJobPool } from '../../../origin/jobs/jobs-pool.ts';
import { MediaUploader } from '../../../origin/media-uploader.ts';
import { issueMediaGrant } from '../../../shared/media-grant.ts';
import type { ExportRecordingCommand, OriginEvent } from '../../../shared/schemas/internal.ts';
import { copiedSession, encodeInput } from './session-fixture.ts';
import { startMediaStore, storeSession, STORE_MASTER, type MediaStore } from './media-store-fixture.ts';

const ORIGIN_ID = 'origin-retry';
let tmp: string;
let pool: MediaJobPool;
let store: MediaStore;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'job-retry-'));
  const input = path.join(tmp, 'in.ts');
  await encodeInput(input, { seconds: 6 });
  store = await startMediaStore(path.join(tmp, 'bucket'));
  const local = path.join(tmp, 'session');
  await copiedSession(local, input);
  for (const id of ['k', 'a', 'c']) await storeSession(store, `live/str_${id}/ses_${id}`, local);
  pool = new MediaJobPool({ threads: 1 });
});

afterAll(async () => {
  await pool?.close();
  await store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function runner() {
  const events: OriginEvent[] = [];
  const edge = new EdgeClient(store.url, { originId: ORIGIN_ID, secret: 'test-origin-secret-0123456789abcdef' });
  const uploader = new MediaUploader(edge);
  const jobs = new DurableJobs({
    workDir: path.join(tmp, 'work'),
    pool,
    media: (grant) => ({ read: (key) => edge.getMedia(key, grant), uploadFile: (key, file) => uploader.uploadFile(key, file, grant) }),
    emit: async (event) => {
      if (event.type !== 'recording_progress') events.push(event);
    },
  });
  return { jobs, events };
}

async function exportCommand(id: string): Promise<ExportRecordingCommand> {
  const durablePrefix = `live/str_${id}/ses_${id}`;
  const outputPrefix = `recordings/rec_${id}`;
  const mediaGrant = await issueMediaGrant(STORE_MASTER, { originId: ORIGIN_ID, prefixes: [durablePrefix, outputPrefix], expiresAt: Date.now() + 3_600_000 });
  return { recordingId: `rec_${id}`, streamId: `str_${id}`, sessionId: `ses_${id}`, durablePrefix, outputPrefix, mediaGrant };
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
  it('classifies by the job error code: only an interrupted job or unreadable storage is worth another run, a bounded number of times', () => {
    const interrupted = new MediaJobError('interrupted', 'the recording MP4 was interrupted: the process got SIGKILL');
    expect(isTransientJobFailure(interrupted)).toBe(true);
    expect(isTransientJobFailure(new MediaJobError('storage-unavailable', 'x'))).toBe(true);
    for (const code of ['ffmpeg-failed', 'no-media', 'invalid-range', 'busy', 'disk-full'] as const) expect(isTransientJobFailure(new MediaJobError(code, 'x'))).toBe(false);
    expect(isTransientJobFailure(new Error('ENOSPC'))).toBe(false);
    const waits = Array.from({ length: MAX_JOB_RUNS }, (_, i) => jobRetryDelay(i + 1, interrupted, () => 0.5));
    expect(waits).toEqual([2000, 4000, null]);
  });

  it('builds the recording although its ffmpeg was SIGKILLed once', async () => {
    const { jobs, events } = runner();
    const killing = killJobFfmpeg('recording.mp4', 1, 30_000);
    await jobs.exportRecording(await exportCommand('k'));
    expect(await killing).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['recording_ready']);
    expect(events[0]!.data).toMatchObject({ mp4Key: 'recordings/rec_k/recording.mp4', hlsPrefix: 'live/str_k/ses_k' });
    expect((events[0]!.data as { duration: number }).duration).toBeGreaterThan(5);
    expect(store.writes).toContain('recordings/rec_k/recording.mp4');
  }, 60_000);

  it('fails the recording with the reason once every run was killed', async () => {
    const { jobs, events } = runner();
    const killing = killJobFfmpeg('recording.mp4', MAX_JOB_RUNS, 60_000);
    await jobs.exportRecording(await exportCommand('a'));
    expect(await killing).toBe(MAX_JOB_RUNS);
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
    expect(events[0]!.data).toMatchObject({ reason: expect.stringMatching(new RegExp(`interrupted.*SIGKILL.*after ${MAX_JOB_RUNS} runs`)) });
  }, 90_000);

  it('does not retry a recording that fails on its input', async () => {
    const { jobs, events } = runner();
    const started = Date.now();
    await jobs.exportRecording(await exportCommand('e')); // nothing stored under live/str_e/ses_e
    expect(Date.now() - started).toBeLessThan(1500); // no backoff wait
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
  });

  it('cuts the clip although its ffmpeg was SIGKILLed once, holding its workspace place meanwhile', async () => {
    const { jobs, events } = runner();
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
    const mediaGrant = await issueMediaGrant(STORE_MASTER, { originId: ORIGIN_ID, prefixes: ['live/str_c/ses_c', `clips/${clipId}`], expiresAt: Date.now() + 3_600_000 });
    expect(jobs.acceptClip({ clipId, streamId: 'str_c', sessionId: 'ses_c', workspaceId: 'ws_k', startTime: 1, endTime: 4, accurate: false, durablePrefix: 'live/str_c/ses_c', mediaGrant })).toEqual({ ok: true });
    expect(await killing).toBe(1);
    expect(pool.clipsOf('ws_k')).toBe(1); // between runs, the clip still has its place
    await done;
    expect(events.map((e) => e.type)).toEqual(['clip_ready']);
    expect(store.writes).toContain(`clips/${clipId}/clip.mp4`);
    expect(pool.clipsOf('ws_k')).toBe(0);
  }, 60_000);
});
