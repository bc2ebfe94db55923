// A low-latency playback load run on a real stack (test/support/stack.ts), shared by the e2e
// (test/e2e/ll-playback-load.test.ts) and the bench (scripts/bench/ll-playback-load.ts): one low-mode stream
// published with ffmpeg (1 s keyframes, as low mode asks of encoders), N LL-HLS viewers through the edge
// (test/support/ll-viewer.ts) for a fixed time, the origin's HLS requests by kind over that time and each part's birth
// (test/support/ll-viewer-origin.ts). The summary is pure: origin requests per part per rendition, the viewers' part
// delay after the part existed, errors, gaps, and held requests open at the edge.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { until } from '../../scripts/bench/support/processes.ts';
import { spawnPublisher, type Publisher } from './encoder.ts';
import { parseLlPlaylist } from './hls-validator.ts';
import { newLlLoadTally, renditionOf, runLlViewer, type LlLoadTally } from './ll-viewer.ts';
import { birthKey, countsBetween, originKindCounts, probePartBirths, type KindCounts, type PartBirths } from './ll-viewer-origin.ts';
import type { Stack } from './stack.ts';

export interface LowStream {
  streamId: string;
  playbackId: string;
  masterUrl: string;
  /** `/hls/{streamId}/{sessionId}` on the origin */
  sessionPath: string;
  renditions: string[];
  partTarget: number;
  stop(): Promise<void>;
}

async function text(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = await response.text();
    return response.ok ? body : undefined;
  } catch {
    return undefined;
  }
}

/** A `-re` test pattern with a tone, H.264 with a keyframe every second (no B-frames) and AAC, over RTMP. */
function publishOneSecondGop(url: string, seconds: number): Publisher {
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostdin',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
    '-pix_fmt', 'yuv420p', '-b:v', '120k',
    '-c:a', 'aac', '-b:a', '64k',
    '-f', 'flv', url,
  ];
  return spawnPublisher(args);
}

/**
 * A low-mode stream with a light ladder (source 640x360 at 120 kb/s and a 240p rung: the load is in requests, not
 * bytes), published for `seconds`, returned once every rendition lists parts through the edge.
 */
