// The SRT listener and its libsrt binding with real callers: ffmpeg publishing MPEG-TS with the passphrase derived
// from its key, a wrong or missing passphrase refused by libsrt, reject reasons from the access hook as a caller
// receives them, a main thread that stops reading, and garbage datagrams at the port while a publisher is live.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SrtServer, SrtReject, type SrtCaller, type SrtPublisher } from '../../../origin/srt/server.ts';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import type { SrtLinkSample } from '../../../origin/srt/link-health.ts';
import { srtPassphraseFor } from '../../../shared/srt-passphrase.ts';
import { publish, type Publisher } from '../../support/encoder.ts';

const SECRET = 'server-ffmpeg-test-origin-secret';
const binding = loadSrtBinding();
/** SRT_REJ_BADSECRET and SRT_REJ_UNSECURE (srt.h): libsrt's own refusals of a wrong or missing passphrase. */
const REJ_BADSECRET = 10;
const REJ_UNSECURE = 11;

/** What one accepted caller delivered. */
interface Received {
  caller: SrtCaller;
  chunks: Uint8Array[];
  bytes: number;
  links: SrtLinkSample[];
  closed: string | null;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const received: Received[] = [];
const publishers: Publisher[] = [];
let server: SrtServer;

function accept(caller: SrtCaller): SrtPublisher {
  const r: Received = { caller, chunks: [], bytes: 0, links: [], closed: null };
  received.push(r);
  return {
    data: (chunk) => {
      r.chunks.push(chunk);
      r.bytes += chunk.length;
    },
    link: (sample) => r.links.push(sample),
    closed: (reason) => {
      expect(r.closed).toBeNull(); // exactly once
      r.closed = reason;
    },
  };
}

const url = (port: number, streamId: string, passphrase: string) =>
  `srt://127.0.0.1:${port}?streamid=${encodeURIComponent(streamId)}&passphrase=${passphrase}&latency=200000&mode=caller`;

function start(port: number, streamId: string, passphrase: string, seconds = 600): Publisher {
  const p = publish(url(port, streamId, passphrase), { format: 'mpegts', seconds, size: '320x180', rate: 25 });
  publishers.push(p);
  return p;
}

/** Connects the binding's own caller and waits until libsrt settles the attempt. */
async function callerOutcome(port: number, options: { streamId: string; passphrase?: string }) {
  const socket = binding.callerConnect('127.0.0.1', port, options);
  try {
    return await waitFor('the caller to settle', async () => {
      const state = binding.callerState(socket);
      return state.state === 'connecting' || state.state === 'opened' || state.state === 'init' ? undefined : state;
    }, 8000);
  } finally {
    binding.callerClose(socket);
  }
}

beforeAll(async () => {
  server = await SrtServer.start({
    host: '127.0.0.1',
    port: 0,
    passphraseSecret: SECRET,
    accept,
    statsIntervalMs: 500,
    listen: { callersPerAddress: 1000 },
  });
});
afterEach(async () => {
  await Promise.all(publishers.splice(0).map((p) => p.kill()));
  received.length = 0;
});
afterAll(async () => {
  await server?.close();
});

describe('SrtServer with ffmpeg callers', () => {
  it('accepts two callers with their own derived passphrases on one port and delivers each one its MPEG-TS', async () => {
    // ffmpeg 5.1 sends the streamid still percent-encoded; the hook and the server decode it.
    const one = start(server.port, '#!::r=key-one,m=publish', await srtPassphraseFor(SECRET, 'key-one'), 3);
    const two = start(server.port, 'key-two', await srtPassphraseFor(SECRET, 'key-two'), 3);
    expect(await one.exited).toBe(0);
    expect(await two.exited).toBe(0);
    await waitFor('both connections to close', async () => (received.length === 2 && received.every((r) => r.closed) ? true : undefined), 8000);

    expect(received.map((r) => r.caller.streamKey).sort()).toEqual(['key-one', 'key-two']);
    for (const r of received) {
      expect(r.caller.remoteAddress).toBe('127.0.0.1');
      // Three seconds at ~250 kbit/s; every chunk is whole TS packets (SRT messages of 7 packets each).
      expect(r.bytes).toBeGreaterThan(30_000);
      for (const chunk of r.chunks) {
        expect(chunk[0]).toBe(0x47);
        expect(chunk.length % 188).toBe(0);
      }
      expect(r.links.length).toBeGreaterThan(0);
      expect(r.links.at(-1)!.latencyMs).toBeGreaterThanOrEqual(200); // the caller's latency=200000 wins
      expect(r.closed).toMatch(/SRT connection/);
    }
    expect(server.connections).toBe(0);
  });

  it('refuses another key\'s passphrase in the handshake: ffmpeg fails and accept is never called', async () => {
    const wrong = start(server.port, 'key-wrong-pass', await srtPassphraseFor(SECRET, 'key-other'));
    expect(await wrong.exited).not.toBe(0);
    expect(received).toHaveLength(0);
  });

  it('refuses in the hook or in libsrt, at once: bad streamid, playback mode, wrong and missing passphrase', async () => {
    const good = await srtPassphraseFor(SECRET, 'key-x');
    const cases: [string, { streamId: string; passphrase?: string }, number][] = [
      ['no streamid', { streamId: '', passphrase: good }, SrtReject.BAD_REQUEST],
      ['a malformed streamid', { streamId: '#!::m=publish', passphrase: good }, SrtReject.BAD_REQUEST],
      ['m=request', { streamId: '#!::r=key-x,m=request', passphrase: good }, SrtReject.BAD_MODE],
      ['a wrong passphrase', { streamId: 'key-x', passphrase: 'not-the-passphrase-of-x' }, REJ_BADSECRET],
      ['no passphrase', { streamId: 'key-x' }, REJ_UNSECURE],
    ];
    for (const [name, options, reject] of cases) {
      const startedAt = Date.now();
      const outcome = await callerOutcome(server.port, options);
      expect({ name, state: outcome.state, reject: outcome.rejectReason }).toEqual({ name, state: 'broken', reject });
      expect(Date.now() - startedAt).toBeLessThan(1000);
    }
    const outcome = await callerOutcome(server.port, { streamId: 'key-x', passphrase: good });
    expect(outcome.state).toBe('connected');
    await waitFor('the caller to be handed over', async () => (received[0] ? true : undefined), 2000);
    expect(received).toHaveLength(1);
  });

  it('answers a refused key from the hook while the refusal is remembered, then asks again', async () => {
    const pass = await srtPassphraseFor(SECRET, 'key-refused');
    // Long enough for a loaded machine to get a caller through the hook inside the window.
    const refusalMs = 3000;
    const refusedAt = performance.now();
    server.refuseKey('key-refused', SrtReject.CONFLICT, refusalMs);
    // The worker applies the refusal between two polls of libsrt (up to 100 ms apart when idle, more on a loaded
    // machine), so no fixed wait is enough. A caller with the wrong passphrase shows when it holds without ever being
    // accepted: libsrt's BADSECRET before, the hook's CONFLICT after.
    await waitFor('the worker to apply the refusal', async () => {
      const reject = (await callerOutcome(server.port, { streamId: 'key-refused', passphrase: 'not-the-passphrase' })).rejectReason;
      expect([REJ_BADSECRET, SrtReject.CONFLICT]).toContain(reject);
      return reject === SrtReject.CONFLICT ? true : undefined;
    }, 8000);
    // A caller with the right passphrase is answered from the hook, never handed over.
    expect((await callerOutcome(server.port, { streamId: 'key-refused', passphrase: pass })).rejectReason).toBe(SrtReject.CONFLICT);
    expect(received).toHaveLength(0);
    // Then it is refused until the window is over, and let through after it.
    const connected = await waitFor('the refusal to expire', async () => {
      const outcome = await callerOutcome(server.port, { streamId: 'key-refused', passphrase: pass });
      if (outcome.state === 'connected') return performance.now();
      expect(outcome.rejectReason).toBe(SrtReject.CONFLICT);
      return undefined;
    }, refusalMs + 10_000);
    // Applied no earlier than refuseKey was called (libsrt's clock counts whole milliseconds): never let through early.
    expect(connected - refusedAt).toBeGreaterThanOrEqual(refusalMs - 1);
    await waitFor('the caller to be handed over', async () => (received[0] ? true : undefined), 2000);
    expect(received).toHaveLength(1);
  });

  it('keeps receiving while the main thread is blocked, then drops a caller that the main thread fell behind', async () => {
    const small = await SrtServer.start({ host: '127.0.0.1', port: 0, passphraseSecret: SECRET, accept, maxInFlightBytes: 48 * 1024 });
    try {
      start(small.port, 'key-blocked', await srtPassphraseFor(SECRET, 'key-blocked'));
      await waitFor('data', async () => (received[0]?.bytes ? true : undefined), 8000);
      // ~250 kbit/s is ~31 KB/s: 3 s of a blocked main thread leaves far more than 48 KiB unread.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
      await waitFor('the backlog drop', async () => (received[0]?.closed ? true : undefined), 5000);
      expect(received[0]!.closed).toMatch(/fell behind/);
    } finally {
      await small.close();
    }
  });

  it('shrugs off garbage datagrams while a publisher is live', async () => {
    start(server.port, 'key-live', await srtPassphraseFor(SECRET, 'key-live'));
    await waitFor('data', async () => (received[0]?.bytes ? true : undefined), 8000);

    const socket = dgram.createSocket('udp4');
    const send = (payload: Buffer) => new Promise<void>((resolve) => socket.send(payload, server.port, '127.0.0.1', () => resolve()));
    for (let i = 0; i < 3000; i++) {
      const payload = randomBytes(1 + Math.floor(Math.random() * 1500));
      if (i % 3 === 0 && payload.length >= 16) {
        // Shaped like an SRT control packet (handshake type) addressed to the listener.
        payload.writeUInt32BE(0x80000000, 0);
        payload.writeUInt32BE(0, 12);
      }
      await send(payload);
    }
    socket.close();

    const before = received[0]!.bytes;
    await new Promise((r) => setTimeout(r, 2000));
    expect(received[0]!.closed).toBeNull();
    expect(received[0]!.bytes - before).toBeGreaterThan(20_000);
    // And the port still takes new callers.
    const outcome = await callerOutcome(server.port, { streamId: 'key-after-garbage', passphrase: await srtPassphraseFor(SECRET, 'key-after-garbage') });
    expect(outcome.state).toBe('connected');
  });
});
