// The SRT listener and its libsrt binding with real callers: ffmpeg publishing MPEG-TS with a passphrase, a wrong
// passphrase refused by libsrt, reject reasons as a caller receives them, slow verdicts, a main thread that stops
// reading, and garbage datagrams at the port while a publisher is live.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SrtServer, SrtReject, type SrtCaller, type SrtDecision, type SrtPublisher } from '../../../origin/srt/server.ts';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import { parseStreamId } from '../../../origin/srt/streamid.ts';
import type { SrtLinkSample } from '../../../origin/srt/link-health.ts';
import { publish, type Publisher } from '../../support/encoder.ts';

const PASSPHRASE = 'correct-horse-battery-01';
const binding = loadSrtBinding();

/** What one accepted caller delivered. */
interface Received {
  caller: SrtCaller;
  chunks: Uint8Array[];
  bytes: number;
  connected: boolean;
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

let decide: (caller: SrtCaller) => Promise<SrtDecision>;
const received: Received[] = [];
const publishers: Publisher[] = [];
let server: SrtServer;

function accept(passphrase = PASSPHRASE): (caller: SrtCaller) => Promise<SrtDecision> {
  return async (caller) => {
    const r: Received = { caller, chunks: [], bytes: 0, connected: false, links: [], closed: null };
    received.push(r);
    const publisher: SrtPublisher = {
      passphrase,
      latencyMs: 200,
      connected: () => (r.connected = true),
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
    return { accept: publisher };
  };
}

const url = (port: number, streamId: string, passphrase: string) =>
  `srt://127.0.0.1:${port}?streamid=${encodeURIComponent(streamId)}&passphrase=${passphrase}&latency=120000&mode=caller`;

function start(port: number, streamId: string, passphrase = PASSPHRASE, seconds = 600): Publisher {
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
    decide: (caller) => decide(caller),
    statsIntervalMs: 500,
    listen: { authTimeoutMs: 800 },
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
  it('accepts two callers with their own passphrases on one port and delivers each one its MPEG-TS', async () => {
    const passphrases = new Map([['key-one', 'passphrase-of-one'], ['key-two', 'passphrase-of-two']]);
    decide = (caller) => {
      const parsed = parseStreamId(caller.streamId); // ffmpeg 5.1 sends the streamid still percent-encoded
      return accept(parsed.ok ? passphrases.get(parsed.streamKey) : undefined)(caller);
    };
    const one = start(server.port, '#!::r=key-one,m=publish', 'passphrase-of-one', 3);
    const two = start(server.port, 'key-two', 'passphrase-of-two', 3);
    expect(await one.exited).toBe(0);
    expect(await two.exited).toBe(0);
    await waitFor('both connections to close', async () => (received.length === 2 && received.every((r) => r.closed) ? true : undefined), 8000);

    for (const r of received) {
      expect(r.connected).toBe(true);
      expect(r.caller.remoteAddress).toBe('127.0.0.1');
      // Three seconds at ~250 kbit/s; every chunk is whole TS packets (SRT messages of 7 packets each).
      expect(r.bytes).toBeGreaterThan(30_000);
      for (const chunk of r.chunks) {
        expect(chunk[0]).toBe(0x47);
        expect(chunk.length % 188).toBe(0);
      }
      expect(r.links.length).toBeGreaterThan(0);
      expect(r.links.at(-1)!.latencyMs).toBeGreaterThanOrEqual(200);
      expect(r.closed).toMatch(/SRT connection/);
    }
    expect(server.connections).toBe(0);
  });

  it('refuses a wrong passphrase in the handshake: ffmpeg fails and not one byte arrives', async () => {
    decide = accept(PASSPHRASE);
    const wrong = start(server.port, 'key-wrong-pass', 'not-the-right-passphrase');
    expect(await wrong.exited).not.toBe(0);
    await waitFor('the granted caller to be closed', async () => (received[0]?.closed ? true : undefined), 5000);
    expect(received[0]).toMatchObject({ connected: false, bytes: 0 });
    expect(received[0]!.closed).toMatch(/handshake failed/);
  });

  it('delivers the reject reason that decide chose', async () => {
    for (const reject of [SrtReject.CONFLICT, SrtReject.UNAUTHORIZED, SrtReject.BAD_MODE]) {
      decide = async () => ({ reject, reason: 'test' });
      const outcome = await callerOutcome(server.port, { streamId: `key-${reject}`, passphrase: PASSPHRASE });
      expect(outcome.rejectReason).toBe(reject);
      expect(outcome.state).not.toBe('connected');
    }
  });

  it('refuses with SRT_REJX_DOWN when the verdict takes too long, and closes the late grant', async () => {
    let late: Received | undefined;
    decide = async (caller) => {
      await new Promise((r) => setTimeout(r, 1200)); // past authTimeoutMs (800)
      const decision = await accept()(caller);
      late = received.at(-1);
      return decision;
    };
    const outcome = await callerOutcome(server.port, { streamId: 'key-slow', passphrase: PASSPHRASE });
    expect(outcome.rejectReason).toBe(SrtReject.DOWN);
    await waitFor('the late grant to be closed', async () => (late?.closed ? true : undefined), 5000);
    expect(late!.closed).toMatch(/came after/);
  });

  it('keeps receiving while the main thread is blocked, then drops a caller that the main thread fell behind', async () => {
    const small = await SrtServer.start({ host: '127.0.0.1', port: 0, decide: accept(), maxInFlightBytes: 48 * 1024 });
    try {
      start(small.port, 'key-blocked');
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
    decide = accept();
    start(server.port, 'key-live');
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
    const outcome = await callerOutcome(server.port, { streamId: 'key-after-garbage', passphrase: PASSPHRASE });
    expect(outcome.state).toBe('connected');
  });
});
