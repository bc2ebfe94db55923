// Memory: origin RSS per idle publisher and per transcoding stream, ffmpeg excluded (it is its own process; RSS is
// read from /proc/<pid>/status of the Node process, worker threads included).
// - Idle publisher: a connection that completed an RTMP publish accepted by the hook and then sends nothing, held
//   by our RtmpServer alone (support/rtmp-sink.ts, no transcode). N of them from our minimal client.
// - Transcoding stream: the real origin (behind the real edge) running 720p30 broadcasts through the full ladder;
//   RSS at rest, then with one and two streams, each the median of samples taken once segments flow. Per stream is
//   the second stream's step: the first one's also holds one-off growth of the origin (V8 grows the main isolate's
//   young generation from 16 to 32 MB once media flows; a warm worker thread takes its first task), which later
//   streams do not pay again; it is reported beside it. (Three 720p ladders starve this 2-core machine: ffmpeg falls
//   behind and the input backlog, not the relay, is what grows.) Measured for the
//   origin as configured by default (relays inline on the main thread) and, as the baseline in the same run, with a
//   worker thread per stream (TRANSCODE_ISOLATION=thread, how the origin ran before issue 15). The ffmpeg children's
//   RSS is reported beside it, not in it.
import { median, round, type Figure, type FigureContext } from './figure.ts';
import { publishFile } from './support/ffmpeg.ts';
import { input, LIVE_720P } from './support/inputs.ts';
import { nextMessage, startHelper } from './support/ipc.ts';
import { childrenOf, rssBytes } from './support/proc.ts';
import { sleep, until, type Child } from './support/processes.ts';
import { openPublisher } from './support/rtmp-client.ts';
import { benchStack, originPid, sessionDir, type Stack } from './support/stack.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';

/** The issue's MB: 10⁶ bytes. */
const MB = 1e6;

async function sampleRss(pid: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  const endAt = Date.now() + seconds * 1000;
  while (Date.now() < endAt) {
    const rss = rssBytes(pid);
    if (rss === undefined) throw new Error(`process ${pid} is gone`);
    samples.push(rss);
    await sleep(250);
  }
  return median(samples);
}

async function idlePublishers(ctx: FigureContext, count: number) {
  const sink = startHelper('rtmp-sink.ts');
  const sockets: Socket[] = [];
  try {
    const { port } = await nextMessage<{ type: 'ready'; port: number }>(sink, 'ready', 20_000);
    await sleep(1000);
    const before = await sampleRss(sink.pid, 2);
    // Well inside the server's 15 s idle timeout: open in batches, then measure at once.
    for (let i = 0; i < count; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, count - i) }, (_, j) => openPublisher(port, 'live', `idle-${i + j}`)));
      sockets.push(...batch);
    }
    sink.process.send({ type: 'stats' });
    const stats = await nextMessage<{ type: 'stats'; publishing: number }>(sink, 'stats', 5000);
    if (stats.publishing !== count) throw new Error(`${stats.publishing} of ${count} publishers are publishing`);
    const after = await sampleRss(sink.pid, 2);
    ctx.log(`${count} idle publishers: RSS ${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB`);
    return { count, before, after, perPublisher: (after - before) / count };
  } finally {
    for (const s of sockets) s.destroy();
    await sink.stop('SIGTERM', 2000);
  }
}

/** RSS of the origin's ffmpeg children (each its own process, not in the origin's RSS). */
function ffmpegRss(pid: number): number {
  return childrenOf(pid)
    .filter((c) => c.comm === 'ffmpeg')
    .reduce((sum, c) => sum + (rssBytes(c.pid) ?? 0), 0);
}

async function transcodingStreams(ctx: FigureContext, count: number, seconds: number, isolation: 'inline' | 'thread') {
  const file = await input(LIVE_720P);
  const stack: Stack = await benchStack({ capacity: count + 1, originEnv: { TRANSCODE_ISOLATION: isolation } });
  const publishers: Child[] = [];
  try {
    const pid = originPid(stack);
    // Startup garbage (tsx compiling the origin) is collected in the first seconds; measure rest after it.
    await sleep(seconds * 1000);
    const steps = [await sampleRss(pid, seconds)];
    const ffmpeg = [0];
    ctx.log(`${isolation}: origin at rest: ${(steps[0]! / MB).toFixed(1)} MB`);
    for (let n = 1; n <= count; n++) {
      const stream = await stack.createStream();
      publishers.push(publishFile(stream.ingest.rtmp.url, file, { realtime: true, loops: -1, seconds: 300 }));
      const dir = await sessionDir(stack, stream.streamId);
      await until('segments in every rendition', () => (existsSync(path.join(dir, 'master.m3u8')) ? true : undefined), 30_000, 100);
      await sleep(2000);
      steps.push(await sampleRss(pid, seconds));
      ffmpeg.push(ffmpegRss(pid));
      ctx.log(`${isolation}: origin with ${n} stream(s): ${(steps[n]! / MB).toFixed(1)} MB (its ffmpeg children ${(ffmpeg[n]! / MB).toFixed(1)} MB more)`);
    }
    return { isolation, count, steps, ffmpeg, perStream: (steps[count]! - steps[1]!) / (count - 1), firstStep: steps[1]! - steps[0]! };
  } finally {
    await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
    await stack.stop();
  }
}

export const memory: Figure = {
  name: 'memory',
  budgetMs: (quick) => (quick ? 240_000 : 360_000),
  async run(ctx) {
    const idle = await idlePublishers(ctx, ctx.quick ? 50 : 200);
    const live = await transcodingStreams(ctx, 2, ctx.quick ? 4 : 8, 'inline');
    const threaded = await transcodingStreams(ctx, 2, ctx.quick ? 4 : 8, 'thread');
    const mb = (n: number) => round(n / MB, 2);
    return [
      {
        figure: 'memory',
        label: `memory, origin RSS per idle publisher (${idle.count} publishers, no transcode)`,
        ours: { value: mb(idle.perPublisher), unit: 'MB' },
        baseline: null,
        target: { of: 'value', kind: 'max', limit: 2, text: '≤ 2 MB' },
        note: `RtmpServer process ${mb(idle.before)} → ${mb(idle.after)} MB with ${idle.count} connections that completed publish and send nothing`,
        details: idle,
      },
      {
        figure: 'memory',
        label: `memory, origin RSS per transcoding 720p30 stream (full ladder, ffmpeg excluded)`,
        ours: { value: mb(live.perStream), unit: 'MB' },
        baseline: { value: mb(threaded.perStream), unit: 'MB', name: 'a worker thread per stream (TRANSCODE_ISOLATION=thread)' },
        target: { of: 'value', kind: 'max', limit: 10, text: '≤ 10 MB' },
        note: `per stream = RSS step from ${live.count - 1} to ${live.count} streams; origin Node process, relays inline: ${live.steps.map((s, i) => `${i} streams ${mb(s)} MB`).join(', ')} (first stream's step ${mb(live.firstStep)} MB); with a worker thread per stream: ${threaded.steps.map((s, i) => `${i} streams ${mb(s)} MB`).join(', ')} (one thread kept warm at rest, so its first stream reuses it); ffmpeg children, not counted: ${mb(live.ffmpeg[live.count]! / live.count)} MB per stream`,
        details: { inline: live, thread: threaded },
      },
    ];
  },
};
