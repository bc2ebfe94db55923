// A recording build that keeps failing is not redone at every start: each build is counted in the session's folder
// before it starts, the edge is told every failure with its reason, startup recovery skips a session that failed
// MAX_FINALIZE_ATTEMPTS times, and on a full disk (a real tmpfs) no build starts at all.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { MediaJobPool } from '../../../origin/jobs/jobs-pool.ts';
import { MediaUploader } from '../../../origin/media-uploader.ts';
import { VodPublisher, type MediaJobRunner } from '../../../origin/vod/vod-publisher.ts';
import { MAX_FINALIZE_ATTEMPTS, readFinalizeAttempts, sessionDir, unfinishedRecordings, writeManifest } from '../../../origin/ingest/session-manifest.ts';
import type { OriginEvent } from '../../../shared/schemas/internal.ts';

const run = promisify(execFile);
let tmp: string;
let pool: MediaJobPool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'recording-attempts-'));
  pool = new MediaJobPool({ threads: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function publisher(mediaDir: string) {
  const events: OriginEvent[] = [];
  let builds = 0;
  const jobs: MediaJobRunner = {
    finalize: (job) => {
      builds++;
      return pool.finalize(job);
    },
    admitClip: (workspaceId) => pool.admitClip(workspaceId),
  };
  const vod = new VodPublisher({
    mediaDir,
    workDir: path.join(tmp, 'work'),
    jobs,
    // Never reached: these sessions fail before anything is uploaded.
    uploader: new MediaUploader(new EdgeClient('http://127.0.0.1:9', { originId: 'origin-test', secret: 'test-origin-secret-0123456789abcdef' })),
    emit: async (event) => {
      events.push(event);
    },
  });
  return { vod, events, builds: () => builds };
}

const manifest = (streamId: string, sessionId: string) => ({ streamId, sessionId, record: true, reconnectWindow: 0, startedAt: new Date().toISOString() });

describe('recording build attempts', () => {
  it('counts each build, reports each failure, and leaves the session out of recovery after the last attempt', async () => {
    const mediaDir = path.join(tmp, 'media');
    const dir = sessionDir(mediaDir, 'str_a', 'ses_a');
    await writeManifest(dir, manifest('str_a', 'ses_a')); // a recorded session with no media: every build fails
    const { vod, events, builds } = publisher(mediaDir);
    for (let i = 1; i <= MAX_FINALIZE_ATTEMPTS; i++) {
      expect((await unfinishedRecordings(mediaDir)).map((m) => m.sessionId)).toEqual(['ses_a']);
      await vod.finalizeRecording({ streamId: 'str_a', sessionId: 'ses_a' });
      expect(await readFinalizeAttempts(dir)).toMatchObject({ attempts: i, lastError: expect.stringMatching(/playable|segment|media/i) });
    }
    expect(builds()).toBe(MAX_FINALIZE_ATTEMPTS);
    expect(events.map((e) => e.type)).toEqual(Array(MAX_FINALIZE_ATTEMPTS).fill('recording_failed'));
    // A restart now would not build it again.
    expect(await unfinishedRecordings(mediaDir)).toEqual([]);
  });

  it('starts no build on a full disk, and says why', async (context) => {
    const mediaDir = path.join(tmp, 'full');
    await mkdir(mediaDir);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mediaDir]);
    } catch (error) {
      return context.skip(`cannot mount a tmpfs here (needs root): ${String(error)}`);
    }
    try {
      const dir = sessionDir(mediaDir, 'str_b', 'ses_b');
      await writeManifest(dir, manifest('str_b', 'ses_b'));
      await writeFile(path.join(mediaDir, 'filler'), Buffer.alloc(2 * 1024 * 1024)).catch(() => undefined); // fills it
      const { vod, events, builds } = publisher(mediaDir);
      await vod.finalizeRecording({ streamId: 'str_b', sessionId: 'ses_b' });
      expect(builds()).toBe(0);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'recording_failed', data: { reason: expect.stringMatching(/^origin disk full: .*ENOSPC/) } });
    } finally {
      await run('umount', ['-l', mediaDir]).catch(() => undefined);
    }
  });
});
