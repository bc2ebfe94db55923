// The origin's heartbeat (and announce): signed by this origin like every /internal call, naming it, listing the sessions
// it holds and how it is reached and loaded, one beat at a time, each with a deadline; it keeps beating through an edge
// that is down or hanging, and hands over the SRT passphrase key from the edge's first answer.
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRequest } from '../../shared/request-signing.ts';
import { OriginHeartbeat, ORIGIN_HEARTBEAT_MAX_JOBS } from '../../shared/schemas/origin-heartbeat.ts';
import { OriginHeartbeatLoop, ORIGIN_HEARTBEAT_PATH, type OriginHeartbeatOptions } from '../../origin/origin-heartbeat.ts';
import { ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';

const SECRET = 'heartbeat-test-secret';
const SRT_KEY = 'ab'.repeat(32);

function loopOptions(edgeUrl: string, originId: string, extra: Partial<OriginHeartbeatOptions> = {}): OriginHeartbeatOptions {
  return {
    edgeUrl,
    credentials: { originId, secret: SECRET },
    originUrl: 'http://127.0.0.1:8790',
    announce: { region: 'local', ingestHost: 'ingest.test', ports: { rtmp: 1935, rtmps: null, srt: 9000 }, hlsUrl: 'http://127.0.0.1:8790' },
    sessions: () => [],
    loadReport: () => ({ capacity: { units: 4 }, load: { units: 1, sessions: 1 }, draining: false }),
    ...extra,
  };
}

/** A loopback receiver that checks signatures and schema the way the edge does; `mode` decides how it answers. */
async function receiver() {
  const received: unknown[] = [];
  const state = { mode: 'ok' as 'ok' | 'error' | 'hang' };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', async () => {
      if (state.mode === 'hang') return; // never answers
      if (state.mode === 'error') return void response.writeHead(503).end();
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = { get: (name: string) => (request.headers[name] as string | undefined) ?? null };
      const verdict = await verifyRequest(SECRET, 'POST', request.url!, body, headers);
      const parsed = OriginHeartbeat.safeParse(JSON.parse(body));
      const named = request.headers[ORIGIN_ID_HEADER] === (parsed.success ? parsed.data.originId : undefined);
      if (!verdict.ok || !parsed.success || !named || request.url !== ORIGIN_HEARTBEAT_PATH) return void response.writeHead(401).end();
      received.push(parsed.data);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heardAt: '2026-01-01T00:00:00.000Z', srtPassphraseKey: SRT_KEY }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, state, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup) await step();
  cleanup = [];
});

describe('OriginHeartbeatLoop', () => {
  it('sends a signed heartbeat with the sessions held, which the edge-side schema accepts', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-a', { sessions: () => [{ streamId: 'ls_1', sessionId: 'ses_1' }] }));
    expect(await loop.beat()).toBe(true);
    expect(edge.received).toEqual([
      expect.objectContaining({
        originId: 'origin-a',
        originUrl: 'http://127.0.0.1:8790',
        region: 'local',
        ingestHost: 'ingest.test',
        ports: { rtmp: 1935, rtmps: null, srt: 9000 },
        capacity: { units: 4 },
        load: { units: 1, sessions: 1 },
        draining: false,
        sessions: [{ streamId: 'ls_1', sessionId: 'ses_1' }],
      }),
    ]);
    expect(loop.lastAnswer?.srtPassphraseKey).toBe(SRT_KEY);
  });

  it('carries the ids of the jobs running or queued here, read at every beat and bounded; none listed when not asked', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    let jobIds = ['rec_a', 'clp_b'];
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-a', { jobs: () => jobIds }));
    expect(await loop.beat()).toBe(true);
    jobIds = ['clp_b'];
    expect(await loop.beat()).toBe(true);
    jobIds = Array.from({ length: ORIGIN_HEARTBEAT_MAX_JOBS + 10 }, (_, i) => `rec_${i}`);
    expect(await loop.beat()).toBe(true);
    const beats = edge.received as OriginHeartbeat[];
    expect(beats.map((b) => b.jobs?.length)).toEqual([2, 1, ORIGIN_HEARTBEAT_MAX_JOBS]);
    expect(beats[0]!.jobs).toEqual(['rec_a', 'clp_b']);
    expect(beats[1]!.jobs).toEqual(['clp_b']);
    // An origin without the list (an older one) sends none: the edge concludes nothing about its jobs.
    const plain = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-b'));
    expect(await plain.beat()).toBe(true);
    expect(edge.received.at(-1)).not.toHaveProperty('jobs');
  });

  it('a refused or hanging edge fails the beat within its deadline; the next beat goes through', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-b', { intervalMs: 600 }));
    edge.state.mode = 'error';
    expect(await loop.beat()).toBe(false);
    edge.state.mode = 'hang';
    const started = Date.now();
    expect(await loop.beat()).toBe(false);
    expect(Date.now() - started).toBeLessThan(1500);
    edge.state.mode = 'ok';
    expect(await loop.beat()).toBe(true);
  });

  it('never overlaps beats: a second call joins the one in flight', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-c'));
    const [a, b] = await Promise.all([loop.beat(), loop.beat()]);
    expect([a, b]).toEqual([true, true]);
    expect(edge.received).toHaveLength(1);
  });

  it('start() beats at once and then on its interval; stop() ends it', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-d', { intervalMs: 100 }));
    loop.start();
    await new Promise((r) => setTimeout(r, 350));
    loop.stop();
    const count = edge.received.length;
    expect(count).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 250));
    expect(edge.received.length).toBeLessThanOrEqual(count + 1);
  });

  it('until the edge first answers, retries sooner than the interval; untilHeard gives the SRT key once it does', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    edge.state.mode = 'error';
    const loop = new OriginHeartbeatLoop(loopOptions(edge.url, 'origin-e', { intervalMs: 3000 }));
    expect(await loop.untilHeard(50)).toBeNull();
    loop.start();
    cleanup.push(async () => loop.stop());
    const heard = loop.untilHeard(5000);
    await new Promise((r) => setTimeout(r, 300));
    edge.state.mode = 'ok';
    const started = Date.now();
    expect((await heard)?.srtPassphraseKey).toBe(SRT_KEY);
    // a 3 s interval would have made it wait up to 3 s; the backoff before the first answer stays well under
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await loop.untilHeard(10)).toMatchObject({ srtPassphraseKey: SRT_KEY });
  });
});
