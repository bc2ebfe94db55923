// publish → playable: from the moment an encoder (ffmpeg, 720p30) is started against the real stack until the
// edge serves a master playlist whose every rendition lists at least one segment — what a player needs to start.
// The issue names no baseline; for scale, one bare ffmpeg running the same ladder for the same encoder is timed
// to its own first playlists on disk (no edge, no authorization), which is the floor a 2 s GOP sets.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Rendition } from '../../origin/pipeline/ladder.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../../origin/pipeline/ladder.ts';
import { median, round, type Figure } from './figure.ts';
import { publishLive } from './support/ffmpeg.ts';
import { fetchText, segmentsOf, variantUris } from './support/hls.ts';
import { ladderOf, startBareLadder } from './support/ladder-run.ts';
import { until } from './support/processes.ts';
import { benchStack, waitLogCount, type Stack } from './support/stack.ts';

interface Run {
  playable: number;
  sessionDir?: string;
  /** on the origin's disk: first segment of any rendition, our master.m3u8 */
  firstSegmentOnOrigin?: number;
  masterOnOrigin?: number;
  firstSegmentSeconds: number;
}

async function once(stack: Stack): Promise<Run> {
  const stream = await stack.createStream();
  const base = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}`;
  const streamDir = path.join(stack.mediaDir, stream.streamId);
  const t0 = Date.now();
  const publisher = publishLive(stream.ingest.rtmp.url, { size: '1280x720', rate: 30, seconds: 120 });
  let firstSegmentOnOrigin: number | undefined;
  let masterOnOrigin: number | undefined;
  const onOrigin = (): void => {
    const session = existsSync(streamDir) ? readdirSync(streamDir).find((n) => n.startsWith('ses_')) : undefined;
    if (!session) return;
    const dir = path.join(streamDir, session);
    if (masterOnOrigin === undefined && existsSync(path.join(dir, 'master.m3u8'))) masterOnOrigin = Date.now() - t0;
    if (firstSegmentOnOrigin === undefined) {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && existsSync(path.join(dir, entry.name, 'index.m3u8'))) firstSegmentOnOrigin = Date.now() - t0;
      }
    }
  };
  try {
    return await until(
      'a playable master at the edge',
      async () => {
        onOrigin();
        const master = await fetchText(`${base}/master.m3u8`);
        if (!master) return undefined;
        const variants = variantUris(master);
        if (variants.length === 0) return undefined;
        let first = Infinity;
        for (const variant of variants) {
          const segments = segmentsOf((await fetchText(`${base}/${variant}`)) ?? '');
          if (segments.length === 0) return undefined;
          first = Math.min(first, segments[0]!.duration);
        }
        onOrigin();
        const run: Run = { playable: (Date.now() - t0) / 1000, firstSegmentSeconds: first };
        const session = readdirSync(streamDir).find((n) => n.startsWith('ses_'));
        if (session) run.sessionDir = path.join(streamDir, session);
        if (firstSegmentOnOrigin !== undefined) run.firstSegmentOnOrigin = firstSegmentOnOrigin / 1000;
        if (masterOnOrigin !== undefined) run.masterOnOrigin = masterOnOrigin / 1000;
        return run;
      },
      30_000,
      25,
    );
  } finally {
    await publisher.child.stop('SIGKILL');
  }
}

export const publishToPlayable: Figure = {
  name: 'publish-to-playable',
  budgetMs: (quick) => (quick ? 90_000 : 150_000),
  async run(ctx) {
    const repeats = ctx.quick ? 1 : 3;
    const stack = await benchStack({ capacity: 2 });
    try {
      const runs: Run[] = [];
      for (let i = 0; i < repeats; i++) {
        runs.push(await once(stack));
        ctx.log(`run ${i + 1}: playable after ${runs[i]!.playable.toFixed(2)} s`);
        // The next run starts on a quiet origin: this broadcast's ffmpeg has finished.
        await waitLogCount(stack, 'transcode_finished', i + 1, 30_000);
      }
      const seg = DEFAULT_SEGMENT_SECONDS;
      const value = median(runs.map((r) => r.playable));
      const floor = await bareFloor(ladderOf(runs[0]!.sessionDir!));
      ctx.log(`bare ffmpeg with the same ladder listed every rendition on disk after ${floor.toFixed(2)} s`);
      return [
        {
          figure: 'publish-to-playable',
          label: `publish → playable (720p30 encoder, ${seg} s segments)`,
          ours: { value: round(value, 2), unit: 's' },
          baseline: null,
          target: { of: 'value', kind: 'max', limit: seg + 1, text: `≤ 1 segment + 1 s (${seg + 1} s)` },
          note: `median of ${repeats}; segment duration ${seg} s (first segment measured ${round(median(runs.map((r) => r.firstSegmentSeconds)), 2)} s); on the origin's disk: first rendition playlist at ${fmtMedian(runs.map((r) => r.firstSegmentOnOrigin))}, master at ${fmtMedian(runs.map((r) => r.masterOnOrigin))}; for reference, bare ffmpeg running the same ladder for the same encoder lists every rendition on its disk after ${floor.toFixed(2)} s`,
          details: { runs, segmentSeconds: seg, bareFfmpegSeconds: floor },
        },
      ];
    } finally {
      await stack.stop();
    }
  },
};

/** The same encoder into one bare ffmpeg running the same ladder: when every rendition's playlist exists on disk. */
async function bareFloor(ladder: Rendition[]): Promise<number> {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-playable-'));
  try {
    const bare = await startBareLadder(ladder, outDir);
    const t0 = Date.now();
    const publisher = publishLive(bare.url, { size: '1280x720', rate: 30, seconds: 30 });
    try {
      await until('bare ffmpeg to list every rendition', () => (ladder.every((r) => existsSync(bare.playlist(r.name))) ? true : undefined), 30_000, 25);
      return (Date.now() - t0) / 1000;
    } finally {
      await publisher.child.stop('SIGKILL');
      await bare.child.stop('SIGKILL');
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function fmtMedian(values: (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? `${median(known).toFixed(2)} s` : 'not seen';
}
