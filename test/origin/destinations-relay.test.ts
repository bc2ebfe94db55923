// A relay against real sockets and a real ffmpeg: a target that takes the connection but never reads (a stalled
// server) fills the relay's bounded queue, and the relay drops that run and retries rather than holding the media.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FlvTagReader, type MediaTag } from '../../origin/destinations/flv-tags.ts';
import { MAX_QUEUE_BYTES, Relay, type RelaySnapshot } from '../../origin/destinations/relay.ts';

const run = promisify(execFile);
let dir: string;
let tags: MediaTag[] = [];
let blackHole: net.Server;
let port: number;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'relay-test-'));
  const file = path.join(dir, 'in.flv');
  // 6 s of dense video (about 15 MB): more than the queue may hold.
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '20M', '-minrate', '20M', '-bufsize', '20M', '-g', '30', '-f', 'flv', file]);
  tags = new FlvTagReader().push(await readFile(file));
  // Accepts, and never answers the RTMP handshake nor reads: ffmpeg blocks there and stops reading its input.
  blackHole = net.createServer((socket) => {
    sockets.add(socket);
    socket.pause();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  port = (blackHole.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => blackHole?.close(() => resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a relay to a target that does not take the media', () => {
  it('drops the run once its queue is full and retries, never holding more than the bound', async () => {
    const snapshots: RelaySnapshot[] = [];
    const relay = new Relay(
      { destinationId: 'dst_slow', url: `rtmp://127.0.0.1:${port}/live/secret-key-123`, rendition: 'source', revision: 1 },
      { streamId: 's', sessionId: 'ses', joinHeaders: () => [], onStatus: (s) => snapshots.push(s) },
    );
    const tagBytes = Math.max(...tags.map((t) => t.data.length)) + 15;
    let maxQueued = 0;
    // The encoder's pace does not matter to the bound: feed everything, a little at a time, as the event loop allows.
    for (let round = 0; round < 3 && !snapshots.some((s) => s.status === 'retrying'); round++) {
      for (const tag of tags) {
        relay.push(tag);
        maxQueued = Math.max(maxQueued, relay.queuedBytes);
        if (tag.type === 9) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    await expect.poll(() => snapshots.find((s) => s.status === 'retrying'), { timeout: 10_000 }).toBeTruthy();
    const retrying = snapshots.find((s) => s.status === 'retrying')!;
    expect(retrying.error).toMatch(/too slowly/);
    expect(JSON.stringify(snapshots)).not.toContain('secret-key-123');
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUE_BYTES + tagBytes);
    await relay.stop();
    expect(snapshots.at(-1)).toMatchObject({ status: 'stopped' });
  });

  it('an ffmpeg that cannot run is retried with its reason, never an unhandled error', async () => {
    const snapshots: RelaySnapshot[] = [];
    const relay = new Relay(
      { destinationId: 'dst_noffmpeg', url: 'rtmp://127.0.0.1:1/live/k', rendition: 'source', revision: 1 },
      { streamId: 's', sessionId: 'ses', joinHeaders: () => [], onStatus: (s) => snapshots.push(s), ffmpegPath: path.join(dir, 'no-such-ffmpeg') },
    );
    await expect.poll(() => snapshots.find((s) => s.status === 'retrying'), { timeout: 5000 }).toBeTruthy();
    expect(snapshots.find((s) => s.status === 'retrying')!.error).toMatch(/ffmpeg could not run: spawn .*ENOENT/);
    await relay.stop();
  });
});
