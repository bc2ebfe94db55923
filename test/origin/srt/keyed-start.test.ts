// The SRT listener starts only with the SRT passphrase key the edge answers heartbeats with: at once when the edge
// answers within the first wait, later (in the background) when it answers only after, never without the key.
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OriginHeartbeatLoop } from '../../../origin/origin-heartbeat.ts';
import { startSrtWhenKeyed } from '../../../origin/srt/keyed-start.ts';
import { SrtServer, type SrtPublisher } from '../../../origin/srt/server.ts';

const SRT_KEY = 'cd'.repeat(32);

/** A loopback edge whose heartbeat answers fail until `answering` is set. */
async function edge() {
  const state = { answering: false };
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (!state.answering) return void response.writeHead(503).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heardAt: new Date().toISOString(), srtPassphraseKey: SRT_KEY }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function loop(edgeUrl: string) {
  const heartbeat = new OriginHeartbeatLoop({
    edgeUrl,
    credentials: { originId: 'keyed-a', secret: 'keyed-test-secret-0123456789' },
    originUrl: 'http://127.0.0.1:8790',
    announce: { region: 'local', ingestHost: '127.0.0.1', ports: { rtmp: 1935, rtmps: null, srt: 9000 }, hlsUrl: 'http://127.0.0.1:8790' },
    sessions: () => [],
    loadReport: () => ({ capacity: { units: 1 }, load: { units: 0, sessions: 0 }, draining: false }),
    intervalMs: 2000,
  });
  cleanup.push(() => heartbeat.stop());
  return heartbeat;
}

/** A real SRT listener (the libsrt binding) keyed with what it was given; nobody calls it. */
function realListener(keys: string[]) {
  return async (key: string) => {
    keys.push(key);
    return SrtServer.start({ host: '127.0.0.1', port: 0, passphraseSecret: key, accept: (): SrtPublisher => ({ data: () => undefined, closed: () => undefined }), log: () => undefined });
  };
}

describe('startSrtWhenKeyed', () => {
  it('starts the listener with the key from the edge when the edge answers within the first wait', async () => {
    const e = await edge();
    cleanup.push(e.close);
    e.state.answering = true;
    const heartbeat = loop(e.url);
    heartbeat.start();
    const keys: string[] = [];
    const srt = await startSrtWhenKeyed(heartbeat, realListener(keys), { firstWaitMs: 5000 });
    cleanup.push(() => srt.close());
    expect(keys).toEqual([SRT_KEY]);
    expect(srt.current()?.port).toBeGreaterThan(0);
  });

  it('does not listen before the edge answers; starts in the background once it does', async () => {
    const e = await edge();
    cleanup.push(e.close);
    const heartbeat = loop(e.url);
    heartbeat.start();
    const keys: string[] = [];
    const srt = await startSrtWhenKeyed(heartbeat, realListener(keys), { firstWaitMs: 300 });
    cleanup.push(() => srt.close());
    expect(srt.current()).toBeNull();
    expect(keys).toEqual([]);
    e.state.answering = true;
    const deadline = Date.now() + 10_000;
    while (!srt.current() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(keys).toEqual([SRT_KEY]);
    expect(srt.current()?.port).toBeGreaterThan(0);
  });
});