export async function publishLowStream(stack: Stack, seconds: number): Promise<LowStream> {
  const stream = await stack.createStream({ latencyMode: 'low', profiles: [{ name: '240p', width: 426, height: 240, bitrate: 100_000, fps: 30 }] });
  if (stream.latencyMode !== 'low') throw new Error(`the stream was created with latencyMode ${String(stream.latencyMode)}`);
  const playbackId: string = stream.playbackIds[0].id;
  const masterUrl = `${stack.edgeUrl}/hls/${playbackId}/master.m3u8`;
  const publisher = publishOneSecondGop(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, seconds);
  const stop = async () => {
    await publisher.kill();
  };
  try {
    const variants = await until('LL-HLS parts in every rendition through the edge', async () => {
      if (publisher.process.exitCode !== null) throw new Error(`ffmpeg exited: ${publisher.output().slice(-300)}`);
      const master = await text(masterUrl);
      const uris = master?.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) ?? [];
      if (uris.length < 2) return undefined;
      for (const uri of uris) {
        const media = await text(new URL(uri, masterUrl).toString());
        if (!media || parseLlPlaylist(media).segments.filter((s) => s.parts.length > 0).length < 2) return undefined;
      }
      return uris;
    }, 60_000, 250);
    const first = parseLlPlaylist((await text(new URL(variants[0]!, masterUrl).toString())) ?? '');
    const sessions = readdirSync(path.join(stack.mediaDir, stream.streamId)).filter((n) => n.startsWith('ses_')).sort();
    if (sessions.length === 0) throw new Error('no session folder on the origin');
    return {
      streamId: stream.streamId,
      playbackId,
      masterUrl,
      sessionPath: `/hls/${stream.streamId}/${sessions[sessions.length - 1]!}`,
      renditions: variants.map(renditionOf),
      partTarget: first.partTarget ?? NaN,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface LlLoadRun {
  viewers: number;
  seconds: number;
  tally: LlLoadTally;
  births: PartBirths;
  /** the origin's HLS requests over the run, by kind, the probe's own taken out */
  origin: KindCounts;
  renditions: string[];
  partTarget: number;
}

/** N viewers (spread over the renditions) for `seconds`, with the origin probe running alongside. */
export async function runLlLoad(stack: Stack, stream: LowStream, viewers: number, seconds: number): Promise<LlLoadRun> {
  const tally = newLlLoadTally();
  const before = await originKindCounts(stack.originAdminUrl);
  const started = Date.now();
  const until = started + seconds * 1000;
  const probe = probePartBirths({ originUrl: stack.originUrl, originSecret: stack.originSecret, sessionPath: stream.sessionPath, renditions: stream.renditions, until: until + 1000 });
  await Promise.all(Array.from({ length: viewers }, (_, index) => runLlViewer({ masterUrl: stream.masterUrl, index, until, tally })));
  const births = await probe;
  const after = await originKindCounts(stack.originAdminUrl);
  const origin = countsBetween(before, after);
  origin.all.playlist -= births.requests.playlist;
  origin.all['playlist-blocking'] -= births.requests['playlist-blocking'];
  origin.ok.playlist -= births.ok.playlist;
  origin.ok['playlist-blocking'] -= births.ok['playlist-blocking'];
  return { viewers, seconds: (Date.now() - started) / 1000, tally, births, origin, renditions: stream.renditions, partTarget: stream.partTarget };
}

export interface LlLoadSummary {
  viewers: number;
  seconds: number;
  renditions: number;
  partTarget: number;
  /** distinct (rendition, part) the viewers fetched */
  parts: number;
  /** distinct (rendition, part) the origin made while the probe watched (the run and a second after) */
  partsMade: number;
  /** origin requests ÷ parts, by kind (the goal: one held playlist and one part fetch per part per rendition) */
  originPerPart: { playlistBlocking: number; part: number; partOk: number };
  origin: KindCounts;
  /** the viewers' part arrival after the part existed at the origin (ms), over the arrivals whose birth was seen */
  delayMs: { p50: number; p95: number; max: number; measured: number };
  /** of which: until the playlist answer listing the part arrived (held at the edge), and the part's own fetch */
  listedMs: { p50: number; p95: number };
  fetchMs: { p50: number; p95: number };
  viewerRequests: number;
  held: number;
  /** parts the viewers received (200) */
  partFetches: number;
  heldOpenPeak: number;
  retried: number;
  failures: string[];
  /** failures that were 5xx answers */
  serverErrors: number;
  gaps: string[];
  /** parts per viewer: the fewest any viewer got, and the median */
  partsPerViewer: { min: number; p50: number };
  inits: number;
  probeFailures: string[];
}

export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarizeLlLoad(run: LlLoadRun): LlLoadSummary {
  const { tally, births } = run;
  const parts = new Set(tally.arrivals.map((a) => birthKey(a.rendition, a))).size;
  const delays: number[] = [];
  const listed: number[] = [];
  const fetched: number[] = [];
  for (const a of tally.arrivals) {
    fetched.push(a.at - a.listedAt);
    const born = births.born.get(birthKey(a.rendition, a));
    if (born === undefined) continue;
    delays.push(a.at - born);
    listed.push(a.listedAt - born);
  }
  const perViewer = Array.from({ length: run.viewers }, () => 0);
  for (const a of tally.arrivals) perViewer[a.viewer] = (perViewer[a.viewer] ?? 0) + 1;
  return {
    viewers: run.viewers,
    seconds: run.seconds,
    renditions: run.renditions.length,
    partTarget: run.partTarget,
    parts,
    partsMade: births.born.size,
    originPerPart: { playlistBlocking: run.origin.all['playlist-blocking'] / parts, part: run.origin.all.part / parts, partOk: run.origin.ok.part / parts },
    origin: run.origin,
    delayMs: { p50: percentileOf(delays, 50), p95: percentileOf(delays, 95), max: delays.length ? Math.max(...delays) : NaN, measured: delays.length },
    listedMs: { p50: percentileOf(listed, 50), p95: percentileOf(listed, 95) },
    fetchMs: { p50: percentileOf(fetched, 50), p95: percentileOf(fetched, 95) },
    viewerRequests: tally.requests,
    held: tally.held,
    partFetches: tally.arrivals.length,
    heldOpenPeak: tally.heldOpenPeak,
    retried: tally.retried,
    failures: tally.failures,
    serverErrors: tally.failures.filter((f) => /^5\d\d /.test(f)).length,
    gaps: tally.gaps,
    partsPerViewer: { min: Math.min(...perViewer), p50: percentileOf(perViewer, 50) },
    inits: tally.inits,
    probeFailures: births.failures,
  };
}
