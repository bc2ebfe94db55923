// Hostile ingest beside a live broadcast: the RTMP Set-Chunk-Size-1 flood and slowloris from 59 loopback addresses
// (run as a separate process, so the attacker's CPU and memory stay out of the origin's figures), and the SRT
// handshake storm of 200 bogus callers. The live broadcast must not notice; a new publisher must still be served;
// the origin's memory stays bounded.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Fault } from '../fault.ts';
import { midBroadcast, type Inject } from '../flows.ts';
import { SMALL_ENCODE, sleep, type FaultContext } from '../context.ts';
import { publish } from '../../../test/support/encoder.ts';
import { rssBytes } from '../../../test/support/processes.ts';
import { LOST } from '../invariants.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const RTMP_ATTACKS = path.join(root, 'test/support/rtmp-attacks.ts');
const SRT_ATTACKS = path.join(root, 'test/support/srt-attacks.ts');
const missing = (file: string) => async () => (existsSync(file) ? null : `${path.relative(root, file)} is not there yet`);

/** Runs the attack CLI in its own process; its last stdout line is its figures. */
function attackProcess(kind: 'flood' | 'slowloris', port: number, seconds: number): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RTMP_ATTACKS, kind, '--port', String(port), '--seconds', String(seconds), '--from', '2', '--to', '60'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out = (out + d).slice(-8000)));
    child.stderr.on('data', (d) => (out = (out + d).slice(-8000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('exit', () => {
      clearTimeout(killer);
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        resolve({ attackerOutput: last.slice(0, 300) });
      }
    });
  });
}

/** Samples the origin's RSS while `work` runs: the baseline before and the peak during. */
async function withRss<T>(ctx: FaultContext, work: Promise<T>): Promise<{ result: T; rssBeforeMB: number; rssPeakMB: number }> {
  const pid = ctx.stack.originPid();
  const rssBeforeMB = pid ? Math.round(rssBytes(pid) / 1e6) : 0;
  let peak = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const current = ctx.stack.originPid();
      if (current) peak = Math.max(peak, rssBytes(current));
      await sleep(250);
    }
  })();
  const result = await work.finally(() => (done = true));
  await sampling;
  return { result, rssBeforeMB, rssPeakMB: Math.round(peak / 1e6) };
}

/** A publisher that comes during the attack must be served. */
async function servedDuring(ctx: FaultContext): Promise<{ servedMs: number | null }> {
  const stream = await ctx.stack.createStream({ reconnectWindow: 2 });
  const startedAt = Date.now();
  const encoder = publish(ctx.rtmpUrl(stream.streamKey), { ...SMALL_ENCODE, seconds: 30 });
  try {
    await ctx.waitLive(stream.streamId, 15_000);
    return { servedMs: Date.now() - startedAt };
  } catch {
    return { servedMs: null };
  } finally {
    await encoder.kill();
  }
}

const rtmpAttack = (kind: 'flood' | 'slowloris', seconds: number): Inject => async (ctx) => {
  const attack = attackProcess(kind, ctx.stack.ports.rtmp, seconds);
  const probe = (async () => {
    await sleep(Math.min(5000, (seconds * 1000) / 3)); // once the slots are taken
    return servedDuring(ctx);
  })();
  const { result, rssBeforeMB, rssPeakMB } = await withRss(ctx, attack);
  const served = await probe;
  return { attack: result, rssBeforeMB, rssPeakMB, newPublisherServedMs: served.servedMs };
};

function attackFault(name: string, kind: 'flood' | 'slowloris', seconds: number, ci = false): Fault {
  const quick = ci ? { reconnectWindow: 3, segments: 1 } : { reconnectWindow: 5 };
  return {
    name,
    moment: 'mid-broadcast',
    ci,
    skip: missing(RTMP_ATTACKS),
    async run(ctx) {
      const outcome = await midBroadcast(ctx, rtmpAttack(kind, seconds), { noKick: true, ...quick });
      if (outcome.figures.newPublisherServedMs === null) outcome.violations.push(`${LOST} a new publisher was not served during the ${kind}`);
      const peak = Number(outcome.figures.rssPeakMB ?? 0);
      const before = Number(outcome.figures.rssBeforeMB ?? 0);
      // Bounded: the attack may cost the origin its per-origin cap, not hundreds of MB.
      if (peak - before > 300) outcome.violations.push(`the origin's RSS grew by ${peak - before} MB under the ${kind}`);
      return outcome;
    },
  };
}

export const rtmpAttacks: Fault[] = [
  attackFault('RTMP flood 20 s from 59 addresses', 'flood', 20),
  attackFault('RTMP slowloris 20 s from 59 addresses', 'slowloris', 20),
];
/** The CI-sized flood: 5 s. */
export const rtmpFloodShort = attackFault('RTMP flood 5 s from 59 addresses', 'flood', 5, true);

export const srtStorm: Fault = {
  name: 'SRT handshake storm, 200 callers',
  moment: 'mid-broadcast',
  skip: missing(SRT_ATTACKS),
  run: (ctx) =>
    midBroadcast(
      ctx,
      async () => {
        const { srtHandshakeStorm } = await import('../../../test/support/srt-attacks.ts');
        const { result, rssBeforeMB, rssPeakMB } = await withRss(ctx, srtHandshakeStorm({ host: '127.0.0.1', port: ctx.stack.ports.srt, callers: 200, seconds: 10 }));
        return { storm: result, rssBeforeMB, rssPeakMB };
      },
      { protocol: 'srt', noKick: true, maxLostSegments: 0, reconnectWindow: 5 },
    ),
};
