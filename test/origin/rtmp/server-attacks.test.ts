// A real FFmpeg publishes to RtmpServer while attackers from 59 loopback addresses flood it with one-byte chunks and
// hold slots slowloris-style (test/support/rtmp-attacks.ts, in child processes so their CPU and memory are not
// counted as the server's): the server's memory stays bounded and the publisher's frames keep arriving in real time.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { RtmpConnection } from '../../../origin/rtmp/connection.ts';
import { RtmpServer } from '../../../origin/rtmp/server.ts';
import type { AttackFigures } from '../../support/rtmp-attacks.ts';

const ATTACKS = fileURLToPath(new URL('../../support/rtmp-attacks.ts', import.meta.url));
const FPS = 25;
const PUBLISH_SECONDS = 12;
const ATTACK_SECONDS = PUBLISH_SECONDS + 3;
/** Documented bounds (README "Reliability"): growth of this process while under attack, from its idle baseline. */
const MAX_RSS_GROWTH = 160 * 1024 * 1024;
const MAX_HEAP_GROWTH = 64 * 1024 * 1024;
const MAX_FRAME_GAP_MS = 1000;

function attacker(kind: 'flood' | 'slowloris', port: number, from: number, to: number): Promise<AttackFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', ATTACKS, kind, '--port', String(port), '--seconds', String(ATTACK_SECONDS), '--from', String(from), '--to', String(to)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (ATTACK_SECONDS + 15) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${kind} attacker exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as AttackFigures);
    });
  });
}

function ffmpegPublish(url: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ffmpeg',
      [
        '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=${FPS}`,
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(FPS),
        '-t', String(PUBLISH_SECONDS), '-f', 'flv', url,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (PUBLISH_SECONDS + 20) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A full collection, so a heap figure is what the server holds, not garbage V8 had no CPU to collect yet. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** How often the live heap is measured under attack (each a full collection on this thread). */
const LIVE_HEAP_EVERY_MS = 500;
const servers: RtmpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('RtmpServer under a one-byte-chunk flood and a slowloris from 59 addresses', () => {
  it('keeps its memory bounded and a live FFmpeg publisher undisturbed', { timeout: 40_000 }, async () => {
    const closeReasons: string[] = [];
    /** What happened to connections from 127.0.0.1, where only FFmpeg connects from. */
    const publisherSide: string[] = [];
    const arrivals: number[] = [];
    let publisher: RtmpConnection | undefined;
    let publisherClose: string | undefined;
    const server = new RtmpServer({
      port: 0,
      host: '127.0.0.1',
      // Small enough that the attackers (59 × 4 × 2 slots wanted) fill it; fast deadlines so the test is short.
      limits: { maxConnections: 64, handshakeTimeoutMs: 2000, publishTimeoutMs: 3000, firstMediaTimeoutMs: 3000 },
      log: (event, fields) => {
        if (event === 'rtmp.closing') closeReasons.push(String(fields.reason));
        if (fields.remoteAddress === '127.0.0.1' && event !== 'rtmp.connected') publisherSide.push(`${event} ${String(fields.reason ?? '')}`);
      },
      onPublish: async (request, connection) => {
        if (request.streamKey !== 'live-key') return { ok: false, reason: 'unknown key' };
        publisher = connection;
        connection.on('video', () => arrivals.push(Date.now()));
        connection.on('close', ({ reason }) => (publisherClose = reason));
        return { ok: true };
      },
    });
    servers.push(server);
    const { rtmp } = await server.listen();

    await sleep(200);
    gc();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    // heapUsed between collections counts garbage too, and how much depends on when a loaded machine lets V8 run:
    // the bound is on the heap that survives a full collection; the raw peak is reported alongside.
    let peakHeap = base.heapUsed;
    let peakRawHeap = base.heapUsed;
    let liveHeapAt = Date.now();
    let peakOpen = 0;
    let peakSockets = 0;
    let peakBudget = 0;
    const sampler = setInterval(() => {
      if (Date.now() - liveHeapAt >= LIVE_HEAP_EVERY_MS) {
        gc();
        liveHeapAt = Date.now();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakRawHeap = Math.max(peakRawHeap, m.heapUsed);
      // Open: not on their way out. Sockets: also the ones closing (a refused flooder gets 500 ms to read our goodbye).
      peakOpen = Math.max(peakOpen, [...server.connections].filter((c) => !c.closed).length);
      peakSockets = Math.max(peakSockets, server.connections.size);
      peakBudget = Math.max(peakBudget, server.budget.heldBytes);
    }, 50);

    const flood = attacker('flood', rtmp.port, 2, 30);
    const loris = attacker('slowloris', rtmp.port, 31, 60);
    // Let the attackers fill every slot first: the publisher must get in by eviction.
    await sleep(1500);
    const publish = await ffmpegPublish(`rtmp://127.0.0.1:${rtmp.port}/live/live-key`);
    const [floodFigures, lorisFigures] = await Promise.all([flood, loris]);
    clearInterval(sampler);

    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const figures = {
      rssGrowthMB: +((peakRss - base.rss) / 2 ** 20).toFixed(1),
      heapGrowthMB: +((peakHeap - base.heapUsed) / 2 ** 20).toFixed(1),
      rawHeapGrowthMB: +((peakRawHeap - base.heapUsed) / 2 ** 20).toFixed(1),
      peakBudgetMB: +(peakBudget / 2 ** 20).toFixed(1),
      peakOpen,
      peakSockets,
      videoFrames: arrivals.length,
      maxFrameGapMs: Math.max(...gaps),
      evictions: closeReasons.filter((r) => r.startsWith('evicted')).length,
      publishTimeouts: closeReasons.filter((r) => r === 'publish timeout').length,
      chunkOverhead: closeReasons.filter((r) => r === 'protocol error: chunk-overhead').length,
      publisherSide,
      flood: floodFigures,
      slowloris: lorisFigures,
    };
    console.log(JSON.stringify(figures), publish.stderr.slice(0, 400));

    expect(publish.stderr.slice(0, 500)).toBe("");
    expect(publish.code).toBe(0);
    expect(publisher).toBeDefined();
    expect(publisherClose).not.toMatch(/evicted|timeout|protocol error/);
    // Real time: every frame of the broadcast arrived, none late by more than a second.
    expect(arrivals.length).toBeGreaterThanOrEqual(PUBLISH_SECONDS * FPS * 0.95);
    expect(figures.maxFrameGapMs).toBeLessThan(MAX_FRAME_GAP_MS);
    expect(peakRss - base.rss).toBeLessThan(MAX_RSS_GROWTH);
    expect(peakHeap - base.heapUsed).toBeLessThan(MAX_HEAP_GROWTH);
    expect(peakOpen).toBeLessThanOrEqual(64);
    // Closing sockets still count against their address: at most 4 per address, 60 addresses.
    expect(peakSockets).toBeLessThanOrEqual(60 * 4);
    // The attack really happened and the server really pushed back.
    expect(floodFigures.connectionsOpened).toBeGreaterThan(100);
    expect(figures.chunkOverhead).toBeGreaterThan(100);
    expect(lorisFigures.connectionsOpened).toBeGreaterThan(100);
    expect(figures.evictions + figures.publishTimeouts).toBeGreaterThan(50);
    expect(server.budget.heldBytes).toBeLessThan(1024 * 1024);
  });
});
