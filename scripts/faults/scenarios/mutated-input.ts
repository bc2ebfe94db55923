// Mutated ingest beside a live broadcast: a real ffmpeg's RTMP stream relayed with bits flipped or cut short, and a
// real MPEG-TS file mutated the same way sent raw over SRT with a valid key. Whatever the bytes, the origin never
// exits, the broadcast beside it goes on, and every mutated stream ends in a settled status.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Expectation, Fault } from '../fault.ts';
import { midBroadcast } from '../flows.ts';
import { SMALL_ENCODE, sleep, type FaultContext } from '../context.ts';
import { publish } from '../../../test/support/encoder.ts';

const run = promisify(execFile);

export interface Mutation {
  /** chance per byte that one bit of it flips */
  flipRate: number;
  /** bytes left alone at the start (0 mutates the handshake too) */
  cleanPrefix: number;
  /** the stream is cut after this many bytes (null: not cut) */
  truncateAt: number | null;
}

export const MUTATIONS: Mutation[] = [
  { flipRate: 1e-5, cleanPrefix: 16_384, truncateAt: null },
  { flipRate: 1e-4, cleanPrefix: 16_384, truncateAt: null },
  { flipRate: 1e-3, cleanPrefix: 16_384, truncateAt: null },
  { flipRate: 1e-2, cleanPrefix: 0, truncateAt: null },
  { flipRate: 0, cleanPrefix: 0, truncateAt: 40_000 },
  { flipRate: 1e-3, cleanPrefix: 4_000, truncateAt: 150_000 },
];

/** Pure: the bytes at [offset, offset + chunk.length) of a stream after mutation, with a seeded generator. */
export function mutate(chunk: Buffer, offset: number, mutation: Mutation, random: () => number): Buffer {
  const out = Buffer.from(chunk);
  if (mutation.flipRate <= 0) return out;
  for (let i = Math.max(0, mutation.cleanPrefix - offset); i < out.length; i++) {
    if (random() < mutation.flipRate) out[i] = out[i]! ^ (1 << Math.floor(random() * 8));
  }
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

/** A relay between an encoder and the origin's RTMP port that mutates what the encoder sends. */
async function mutatingRelay(originPort: number, mutation: Mutation, seed: number): Promise<{ port: number; close(): Promise<void> }> {
  const random = seeded(seed);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(originPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let offset = 0;
    client.on('data', (chunk: Buffer) => {
      const limit = mutation.truncateAt ?? Infinity;
      const part = offset + chunk.length > limit ? chunk.subarray(0, Math.max(0, limit - offset)) : chunk;
      upstream.write(mutate(part, offset, mutation, random));
      offset += chunk.length;
      if (offset >= limit) {
        client.destroy();
        upstream.end();
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function mutatedRtmp(ctx: FaultContext): Promise<{ figures: Record<string, unknown>; expectations: Expectation[] }> {
  const expectations: Expectation[] = [];
  const exits: (number | null)[] = [];
  for (const [i, mutation] of MUTATIONS.entries()) {
    const stream = await ctx.stack.createStream({ reconnectWindow: 2 });
    const relay = await mutatingRelay(ctx.stack.ports.rtmp, mutation, 1000 + i);
    const encoder = publish(`rtmp://127.0.0.1:${relay.port}/live/${stream.streamKey}`, { ...SMALL_ENCODE, seconds: 8 });
    exits.push(await Promise.race([encoder.exited, sleep(12_000).then(() => null)]));
    await encoder.kill();
    await relay.close();
    expectations.push({ streamId: stream.streamId, final: ['STOPPED', 'NOT_STARTED', 'ERROR'], withinSeconds: 40 });
  }
  return { figures: { rtmpMutations: MUTATIONS.length, encoderExits: exits }, expectations };
}

/** A real 6 s MPEG-TS of the small encode, made once. */
async function sampleTs(dir: string): Promise<Buffer> {
  const file = path.join(dir, 'sample.ts');
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-b:v', '300k', '-c:a', 'aac', '-f', 'mpegts', file,
  ]);
  return readFile(file);
}

/** Sends `bytes` raw over SRT as the stream's encoder would, paced over about `seconds`, 1316 bytes a packet. */
async function sendOverSrt(ctx: FaultContext, stream: any, bytes: Buffer, seconds: number): Promise<string> {
  const { loadSrtBinding } = await import('../../../origin/srt/native.ts');
  const binding = loadSrtBinding();
  const url = new URL(stream.ingest.srt.url);
  const socket = binding.callerConnect('127.0.0.1', ctx.stack.ports.srt, {
    streamId: url.searchParams.get('streamid') ?? undefined,
    passphrase: url.searchParams.get('passphrase') ?? undefined,
  });
  try {
    const deadline = Date.now() + 5000;
    let state = binding.callerState(socket).state;
    while (['init', 'opened', 'connecting'].includes(state) && Date.now() < deadline) {
      await sleep(20);
      state = binding.callerState(socket).state;
    }
    if (state !== 'connected') return `not connected: ${state}`;
    const packets = Math.ceil(bytes.length / 1316);
    const gapMs = (seconds * 1000) / packets;
    const startedAt = Date.now();
    for (let i = 0; i < packets; i++) {
      if (binding.callerSend(socket, bytes.subarray(i * 1316, (i + 1) * 1316)) < 0) return `send refused after ${i} packets`;
      const due = startedAt + (i + 1) * gapMs;
      if (due - Date.now() > 5) await sleep(due - Date.now());
    }
    return 'sent';
  } finally {
    binding.callerClose(socket);
  }
}

async function mutatedTs(ctx: FaultContext): Promise<{ figures: Record<string, unknown>; expectations: Expectation[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-ts-'));
  try {
    const sample = await sampleTs(dir);
    const expectations: Expectation[] = [];
    const results: string[] = [];
    for (const [i, mutation] of MUTATIONS.entries()) {
      const stream = await ctx.stack.createStream({ reconnectWindow: 2 });
      const cut = mutation.truncateAt === null ? sample : sample.subarray(0, mutation.truncateAt);
      results.push(await sendOverSrt(ctx, stream, mutate(cut, 0, mutation, seeded(2000 + i)), 4));
      expectations.push({ streamId: stream.streamId, final: ['STOPPED', 'NOT_STARTED', 'ERROR'], withinSeconds: 40 });
    }
    return { figures: { tsMutations: MUTATIONS.length, tsBytes: sample.length, sends: results }, expectations };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mutatedFault(name: string, send: typeof mutatedRtmp): Fault {
  return {
    name,
    moment: 'mid-broadcast',
    async run(ctx) {
      let extra: Awaited<ReturnType<typeof mutatedRtmp>> = { figures: {}, expectations: [] };
      const outcome = await midBroadcast(ctx, async () => {
        extra = await send(ctx);
        return extra.figures;
      }, { noKick: true, reconnectWindow: 5 });
      outcome.expectations.push(...extra.expectations);
      return outcome;
    },
  };
}

export const mutatedInputs: Fault[] = [
  mutatedFault('mutated RTMP streams (bit flips, truncation)', mutatedRtmp),
  mutatedFault('mutated MPEG-TS over SRT (bit flips, truncation)', mutatedTs),
];
