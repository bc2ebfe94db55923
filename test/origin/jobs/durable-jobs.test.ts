// Recording exports and clips built from a session's durable media, not from the origin's disk: a 20 s session with a
// reconnect made by the live pipeline is put in the bucket (a loopback stand-in of the edge's /internal/media that
// checks media grants like the edge), its local folder deleted, and the export and a clip are still made — real ffmpeg,
// real jobs pool, real EdgeClient and MediaUploader. The export reports throttled progress; a clip fetches only the
// segments of its range (and its encoder run's first one, for the smart cut); storage hiccups are ridden out; a grant
// that does not cover the output fails the job at once; a disk without room starts nothing.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { DurableJobs } from '../../../origin/jobs/durable-jobs.ts';
import { MediaJobPool } from '../../../origin/jobs/jobs-pool.ts';
import { MediaUploader } from '../../../origin/media-uploader.ts';
import { issueMediaGrant } from '../../../shared/media-grant.ts';
import type { OriginEvent } from '../../../shared/schemas/internal.ts';
import { decodeErrors, encodeInput, ffprobeJson, liveSession } from './session-fixture.ts';
import { startMediaStore, storeSession, STORE_MASTER, type MediaStore } from './media-store-fixture.ts';

const run = promisify(execFile);
const ORIGIN_ID = 'origin-jobs';
const PREFIX = 'live/str_a/ses_a';

let tmp: string;
let store: MediaStore;
let pool: MediaJobPool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'durable-jobs-'));
  store = await startMediaStore(path.join(tmp, 'bucket'));
  // Two connections of 10 s: the encoder dropped and came back within the reconnect window.
  const inputs = [path.join(tmp, 'a.ts'), path.join(tmp, 'b.ts')];
  await Promise.all(inputs.map((f) => encodeInput(f, { seconds: 10 })));
  const local = path.join(tmp, 'origin-media', 'str_a', 'ses_a');
  await liveSession(local, inputs, { end: true });
  await storeSession(store, PREFIX, local);
  // The origin that held the session is gone, disk and all.
  await rm(path.join(tmp, 'origin-media'), { recursive: true, force: true });
  pool = new MediaJobPool({ threads: 1 });
}, 120_000);

