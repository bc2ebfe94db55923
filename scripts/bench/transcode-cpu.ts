// Transcode CPU overhead: CPU-seconds the origin spends (its Node process, worker threads and the ffmpeg it runs)
// on one 720p30 broadcast through the full ladder, against one bare ffmpeg doing the same ladder on the same
// bytes. Both get the same pre-encoded file pushed in real time (-re -c copy) by the same publisher command.
// Everything the origin process group spends over the broadcast counts (its housekeeping too: heartbeats, the durable
// uploads, thumbnails); what the idle origin spends over a window as long is measured first and only reported.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round, type Figure } from './figure.ts';
import { publishFile } from './support/ffmpeg.ts';
import { input, LIVE_720P } from './support/inputs.ts';
import { startBareLadder, ladderOf } from './support/ladder-run.ts';
import { childrenOf, groupCpuSeconds, readStat } from './support/proc.ts';
import { sleep, until } from './support/processes.ts';
import { benchStack, originPid, sessionDir, waitLogCount } from './support/stack.ts';
import type { Rendition } from '../../origin/pipeline/ladder.ts';

function segmentCount(dir: string, renditions: readonly Rendition[]): number {
  return renditions.reduce((n, r) => n + readdirSync(path.join(dir, r.name)).filter((f) => f.endsWith('.ts')).length, 0);
}

export const transcodeCpu: Figure = {
  name: 'transcode-cpu',
  budgetMs: (quick) => (quick ? 140_000 : 260_000),
  async run(ctx) {
    const seconds = ctx.quick ? 15 : 60;
    const file = await input(LIVE_720P);

    // Ours: the real origin behind the real edge.
    let ours: { cpu: number; node: number; segments: number; ladder: Rendition[]; idleCpu: number; seconds: number };
    const stack = await benchStack({ capacity: 2 });
    try {
      const pid = originPid(stack);
      // Past the start-up (tsx compiling, first GCs), which would otherwise count as idle.
      await sleep(10_000);
      const idleFrom = { cpu: groupCpuSeconds(pid), at: Date.now() };
      await sleep(10_000);
      const idleRate = (groupCpuSeconds(pid) - idleFrom.cpu) / ((Date.now() - idleFrom.at) / 1000);
      const stream = await stack.createStream();
      await sleep(1000);
      const before = { group: groupCpuSeconds(pid), node: readStat(pid)!.own, at: Date.now() };
      const publisher = publishFile(stream.ingest.rtmp.url, file, { realtime: true, seconds });
      try {
        await Promise.race([publisher.exited, sleep((seconds + 30) * 1000)]);
      } finally {
        await publisher.stop('SIGKILL');
      }
      await waitLogCount(stack, 'transcode_finished', 1, 30_000);
      await until('the origin to reap its ffmpeg', () => (childrenOf(pid).some((c) => c.comm === 'ffmpeg') ? undefined : true), 15_000, 100);
      const cpu = groupCpuSeconds(pid) - before.group;
      const node = readStat(pid)!.own - before.node;
      const dir = await sessionDir(stack, stream.streamId);
      const ladder = ladderOf(dir);
      const window = (Date.now() - before.at) / 1000;
      ours = { cpu, node, segments: segmentCount(dir, ladder), ladder, idleCpu: idleRate * window, seconds: window };
      ctx.log(`origin: ${cpu.toFixed(2)} CPU-s (${node.toFixed(2)} in Node) over ${window.toFixed(0)} s, idle origin ${ours.idleCpu.toFixed(2)} CPU-s over as long, ${ours.segments} segments`);
    } finally {
      await stack.stop();
    }

    // Baseline: the same ladder as one bare ffmpeg command.
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-cpu-'));
    let baseline: { cpu: number; segments: number };
    try {
      const bare = await startBareLadder(ours.ladder, outDir);
      try {
        const publisher = publishFile(bare.url, file, { realtime: true, seconds });
        try {
          await Promise.race([publisher.exited, sleep((seconds + 30) * 1000)]);
        } finally {
          await publisher.stop('SIGKILL');
        }
        await Promise.race([bare.child.exited, sleep(30_000)]);
      } finally {
        await bare.child.stop('SIGINT');
      }
      baseline = { cpu: await bare.cpuSeconds, segments: segmentCount(outDir, ours.ladder) };
      ctx.log(`bare ffmpeg: ${baseline.cpu.toFixed(2)} CPU-s, ${baseline.segments} segments`);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }

    const ladderText = ours.ladder.map((r) => `${r.height}p${r.copy ? ' copy' : ''}`).join(' + ');
    return [
      {
        figure: 'transcode-cpu',
        label: `transcode CPU, ${seconds} s 720p30 → ${ladderText}`,
        ours: { value: round(ours.cpu, 2), unit: 'CPU-s' },
        baseline: { value: round(baseline.cpu, 2), unit: 'CPU-s', name: 'bare ffmpeg, same args' },
        target: { of: 'ratio', kind: 'max', limit: 1.05, text: '≤ 1.05×' },
        note: `origin's Node process ${ours.node.toFixed(2)} CPU-s of it (threads included), the rest its ffmpeg (the ladder, thumbnails); an idle origin spends ${ours.idleCpu.toFixed(2)} CPU-s over the same ${ours.seconds.toFixed(0)} s (included, not subtracted); segments written: ours ${ours.segments}, baseline ${baseline.segments}`,
        details: { seconds, ours, baseline },
      },
    ];
  },
};
