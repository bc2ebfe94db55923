// SRT ingest's wiring with a stand-in LiveIngest: streamid parsing, refusals mapped to reject reasons as a caller
// receives them, the checked grant's passphrase and latency on the connection, admission only once the handshake is
// complete, and an accepted caller's media, link health and end reaching its broadcast.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSrtIngest, rejectReasonFor } from '../../../origin/ingest/srt-ingest.ts';
import type { LiveIngest } from '../../../origin/ingest/live-ingest.ts';
import type { SrtServer } from '../../../origin/srt/server.ts';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import { publish } from '../../support/encoder.ts';

const binding = loadSrtBinding();
const KEY = 'sk_live0000000000000000000000000001';
const PASSPHRASE = 'stream-secret-0123456789';

interface FakeBroadcast {
  grant: { srtPassphrase?: string; srtLatency: number };
  bytes: number;
  health: (readonly string[])[];
  released: string | null;
  pushBytes(chunk: Uint8Array): void;
  reportLinkHealth(issues: readonly string[]): void;
}

const admitted: {
  request: { streamKey: string; protocol: string; remoteAddress: string };
  broadcast: FakeBroadcast;
  disconnect: (reason: string) => void;
}[] = [];
let refusal: string | null = null;

const ingest = {
  // Before the handshake: the verdict and the connection settings, nothing admitted yet.
  async check() {
    if (refusal) return { ok: false, reason: refusal, detail: 'test' };
    return { ok: true, grant: { srtPassphrase: PASSPHRASE, srtLatency: 300 } };
  },
  // After the handshake: the publish itself.
  async admit(request: { streamKey: string; protocol: string; remoteAddress: string }, disconnect: (reason: string) => void) {
    if (refusal) return { ok: false, reason: refusal, detail: 'test' };
    const broadcast: FakeBroadcast = {
      grant: { srtPassphrase: PASSPHRASE, srtLatency: 300 },
      bytes: 0,
      health: [],
      released: null,
      pushBytes(chunk) {
        this.bytes += chunk.length;
      },
      reportLinkHealth(issues) {
        this.health.push(issues);
      },
    };
    admitted.push({ request, broadcast, disconnect });
    return { ok: true, broadcast };
  },
  released(broadcast: FakeBroadcast, reason: string) {
    broadcast.released = reason;
  },
} as unknown as LiveIngest;

let server: SrtServer;
beforeAll(async () => {
  server = await startSrtIngest(ingest, { host: '127.0.0.1', port: 0, statsIntervalMs: 500 });
});
afterAll(async () => {
  await server?.close();
});

async function rejectReasonOf(streamId: string): Promise<number> {
  const socket = binding.callerConnect('127.0.0.1', server.port, { streamId, passphrase: PASSPHRASE });
  try {
    for (let i = 0; i < 100; i++) {
      const state = binding.callerState(socket);
      if (!['init', 'opened', 'connecting'].includes(state.state)) return state.rejectReason;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the caller never settled');
  } finally {
    binding.callerClose(socket);
  }
}

describe('SRT ingest', () => {
  it('maps every refusal to an SRT Access Control reject reason', () => {
    expect([
      'unknown_stream_key', 'stream_disabled', 'stream_finished', 'stream_deleted', 'already_live', 'origin_at_capacity', 'edge_unavailable', 'something_new',
    ].map(rejectReasonFor)).toEqual([1401, 1403, 1403, 1404, 1409, 1402, 1503, 1403]);
  });

  it('refuses a bad streamid or a playback request without asking the edge', async () => {
    expect(await rejectReasonOf(`#!::r=${KEY},m=request`)).toBe(1405);
    expect(await rejectReasonOf('#!::m=publish')).toBe(1400);
    expect(admitted).toHaveLength(0);
  });

  it('passes the edge refusal on as the reject reason', async () => {
    refusal = 'already_live';
    try {
      expect(await rejectReasonOf(`#!::r=${KEY},m=publish`)).toBe(1409);
      refusal = 'stream_disabled';
      expect(await rejectReasonOf(KEY)).toBe(1403);
    } finally {
      refusal = null;
    }
  });

  it('feeds an accepted caller into its broadcast, with the grant passphrase and latency', async () => {
    const url = `srt://127.0.0.1:${server.port}?streamid=${encodeURIComponent(`#!::r=${KEY},m=publish`)}&passphrase=${PASSPHRASE}&latency=120000`;
    const encoder = publish(url, { format: 'mpegts', seconds: 2, size: '320x180' });
    expect(await encoder.exited).toBe(0);
    for (let i = 0; i < 100 && !admitted[0]?.broadcast.released; i++) await new Promise((r) => setTimeout(r, 50));
    const [{ request, broadcast }] = admitted as [(typeof admitted)[0]];
    expect(request).toEqual({ streamKey: KEY, protocol: 'srt', remoteAddress: '127.0.0.1' });
    expect(broadcast.bytes).toBeGreaterThan(20_000);
    expect(broadcast.health.length).toBeGreaterThan(0);
    expect(broadcast.health.at(-1)).toEqual([]); // loopback: a clean link
    expect(broadcast.released).toMatch(/SRT connection/);
  });

  it('drops the caller when the broadcast disconnects it (an edge kick), and the encoder notices at once', async () => {
    admitted.length = 0;
    const url = `srt://127.0.0.1:${server.port}?streamid=${KEY}&passphrase=${PASSPHRASE}`;
    const encoder = publish(url, { format: 'mpegts', size: '320x180' });
    try {
      for (let i = 0; i < 100 && !admitted[0]?.broadcast.bytes; i++) await new Promise((r) => setTimeout(r, 50));
      const kickedAt = Date.now();
      admitted[0]!.disconnect('the stream was deleted');
      const code = await Promise.race([encoder.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
      expect(code).not.toBe('still running');
      expect(code).not.toBe(0);
      expect(Date.now() - kickedAt).toBeLessThan(2500);
      expect(admitted[0]!.broadcast.released).toBe('the stream was deleted');
    } finally {
      await encoder.kill();
    }
  });
});

describe('SRT ingest, wrong passphrase', () => {
  it('admits nothing when the handshake fails', async () => {
    admitted.length = 0;
    const url = `srt://127.0.0.1:${server.port}?streamid=${KEY}&passphrase=not-the-passphrase-000`;
    const encoder = publish(url, { format: 'mpegts', seconds: 2, size: '320x180' });
    expect(await encoder.exited).not.toBe(0);
    expect(admitted).toHaveLength(0);
  });
});
