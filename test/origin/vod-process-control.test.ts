// POST /control/vod-jobs on the origin's control port: signed like every command; a library video's job taken (202),
// joined when the same video's job already runs here, refused with 429 and Retry-After when the VOD lane is full, 503
// while the pool shuts down, 400 naming what is wrong with a malformed command (an import without its URL).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHlsServer, type HlsServer } from '../../origin/http/hls-server.ts';
import { addControlRoutes } from '../../origin/control-routes.ts';
import { LiveIngest, type LiveIngestDeps } from '../../origin/ingest/live-ingest.ts';
import type { DurableJobs } from '../../origin/jobs/durable-jobs.ts';
import { MediaJobPool } from '../../origin/jobs/jobs-pool.ts';
import { VodJobs } from '../../origin/vod/vod-jobs.ts';
import { signRequest } from '../../shared/request-signing.ts';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import type { OriginEvent } from '../../shared/schemas/internal.ts';

const SECRET = 'ors_test-origin-secret';
let tmp: string;
let server: HlsServer;
let base: string;
let pool: MediaJobPool;
let vod: VodJobs;
const events: OriginEvent[] = [];
/** Downloads wait on this gate, so jobs stay in the lane while the test asks for more. */
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vod-control-'));
  server = await startHlsServer({ mediaRoot: tmp, host: '127.0.0.1', port: 0, registry: new Registry(), hlsSigningSecret: null });
  base = `http://127.0.0.1:${server.port}`;
  const ingest = new LiveIngest({ originId: 'o1', publicUrl: base, mediaDir: tmp, statsIntervalMs: 1000 } as LiveIngestDeps);
  pool = new MediaJobPool({ threads: 1, vodPerOrigin: 1 });
  vod = new VodJobs({
    workDir: path.join(tmp, 'work'),
    pool,
    emit: async (event) => {
      events.push(event);
    },
    // A storage whose source never exists: the job ends failed once the gate opens, no ffmpeg needed here.
    storage: {
      download: async (key) => {
        await gate;
        throw Object.assign(new Error(`edge media GET ${key} answered 404: no such key`), { name: 'PermanentDownloadError' });
      },
      upload: async () => 0,
    },
  });
  addControlRoutes(server, { ingest, jobs: { accepting: true } as DurableJobs, originSecret: SECRET, vod });
});
afterAll(async () => {
  openGate();
  server?.close();
  await pool?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function send(body: unknown, secret = SECRET) {
  const text = JSON.stringify(body);
  const headers = await signRequest(secret, 'POST', '/control/vod-jobs', text);
  return fetch(`${base}/control/vod-jobs`, { method: 'POST', body: text, headers: { ...headers, 'content-type': 'application/json' } });
}
/** A grant as the edge issues it (the origin reads its prefixes; only the edge checks its MAC). */
const grantFor = (videoId: string) => issueMediaGrant('edge-master-key-0123456789abcdef', { originId: 'o1', prefixes: [`videos/${videoId}/`], expiresAt: Date.now() + 60_000 });
const job = async (videoId: string, extra: Record<string, unknown> = {}) => ({ videoId, workspaceId: 'ws_1', kind: 'process', grant: await grantFor(videoId), attempt: 1, ...extra });

describe('POST /control/vod-jobs', () => {
  it('takes a job, joins a repeat, refuses beyond the lane with 429 and Retry-After', async () => {
    const first = await send(await job('vid_controlFirst01'));
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ accepted: true, joined: false });
    expect(await (await send(await job('vid_controlFirst01', { attempt: 2 }))).json()).toEqual({ accepted: true, joined: true });
    const full = await send(await job('vid_controlSecond1'));
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe('30');
    expect(await full.json()).toMatchObject({ reason: 'this origin already has 1 video processing job' });
    openGate();
    await vod.running('vid_controlFirst01');
    expect(events.at(-1)).toMatchObject({ type: 'video_failed', streamId: 'vid_controlFirst01', data: { permanent: true, reason: expect.stringMatching(/answered 404/) } });
    // The lane is free again.
    expect((await send(await job('vid_controlSecond1'))).status).toBe(202);
  });

  it('refuses unsigned and malformed commands (an import needs its URL; the id must be a video id)', async () => {
    expect((await send(await job('vid_controlThird01'), 'ors_another-origins-secret')).status).toBe(401);
    const noUrl = await send(await job('vid_controlThird01', { kind: 'import' }));
    expect(noUrl.status).toBe(400);
    expect(JSON.stringify(await noUrl.json())).toMatch(/an import job needs sourceUrl/);
    const badId = await send({ ...(await job('vid_controlThird01')), videoId: '../etc' });
    expect(badId.status).toBe(400);
    expect(JSON.stringify(await badId.json())).toMatch(/videoId is a video id/);
  });
});
