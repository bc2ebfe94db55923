// RTMP ingest throughput: how many MB/s one server takes from one publisher pushing as fast as it can — ffmpeg
// without -re sending a pre-encoded ~40 Mb/s 720p FLV, looped, with -c copy. Ours is the bare RtmpServer with a
// hook that accepts and counts (support/rtmp-sink.ts: ingest + demux, no transcode); the baseline is
// node-media-server 4.4.3 (support/nms-sink.ts). Each server is its own process, alone with the publisher.
// On two cores the publisher and the kernel's loopback take much of the machine, so a second row gives the
// servers' own cost: MB per CPU-second of the server process, from the same runs.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from '../../test/support/ports.ts';
import { median, round, type Figure, type FigureContext } from './figure.ts';
import { runTimed } from './support/ffmpeg.ts';
import { input, HIGH_BITRATE } from './support/inputs.ts';
import { nextMessage, startHelper } from './support/ipc.ts';
import { groupCpuSeconds } from './support/proc.ts';
import { sleep } from './support/processes.ts';

type Server = 'ours' | 'nms';

interface Pass {
  mbPerSecond: number;
  mbPerCpuSecond: number;
  bytes: number;
  seconds: number;
  serverCpu: number;
  publisherCpu: number;
}

type Done = { type: 'done'; bytes: number; seconds: number };

async function pass(server: Server, file: string, passes: number): Promise<Pass> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-ingest-'));
  const port = server === 'nms' ? await freeTcpPort() : 0;
  const child = server === 'ours' ? startHelper('rtmp-sink.ts') : startHelper('nms-sink.ts', { NMS_PORT: String(port), NMS_DATA: data });
  try {
    const ready = await nextMessage<{ type: 'ready'; port: number }>(child, 'ready', 20_000);
    await sleep(300);
    const cpuBefore = groupCpuSeconds(child.pid);
    const finished = nextMessage<Done>(child, 'done', 120_000);
    const publisher = runTimed('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-stream_loop', String(passes - 1), '-i', file, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${ready.port}/live/bench`]);
    try {
      const done = await finished;
      const serverCpu = groupCpuSeconds(child.pid) - cpuBefore;
      await Promise.race([publisher.child.exited, sleep(10_000)]);
      const publisherCpu = await Promise.race([publisher.cpuSeconds, sleep(5000).then(() => NaN)]);
      const mb = done.bytes / 1e6;
      return { mbPerSecond: mb / done.seconds, mbPerCpuSecond: mb / serverCpu, bytes: done.bytes, seconds: done.seconds, serverCpu, publisherCpu };
    } finally {
      await publisher.child.stop('SIGKILL');
    }
  } finally {
    await child.stop('SIGTERM', 2000);
    rmSync(data, { recursive: true, force: true });
  }
}

async function measure(ctx: FigureContext, file: string, passes: number, repeats: number) {
  const ours: Pass[] = [];
  const nms: Pass[] = [];
  // Alternate, so a slow moment of the machine does not land on one side only.
  for (let i = 0; i < repeats; i++) {
    for (const [server, list] of [['ours', ours], ['nms', nms]] as const) {
      const p = await pass(server, file, passes);
      list.push(p);
      ctx.log(`${server}: ${p.mbPerSecond.toFixed(1)} MB/s (${(p.bytes / 1e6).toFixed(0)} MB in ${p.seconds.toFixed(2)} s), ${p.mbPerCpuSecond.toFixed(0)} MB per server CPU-s`);
    }
  }
  return { ours, nms };
}

export const rtmpIngestThroughput: Figure = {
  name: 'rtmp-ingest-throughput',
  budgetMs: (quick) => (quick ? 120_000 : 240_000),
  async run(ctx) {
    const file = await input(HIGH_BITRATE);
    const passes = ctx.quick ? 4 : 10;
    const repeats = ctx.quick ? 3 : 5;
    const feedMb = ((statSync(file).size * passes) / 1e6).toFixed(0);
    const { ours, nms } = await measure(ctx, file, passes, repeats);
    const med = (p: Pass[], key: 'mbPerSecond' | 'mbPerCpuSecond') => round(median(p.map((x) => x[key])), 1);
    const load = (p: Pass[]) => median(p.map((x) => x.publisherCpu / x.seconds)).toFixed(2);
    const common = `median of ${repeats}, alternating; MB = 10⁶ bytes as each server counts them (ours: media payload; node-media-server: socket bytes, ~0.1% more) from publish accepted to the publisher's socket closed`;
    return [
      {
        figure: 'rtmp-ingest-throughput',
        label: `RTMP ingest throughput, ffmpeg -c copy publisher (~40 Mb/s 720p FLV, ${feedMb} MB)`,
        ours: { value: med(ours, 'mbPerSecond'), unit: 'MB/s' },
        baseline: { value: med(nms, 'mbPerSecond'), unit: 'MB/s', name: 'node-media-server 4.4.3' },
        target: { of: 'ratio', kind: 'min', limit: 2, text: '≥ 2×' },
        note: `${common}; the ffmpeg publisher kept ${load(ours)} of a core busy against ours, ${load(nms)} against node-media-server`,
        details: { passes, ours, nms },
      },
      {
        figure: 'rtmp-ingest-throughput',
        label: 'RTMP ingest cost, same runs: MB per CPU-second of the server process',
        ours: { value: med(ours, 'mbPerCpuSecond'), unit: 'MB/CPU-s' },
        baseline: { value: med(nms, 'mbPerCpuSecond'), unit: 'MB/CPU-s', name: 'node-media-server 4.4.3' },
        target: { of: 'ratio', kind: 'min', limit: 2, text: '≥ 2× (same target, per CPU)' },
        note: 'what throughput each server would reach with a core to itself; on this 2-core machine the wall-clock row also carries the publisher and the loopback',
      },
    ];
  },
};
