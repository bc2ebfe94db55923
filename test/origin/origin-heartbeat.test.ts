// The origin's heartbeat: signed like every /internal call, listing the sessions it holds, one beat at a time, each
// with a deadline, and it keeps beating through an edge that is down or hanging.
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRequest } from '../../shared/request-signing.ts';
import { OriginHeartbeat } from '../../shared/schemas/origin-heartbeat.ts';
import { OriginHeartbeatLoop, ORIGIN_HEARTBEAT_PATH } from '../../origin/origin-heartbeat.ts';

const SECRET = 'heartbeat-test-secret';

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
      if (!verdict.ok || !parsed.success || request.url !== ORIGIN_HEARTBEAT_PATH) return void response.writeHead(401).end();
      received.push(parsed.data);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"heardAt":"2026-01-01T00:00:00.000Z"}');
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
    const loop = new OriginHeartbeatLoop({
      edgeUrl: edge.url, originSecret: SECRET, originId: 'origin-a', originUrl: 'http://127.0.0.1:8790',
      sessions: () => [{ streamId: 'ls_1', sessionId: 'ses_1' }],
    });
    expect(await loop.beat()).toBe(true);
    expect(edge.received).toEqual([
      expect.objectContaining({ originId: 'origin-a', originUrl: 'http://127.0.0.1:8790', sessions: [{ streamId: 'ls_1', sessionId: 'ses_1' }] }),
    ]);
  });

  it('a refused or hanging edge fails the beat within its deadline; the next beat goes through', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop({
      edgeUrl: edge.url, originSecret: SECRET, originId: 'origin-b', originUrl: 'http://127.0.0.1:8790',
      sessions: () => [], intervalMs: 600,
    });
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
    const loop = new OriginHeartbeatLoop({
      edgeUrl: edge.url, originSecret: SECRET, originId: 'origin-c', originUrl: 'http://127.0.0.1:8790', sessions: () => [],
    });
    const [a, b] = await Promise.all([loop.beat(), loop.beat()]);
    expect([a, b]).toEqual([true, true]);
    expect(edge.received).toHaveLength(1);
  });

  it('start() beats at once and then on its interval; stop() ends it', async () => {
    const edge = await receiver();
    cleanup.push(edge.close);
    const loop = new OriginHeartbeatLoop({
      edgeUrl: edge.url, originSecret: SECRET, originId: 'origin-d', originUrl: 'http://127.0.0.1:8790', sessions: () => [], intervalMs: 100,
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 350));
    loop.stop();
    const count = edge.received.length;
    expect(count).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 250));
    expect(edge.received.length).toBeLessThanOrEqual(count + 1);
  });
});