afterAll(async () => {
  await pool?.close();
  await store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const grantFor = (prefixes: string[]) => issueMediaGrant(STORE_MASTER, { originId: ORIGIN_ID, prefixes, expiresAt: Date.now() + 3_600_000 });

function jobs(o: { workDir?: string; reserveBytes?: number; progressIntervalMs?: number; pool?: MediaJobPool } = {}) {
  const events: (OriginEvent & { receivedAt: number })[] = [];
  const edge = new EdgeClient(store.url, { originId: ORIGIN_ID, secret: 'test-origin-secret-0123456789abcdef' });
  const uploader = new MediaUploader(edge, 16 * 1024 * 1024, { budgetMs: 2_000, firstDelayMs: 50, maxDelayMs: 200 });
  const runner = new DurableJobs({
    workDir: o.workDir ?? path.join(tmp, 'work'),
    pool: o.pool ?? pool,
    media: (grant) => ({ read: (key) => edge.getMedia(key, grant), uploadFile: (key, file) => uploader.uploadFile(key, file, grant) }),
    emit: async (event) => {
      events.push({ ...event, receivedAt: Date.now() });
    },
    reserveBytes: o.reserveBytes ?? 0,
    progressIntervalMs: o.progressIntervalMs ?? 2000,
  });
  return { runner, events };
}

const bucketFile = (key: string) => path.join(store.root, key);
const sourceReads = (from: number) => store.reads.slice(from).filter((k) => k.startsWith(`${PREFIX}/source/`) && k.endsWith('.ts'));

describe('recording export from durable media', () => {
  it('builds the MP4 and screenshot from R2 alone, reports progress, and leaves no scratch behind', async () => {
    const { runner, events } = jobs({ progressIntervalMs: 250 });
    const mediaGrant = await grantFor([PREFIX, 'recordings/rec_a']);
    const readsBefore = store.reads.length;
    const started = Date.now();
    await runner.exportRecording({ recordingId: 'rec_a', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: `${PREFIX}/`, outputPrefix: 'recordings/rec_a', mediaGrant });
    const tookMs = Date.now() - started;

    const ready = events.filter((e) => e.type === 'recording_ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]!.data).toMatchObject({ hlsPrefix: PREFIX, mp4Key: 'recordings/rec_a/recording.mp4', screenshotKey: 'recordings/rec_a/screenshot.jpg' });
    // Only the source rendition was fetched, every one of its segments once.
    expect(sourceReads(readsBefore)).toHaveLength(10);
    expect(store.reads.slice(readsBefore).some((k) => k.startsWith(`${PREFIX}/360p/`) && k.endsWith('.ts'))).toBe(false);

    const mp4 = bucketFile('recordings/rec_a/recording.mp4');
    const j = await ffprobeJson<{ format: { duration: string }; streams: { codec_type: string }[] }>(['-show_format', '-show_streams', mp4]);
    expect(Math.abs(Number(j.format.duration) - 20)).toBeLessThan(1);
    expect(j.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(await decodeErrors(mp4)).toBe('');
    expect(store.writes).toContain('recordings/rec_a/screenshot.jpg');

    const progress = events.filter((e) => e.type === 'recording_progress').map((e) => ({ ...(e.data as { recordingId: string; progress: number }), at: e.receivedAt }));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.every((p) => p.recordingId === 'rec_a' && p.progress >= 0 && p.progress < 1)).toBe(true);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
      expect(progress[i]!.at - progress[i - 1]!.at).toBeGreaterThanOrEqual(240);
    }
    // Ready comes last.
    expect(events[events.length - 1]!.type).toBe('recording_ready');
    expect(await readdir(path.join(tmp, 'work', 'exports'))).toEqual([]);
    expect(tookMs).toBeLessThan(30_000);
  }, 60_000);

  it('rides out a storage hiccup (reads answered 503 for a while)', async () => {
    const { runner, events } = jobs();
    store.failReads(3);
    await runner.exportRecording({ recordingId: 'rec_h', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_h', mediaGrant: await grantFor([PREFIX, 'recordings/rec_h']) });
    expect(events.map((e) => e.type).filter((t) => t !== 'recording_progress')).toEqual(['recording_ready']);
  }, 60_000);

  it('fails at once, saying why, when the grant does not cover the output', async () => {
    const { runner, events } = jobs();
    const started = Date.now();
    await runner.exportRecording({ recordingId: 'rec_x', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_x', mediaGrant: await grantFor([PREFIX]) });
    expect(events.map((e) => e.type).filter((t) => t !== 'recording_progress')).toEqual(['recording_failed']);
    expect((events.at(-1)!.data as { reason: string }).reason).toMatch(/grant does not cover recordings\/rec_x\/recording\.mp4/);
    expect(Date.now() - started).toBeLessThan(1_500); // nothing fetched or muxed first, no retries
  }, 60_000);

  it("fails with the storage's refusal when the edge refuses the grant (here: another origin's)", async () => {
    const { runner, events } = jobs();
    const mediaGrant = await issueMediaGrant(STORE_MASTER, { originId: 'origin-other', prefixes: [PREFIX, 'recordings/rec_o'], expiresAt: Date.now() + 3_600_000 });
    await runner.exportRecording({ recordingId: 'rec_o', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_o', mediaGrant });
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
    expect((events[0]!.data as { reason: string }).reason).toMatch(/refused.*403/);
    expect(store.refused.length).toBeGreaterThan(0);
  });

  it('fails with the reason when the session has no media in storage', async () => {
    const { runner, events } = jobs();
    await runner.exportRecording({ recordingId: 'rec_n', streamId: 'str_n', sessionId: 'ses_n', durablePrefix: 'live/str_n/ses_n', outputPrefix: 'recordings/rec_n', mediaGrant: await grantFor(['live/str_n/ses_n', 'recordings/rec_n']) });
    expect(events.map((e) => e.type)).toEqual(['recording_failed']);
    expect((events[0]!.data as { reason: string }).reason).toMatch(/no rendition playlist/);
  });

  it('starts nothing when the scratch disk cannot take the session and keep the live reserve (a real tmpfs)', async (context) => {
    const small = path.join(tmp, 'small');
    await mkdir(small);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small]);
    } catch (error) {
      return context.skip(`cannot mount a tmpfs here (needs root): ${String(error)}`);
    }
    try {
      const { runner, events } = jobs({ workDir: small, reserveBytes: 4 * 1024 * 1024 });
      const readsBefore = store.reads.length;
      await runner.exportRecording({ recordingId: 'rec_d', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_d', mediaGrant: await grantFor([PREFIX, 'recordings/rec_d']) });
      expect(events.map((e) => e.type)).toEqual(['recording_failed']);
      expect((events[0]!.data as { reason: string }).reason).toMatch(/origin disk too full for this job/);
      expect(sourceReads(readsBefore)).toEqual([]);
    } finally {
      await run('umount', [small]).catch(() => undefined);
    }
  });
});

describe('an origin going away', () => {
  it('drops an export without failing the recording (the edge hands it out again) and clears scratch left by a crash', async () => {
    const closing = new MediaJobPool({ threads: 1 });
    await closing.close();
    const workDir = path.join(tmp, 'work-closing');
    const { runner, events } = jobs({ pool: closing, workDir });
    expect(runner.accepting).toBe(false);
    await runner.exportRecording({ recordingId: 'rec_s', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_s', mediaGrant: await grantFor([PREFIX, 'recordings/rec_s']) });
    expect(events).toEqual([]);

    for (const left of ['exports/rec_old/session', 'clips/clp_old/out', 'recordings/ses_old']) await mkdir(path.join(workDir, left), { recursive: true });
    await mkdir(path.join(workDir, 'keep'), { recursive: true });
    await runner.clearScratch();
    expect(await readdir(workDir)).toEqual(['keep']);
  });
});

describe('clips from durable media', () => {
  it('lists the export and the clip it has taken (running or queued) for the heartbeat until their outcome is queued', async () => {
    const { runner, events } = jobs();
    expect(runner.jobIds).toEqual([]);
    const exported = runner.exportRecording({ recordingId: 'rec_l', streamId: 'str_a', sessionId: 'ses_a', durablePrefix: PREFIX, outputPrefix: 'recordings/rec_l', mediaGrant: await grantFor([PREFIX, 'recordings/rec_l']) });
    const admission = pool.admitClip('ws_l');
    if (!admission.ok) throw new Error(admission.reason);
    // One thread: the clip waits behind the export, and is listed all the same.
    const cut = runner.cutClip({ clipId: 'clp_l', workspaceId: 'ws_l', streamId: 'str_a', sessionId: 'ses_a', startTime: 2, endTime: 4, accurate: false, durablePrefix: PREFIX, mediaGrant: await grantFor([PREFIX, 'clips/clp_l']) }, admission.slot);
    expect(runner.jobIds.sort()).toEqual(['clp_l', 'rec_l']);
    await exported;
    expect(events.some((e) => e.type === 'recording_ready')).toBe(true);
    expect(runner.jobIds).not.toContain('rec_l');
    await cut;
    expect(events.map((e) => e.type)).toContain('clip_ready');
    expect(runner.jobIds).toEqual([]);
  }, 90_000);

  it('cuts an accurate clip after the reconnect from the range segments only, on the session timeline', async () => {
    const { runner, events } = jobs();
    const mediaGrant = await grantFor([PREFIX, 'clips/clp_r2']);
    const admission = pool.admitClip('ws_a');
    if (!admission.ok) throw new Error(admission.reason);
    const readsBefore = store.reads.length;
    await runner.cutClip({ clipId: 'clp_r2', workspaceId: 'ws_a', streamId: 'str_a', sessionId: 'ses_a', startTime: 12.5, endTime: 16, accurate: true, durablePrefix: PREFIX, mediaGrant }, admission.slot);
    expect(events.map((e) => e.type)).toEqual(['clip_ready']);
    const data = events[0]!.data as { actualStart: number; actualEnd: number; duration: number; mp4Key: string; hlsPrefix: string };
    expect(Math.abs(data.actualStart - 12.5)).toBeLessThan(0.1);
    expect(Math.abs(data.actualEnd - 16)).toBeLessThan(0.1);
    expect(Math.abs(data.duration - 3.5)).toBeLessThan(0.1);
    expect(data).toMatchObject({ mp4Key: 'clips/clp_r2/clip.mp4', hlsPrefix: 'clips/clp_r2/hls' });
    // 12–14 and 14–16, and the 10–12 segment that opened the encoder's second run (x264's options for the smart cut).
    expect(sourceReads(readsBefore)).toHaveLength(3);
    const mp4 = bucketFile('clips/clp_r2/clip.mp4');
    expect(await decodeErrors(mp4)).toBe('');
    const hls = await ffprobeJson<{ format: { duration: string } }>(['-show_format', bucketFile('clips/clp_r2/hls/master.m3u8')]);
    expect(Math.abs(Number(hls.format.duration) - 3.5)).toBeLessThan(0.3);
    expect(pool.clipsOf('ws_a')).toBe(0);
    expect(await readdir(path.join(tmp, 'work', 'clips'))).toEqual([]);
  }, 60_000);

  it('refuses a range beyond the durable timeline, naming it, before fetching any segment', async () => {
    const { runner, events } = jobs();
    const admission = pool.admitClip('ws_a');
    if (!admission.ok) throw new Error(admission.reason);
    const readsBefore = store.reads.length;
    await runner.cutClip({ clipId: 'clp_bad', workspaceId: 'ws_a', streamId: 'str_a', sessionId: 'ses_a', startTime: 15, endTime: 40, accurate: false, durablePrefix: PREFIX, mediaGrant: await grantFor([PREFIX, 'clips/clp_bad']) }, admission.slot);
    expect(events.map((e) => e.type)).toEqual(['clip_failed']);
    expect((events[0]!.data as { reason: string }).reason).toMatch(/beyond the 20(\.\d+)? s available/);
    expect(sourceReads(readsBefore)).toEqual([]);
    expect(pool.clipsOf('ws_a')).toBe(0);
  });
});
