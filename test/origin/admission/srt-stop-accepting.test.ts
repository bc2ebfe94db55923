// Draining an SRT listener (SrtServer.stopAccepting, origin/drain.ts): the access hook rejects every new caller with
// SRT_REJX 1503 (service unavailable), whatever its key, while a caller already publishing keeps its connection; a
// full origin (SrtServer.setFull, following the capacity ledger) rejects them with 1402 (overload) meanwhile.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SrtServer, SrtReject, type SrtCaller, type SrtPublisher } from '../../../origin/srt/server.ts';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import { srtPassphraseFor } from '../../../shared/srt-passphrase.ts';

const SECRET = 'srt-stop-accepting-test-passphrase-key';
const binding = loadSrtBinding();
let server: SrtServer;
const callers: { caller: SrtCaller; closed: string | null }[] = [];

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Connects the binding's own caller; resolves with its socket once libsrt settles the attempt. */
async function connect(streamId: string) {
  const socket = binding.callerConnect('127.0.0.1', server.port, { streamId, passphrase: await srtPassphraseFor(SECRET, streamId) });
  const state = await until('the caller to settle', () => {
    const s = binding.callerState(socket);
    return s.state === 'connecting' || s.state === 'opened' || s.state === 'init' ? undefined : s;
  }, 8000);
  return { socket, state };
}

beforeAll(async () => {
  server = await SrtServer.start({
    host: '127.0.0.1',
    port: 0,
    passphraseSecret: SECRET,
    accept(caller): SrtPublisher {
      const entry = { caller, closed: null as string | null };
      callers.push(entry);
      return { data: () => {}, closed: (reason) => void (entry.closed = reason) };
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('SrtServer.stopAccepting', () => {
  it('rejects new callers at the hook with 1503 and keeps the connected ones', async () => {
    const first = await connect('sk_first_key_0000000000000000');
    expect(first.state.state).toBe('connected');
    await until('the server to take the caller', () => (callers.length === 1 ? true : undefined), 5000);

    server.stopAccepting();
    // The refusal reaches the worker within one poll turn.
    await new Promise((r) => setTimeout(r, 200));
    const refused = await connect('sk_second_key_000000000000000');
    expect(refused.state).toMatchObject({ state: 'broken', rejectReason: SrtReject.DOWN });
    binding.callerClose(refused.socket);

    expect(binding.callerState(first.socket).state).toBe('connected');
    expect(callers).toHaveLength(1);
    expect(callers[0]!.closed).toBeNull();
    binding.callerClose(first.socket);
  });

  it('a full origin rejects callers with 1402 until it has room again; draining outranks it', async () => {
    const other = await SrtServer.start({ host: '127.0.0.1', port: 0, passphraseSecret: SECRET, accept: () => ({ data: () => {}, closed: () => {} }) });
    try {
      const attempt = async (streamId: string) => {
        const socket = binding.callerConnect('127.0.0.1', other.port, { streamId, passphrase: await srtPassphraseFor(SECRET, streamId) });
        const state = await until('the caller to settle', () => {
          const s = binding.callerState(socket);
          return s.state === 'connecting' || s.state === 'opened' || s.state === 'init' ? undefined : s;
        }, 8000);
        binding.callerClose(socket);
        return state;
      };
      const settle = () => new Promise((r) => setTimeout(r, 200));
      other.setFull(true);
      await settle();
      expect(await attempt('sk_full_key_00000000000000000')).toMatchObject({ state: 'broken', rejectReason: SrtReject.OVERLOAD });
      other.setFull(false);
      await settle();
      expect((await attempt('sk_room_key_00000000000000000')).state).toBe('connected');
      other.stopAccepting();
      other.setFull(false);
      await settle();
      expect(await attempt('sk_late_key_00000000000000000')).toMatchObject({ state: 'broken', rejectReason: SrtReject.DOWN });
    } finally {
      await other.close();
    }
  });
});
