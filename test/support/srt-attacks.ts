// Hostile SRT callers for tests and the fault suite: a bounded storm of handshakes with random stream ids and random
// or missing passphrases, from many loopback source addresses, through the binding's small caller API. The storm
// runs in a child process of its own, as an attacker would: in-process, libsrt's caller setup (a UDP socket and two
// threads per caller, under libsrt's global lock) blocks the test's event loop for hundreds of ms and would be
// measured as the victim's stall.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSrtBinding } from '../../origin/srt/native.ts';

const CHILD_FLAG = '--srt-handshake-storm';

export interface HandshakeStormOptions {
  host: string;
  port: number;
  /** how many callers knock in all */
  callers: number;
  /** the callers are spread over this many seconds */
  seconds: number;
  /** callers in their handshake at once; default 25 */
  concurrency?: number;
  /** each caller from its own 127.x.y.z (per-address limits then do not shield the port); default true */
  spreadAddresses?: boolean;
  /** one caller's whole attempt; default 4000 ms */
  attemptTimeoutMs?: number;
}

export interface HandshakeStormFigures {
  attempts: number;
  /** the handshake ended without a connection (a reject reason, or libsrt's own refusal) */
  refused: number;
  /** a bogus caller got a connection: must be 0 */
  accepted: number;
  /** no answer within attemptTimeoutMs */
  unanswered: number;
  /** reject reason → callers */
  rejectReasons: Record<number, number>;
  /** from connect to the verdict, as the callers saw it */
  verdictMs: { median: number; p95: number; max: number };
  elapsedMs: number;
}

const SETTLING = new Set(['init', 'opened', 'connecting']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random62 = (n: number) => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, n);

/** What a bogus caller sends: random keys in both streamid forms, some junk, random or no passphrase. */
function bogusCaller(i: number): { streamId: string; passphrase?: string } {
  const key = `sk_${random62(32)}`;
  const streamId = i % 5 === 4 ? random62(20 + (i % 40)) : i % 2 === 0 ? `#!::r=${key},m=publish` : key;
  return i % 3 === 0 ? { streamId } : { streamId, passphrase: random62(10 + (i % 60)) };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Knocks `callers` times over about `seconds` from a child process and reports how the port answered. Bounded. */
export function srtHandshakeStorm(options: HandshakeStormOptions): Promise<HandshakeStormFigures> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const limitMs = options.seconds * 1000 + (options.attemptTimeoutMs ?? 4000) + 20_000;
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout = (stdout + d).slice(-64_000)));
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as HandshakeStormFigures);
      else reject(new Error(`the SRT handshake storm failed (exit ${code ?? signal}): ${stderr.slice(-1000)}`));
    });
  });
}

/** The storm itself, in this process. */
export async function runHandshakeStorm(options: HandshakeStormOptions): Promise<HandshakeStormFigures> {
  const { host, port, callers, seconds, concurrency = 25, spreadAddresses = true, attemptTimeoutMs = 4000 } = options;
  const binding = loadSrtBinding();
  const figures: HandshakeStormFigures = {
    attempts: 0, refused: 0, accepted: 0, unanswered: 0, rejectReasons: {}, verdictMs: { median: 0, p95: 0, max: 0 }, elapsedMs: 0,
  };
  const verdicts: number[] = [];
  const startedAt = Date.now();
  const gapMs = (seconds * 1000) / Math.max(1, callers);
  let inFlight = 0;

  const attempt = async (i: number): Promise<void> => {
    const caller = bogusCaller(i);
    // 127.1.0.0/16 upwards: never 127.0.0.1, where the test's own publisher is.
    const localAddress = spreadAddresses ? `127.${1 + ((i >> 16) & 0x7f)}.${(i >> 8) & 0xff}.${(i & 0xff) || 1}` : undefined;
    const connectAt = Date.now();
    let socket: number;
    try {
      socket = binding.callerConnect(host, port, { ...caller, ...(localAddress ? { localAddress } : {}) });
    } catch {
      figures.refused += 1; // refused before a packet left (cannot happen against a listener; counted, not hidden)
      return;
    }
    figures.attempts += 1;
    try {
      for (;;) {
        const state = binding.callerState(socket);
        if (!SETTLING.has(state.state)) {
          verdicts.push(Date.now() - connectAt);
          if (state.state === 'connected') figures.accepted += 1;
          else {
            figures.refused += 1;
            figures.rejectReasons[state.rejectReason] = (figures.rejectReasons[state.rejectReason] ?? 0) + 1;
          }
          return;
        }
        if (Date.now() - connectAt > attemptTimeoutMs) {
          figures.unanswered += 1;
          return;
        }
        await sleep(10);
      }
    } finally {
      binding.callerClose(socket);
    }
  };

  const running: Promise<void>[] = [];
  for (let i = 0; i < callers; i++) {
    while (inFlight >= concurrency) await sleep(5);
    const due = startedAt + i * gapMs;
    if (due > Date.now()) await sleep(due - Date.now());
    inFlight += 1;
    running.push(attempt(i).finally(() => (inFlight -= 1)));
  }
  await Promise.all(running);
  verdicts.sort((a, b) => a - b);
  figures.verdictMs = { median: quantile(verdicts, 0.5), p95: quantile(verdicts, 0.95), max: verdicts.at(-1) ?? 0 };
  figures.elapsedMs = Date.now() - startedAt;
  return figures;
}

if (process.argv[2] === CHILD_FLAG) {
  runHandshakeStorm(JSON.parse(process.argv[3]!) as HandshakeStormOptions).then(
    (figures) => {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
