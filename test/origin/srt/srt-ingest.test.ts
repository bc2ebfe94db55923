// SRT ingest's wiring with a stand-in LiveIngest: the hook refuses bad streamids and wrong passphrases without the
// edge, a caller through the handshake is admitted (the edge's word) and its media, link health and end reach its
// broadcast, an edge refusal drops the caller and is answered by the hook to that key's next attempts, and no log
// line ever carries a stream key or a passphrase, whatever the streamid looks like (issue 10, defect 12).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSrtIngest, rejectReasonFor } from '../../../origin/ingest/srt-ingest.ts';
import type { LiveIngest } from '../../../origin/ingest/live-ingest.ts';
import type { SrtServer } from '../../../origin/srt/server.ts';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import { parseStreamId } from '../../../origin/srt/streamid.ts';
import { srtPassphraseFor } from '../../../shared/srt-passphrase.ts';
import { publish } from '../../support/encoder.ts';

const binding = loadSrtBinding();
const SECRET = 'srt-ingest-test-origin-secret';
const KEY = 'sk_live0000000000000000000000000001';
let PASSPHRASE: string;

interface FakeBroadcast {
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
let admitCalls = 0;
let refusal: string | null = null;
/** Every line the SRT ingest logged, as it would be written. */
const logLines: string[] = [];

const ingest = {
  // After the handshake: the publish itself, the edge's word.
  async admit(request: { streamKey: string; protocol: string; remoteAddress: string }, disconnect: (reason: string) => void) {
    admitCalls += 1;
    await new Promise((r) => setTimeout(r, 30)); // the edge's round trip
    if (refusal) return { ok: false, reason: refusal, detail: 'test' };
    const broadcast: FakeBroadcast = {
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
  // Never full here: capacity refusals at the hook are test/origin/admission/srt-stop-accepting.test.ts's.
  watchFull: (listener: (full: boolean) => void) => {
    listener(false);
    return () => undefined;
  },
} as unknown as LiveIngest;

let server: SrtServer;
beforeAll(async () => {
  PASSPHRASE = await srtPassphraseFor(SECRET, KEY);
  server = await startSrtIngest(ingest, {
    host: '127.0.0.1',
    port: 0,
    passphraseSecret: SECRET,
    statsIntervalMs: 500,
    listen: { callersPerAddress: 1000 },
    log: (event, fields) => logLines.push(JSON.stringify({ event, ...fields })),
  });
});
afterAll(async () => {
  await server?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function outcomeOf(streamId: string, passphrase: string | null = PASSPHRASE): Promise<{ state: string; rejectReason: number }> {
  const socket = binding.callerConnect('127.0.0.1', server.port, { streamId, ...(passphrase ? { passphrase } : {}) });
  try {
    for (let i = 0; i < 100; i++) {
      const state = binding.callerState(socket);
      if (!['init', 'opened', 'connecting'].includes(state.state)) return state;
      await sleep(50);
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

  it('refuses a bad streamid, a playback request, a wrong or no passphrase without asking the edge', async () => {
    expect((await outcomeOf(`#!::r=${KEY},m=request`)).rejectReason).toBe(1405);
    expect((await outcomeOf('#!::m=publish')).rejectReason).toBe(1400);
    expect((await outcomeOf(KEY, 'not-the-passphrase-000')).rejectReason).toBe(10); // SRT_REJ_BADSECRET
    expect((await outcomeOf(KEY, await srtPassphraseFor('another-secret', KEY))).rejectReason).toBe(10);
    expect((await outcomeOf(KEY, null)).rejectReason).toBe(11); // SRT_REJ_UNSECURE
    expect(admitCalls).toBe(0);
  });

  it('feeds an accepted caller into its broadcast', async () => {
    const url = `srt://127.0.0.1:${server.port}?streamid=${encodeURIComponent(`#!::r=${KEY},m=publish`)}&passphrase=${PASSPHRASE}&latency=120000`;
    const encoder = publish(url, { format: 'mpegts', seconds: 2, size: '320x180' });
    expect(await encoder.exited).toBe(0);
    for (let i = 0; i < 100 && !admitted[0]?.broadcast.released; i++) await sleep(50);
    const [{ request, broadcast }] = admitted as [(typeof admitted)[0]];
    expect(request).toEqual({ streamKey: KEY, protocol: 'srt', remoteAddress: '127.0.0.1' });
    expect(broadcast.bytes).toBeGreaterThan(20_000); // media from before the admission included
    expect(broadcast.health.length).toBeGreaterThan(0);
    expect(broadcast.health.at(-1)).toEqual([]); // loopback: a clean link
    expect(broadcast.released).toMatch(/SRT connection/);
  });

  it('drops the caller when the broadcast disconnects it (an edge kick), and the encoder notices at once', async () => {
    admitted.length = 0;
    const url = `srt://127.0.0.1:${server.port}?streamid=${KEY}&passphrase=${PASSPHRASE}`;
    const encoder = publish(url, { format: 'mpegts', size: '320x180' });
    try {
      for (let i = 0; i < 100 && !admitted[0]?.broadcast.bytes; i++) await sleep(50);
      const kickedAt = Date.now();
      admitted[0]!.disconnect('the stream was deleted');
      const code = await Promise.race([encoder.exited, sleep(5000).then(() => 'still running')]);
      expect(code).not.toBe('still running');
      expect(code).not.toBe(0);
      expect(Date.now() - kickedAt).toBeLessThan(2500);
      expect(admitted[0]!.broadcast.released).toBe('the stream was deleted');
    } finally {
      await encoder.kill();
    }
  });

  it('an edge refusal drops the caller, and the hook gives that key a lasting reason for a while without asking again', async () => {
    admitted.length = 0;
    refusal = 'stream_deleted';
    const key = 'sk_live0000000000000000000000000002';
    const passphrase = await srtPassphraseFor(SECRET, key);
    try {
      const callsBefore = admitCalls;
      const encoder = publish(`srt://127.0.0.1:${server.port}?streamid=${key}&passphrase=${passphrase}`, { format: 'mpegts', size: '320x180', seconds: 10 });
      expect(await Promise.race([encoder.exited, sleep(8000).then(() => 'still running')])).not.toBe(0);
      await encoder.kill();
      expect(admitCalls).toBe(callsBefore + 1);
      // An encoder's retries: SRT_REJX_NOTFOUND from the hook, and no further edge call.
      for (let i = 0; i < 3; i++) expect(await outcomeOf(key, passphrase)).toMatchObject({ state: 'broken', rejectReason: 1404 });
      expect(admitCalls).toBe(callsBefore + 1);
      expect(admitted).toHaveLength(0);
    } finally {
      refusal = null;
    }
  });
});

describe('SRT ingest never logs a stream key or a passphrase (defect 12)', () => {
  // Streamids that are wrong in every way this port knows, each carrying a key (and a passphrase) that must never
  // reach a log line or a refusal detail, whichever part of the streamid it sits in.
  const SECRET_KEY = 'sk_Zq8LmW3nRt5Yv9Bc2Xk7Hp4Jd6Fg1SaE';
  const malformed: [string, string][] = [
    ['an unknown mode', `#!::r=${SECRET_KEY},m=play`],
    ['the key as the mode', `#!::r=x,m=${SECRET_KEY}`],
    ['the key as an item without =', `#!::${SECRET_KEY},m=publish`],
    ['the key given twice', `#!::r=${SECRET_KEY},r=${SECRET_KEY}`],
    ['the key as a field name given twice', `#!::${SECRET_KEY}=a,${SECRET_KEY}=b,r=x`],
    ['no r, the key under u', `#!::u=${SECRET_KEY},m=publish`],
    ['the nested Access Control form', `#!:{r=${SECRET_KEY}}`],
    ['the key and a space', `${SECRET_KEY} live`],
    ['the key and a comma', `${SECRET_KEY},x`],
    ['the key and non-ASCII', `${SECRET_KEY}é`],
    ['a broken percent-encoding after the key', `%23!%3A%3Ar%3D${SECRET_KEY}%2`],
    ['a key over 200 characters', `#!::r=${SECRET_KEY}${'x'.repeat(200)}`],
    ['a playback request', `#!::r=${SECRET_KEY},m=request`],
    ['an empty item after the key', `#!::r=${SECRET_KEY},,m=publish`],
  ];
  /** Any 8 characters of the key (or passphrase) in a row count as a leak. */
  const leaks = (text: string, secret: string) => Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8)).some((part) => text.includes(part));

  for (const [name, streamId] of malformed) {
    it(`refuses ${name} with a detail that quotes none of it`, () => {
      const parsed = parseStreamId(streamId);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(leaks(parsed.detail, SECRET_KEY), parsed.detail).toBe(false);
    });
  }

  it('logs none of it when such callers knock, nor for a wrong passphrase, an edge refusal or a live caller', async () => {
    const passphrase = await srtPassphraseFor(SECRET, SECRET_KEY);
    for (const [, streamId] of malformed) expect((await outcomeOf(streamId, passphrase)).state).toBe('broken');
    await outcomeOf(SECRET_KEY, `${passphrase.slice(0, 20)}-wrong`);
    refusal = 'stream_disabled';
    try {
      const calls = admitCalls;
      await outcomeOf(SECRET_KEY, passphrase); // through the handshake, then dropped on the edge's refusal
      await sleep(300);
      expect(admitCalls).toBe(calls + 1);
    } finally {
      refusal = null;
    }
    await sleep(1500); // the hook's counters reach the log
    const lines = [...logLines];
    expect(lines.some((l) => l.includes('"event":"srt_callers"'))).toBe(true);
    for (const line of lines) {
      expect(leaks(line, SECRET_KEY), line).toBe(false);
      expect(leaks(line, passphrase), line).toBe(false);
      expect(leaks(line, KEY), line).toBe(false);
      expect(leaks(line, PASSPHRASE), line).toBe(false);
    }
  });
});
