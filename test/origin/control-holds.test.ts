// POST /control/holds on the origin's control port: the edge's question before a failover takes a live session to
// another origin. Signed like every control command; answers whether an encoder publishes the session here now.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHlsServer, type HlsServer } from '../../origin/http/hls-server.ts';
import { addControlRoutes } from '../../origin/control-routes.ts';
import { LiveIngest, type LiveIngestDeps } from '../../origin/ingest/live-ingest.ts';
import type { DurableJobs } from '../../origin/jobs/durable-jobs.ts';
import { signRequest } from '../../shared/request-signing.ts';
import { HoldsAnswer } from '../../shared/schemas/internal.ts';

const SECRET = 'ors_test-origin-secret';
let tmp: string;
let server: HlsServer;
let base: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'control-holds-'));
  server = await startHlsServer({ mediaRoot: tmp, host: '127.0.0.1', port: 0, registry: new Registry(), hlsSigningSecret: null });
  base = `http://127.0.0.1:${server.port}`;
  // An ingest with no encoder: holds() reads only its broadcasts, none of the publish path's parts.
  const ingest = new LiveIngest({ originId: 'o1', publicUrl: base, mediaDir: tmp, statsIntervalMs: 1000 } as LiveIngestDeps);
  addControlRoutes(server, { ingest, jobs: { accepting: true } as DurableJobs, originSecret: SECRET });
});
afterAll(async () => {
  server?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function ask(body: string, secret = SECRET) {
  const headers = await signRequest(secret, 'POST', '/control/holds', body);
  return fetch(`${base}/control/holds`, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' } });
}

describe('POST /control/holds', () => {
  it('answers whether an encoder publishes the session here (none: false)', async () => {
    const response = await ask(JSON.stringify({ streamId: 'ls_a', sessionId: 'ses_a' }));
    expect(response.status).toBe(200);
    expect(HoldsAnswer.parse(await response.json())).toEqual({ publishing: false });
  });

  it('refuses an unsigned or wrongly signed question, and a malformed one', async () => {
    const body = JSON.stringify({ streamId: 'ls_a', sessionId: 'ses_a' });
    expect((await ask(body, 'ors_another-origins-secret')).status).toBe(401);
    expect((await fetch(`${base}/control/holds`, { method: 'POST', body })).status).toBe(401);
    expect((await ask(JSON.stringify({ streamId: 'ls_a' }))).status).toBe(400);
  });
});
