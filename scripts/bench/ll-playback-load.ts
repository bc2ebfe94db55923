// The low-latency playback load figure (issue 15): 200 LL-HLS viewers of one low-mode stream through the edge, each
// holding a blocking reload (_HLS_msn/_HLS_part) for the next part of its rendition and fetching it, for 30 s (10 s
// with --quick). Reported: the origin's held playlist requests and part fetches per part per rendition (the goal: 1,
// whatever the viewers; the baseline beside it is what the viewers asked of the edge per part, i.e. what the origin
// would see without the edge's coalescing and cache), the viewers' part arrival after the part existed at the origin
// (p50/p95, split into the held answer and the part's fetch), errors and held requests open at the edge at once.
// The run itself is test/support/ll-viewer-run.ts (shared with test/e2e/ll-playback-load.test.ts).
//
// In `npm run bench`, or alone:
//   node --import tsx scripts/bench/ll-playback-load.ts [--viewers 200] [--seconds 30] [--part-seconds 0.2]
import './support/offline-env.ts';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { publishLowStream, runLlLoad, summarizeLlLoad, type LlLoadSummary } from '../../test/support/ll-viewer-run.ts';
import { round, type Figure, type FigureContext } from './figure.ts';
import type { Row } from './report.ts';
import { benchStack } from './support/stack.ts';

export interface LlPlaybackLoadOptions {
  viewers: number;
  seconds: number;
  /** LL_PART_SECONDS of the origin (0.2–1) */
  partSeconds: number;
}

export function llPlaybackLoadRows(s: LlLoadSummary, o: LlPlaybackLoadOptions, load: number): Row[] {
  const label = `LL-HLS load, ${o.viewers} held viewers, ${s.renditions} renditions, ${o.partSeconds} s parts`;
  const kept = s.partsMade > 0 ? s.partsPerViewer.p50 / (s.partsMade / s.renditions) : NaN;
  const common = `${s.parts} parts fetched of ${s.partsMade} made; ${s.viewerRequests} viewer requests in ${s.seconds.toFixed(1)} s (${Math.round(s.viewerRequests / s.seconds)}/s), ${s.held} held, up to ${s.heldOpenPeak} held at the edge at once; machine load ${load.toFixed(1)} on ${os.availableParallelism()} cores`;
  const errors = `${s.failures.length} viewer errors (${s.serverErrors} 5xx), ${Object.values(s.origin.serverErrors).reduce((a, b) => a + b, 0)} origin 5xx, ${s.gaps.length} gaps, ${s.retried} retried`;
  const details = { summary: { ...s, failures: s.failures.slice(0, 20), gaps: s.gaps.slice(0, 20) } };
  return [
    {
      figure: 'll-playback-load',
      label: `${label}: origin held playlist requests per part per rendition`,
      ours: { value: round(s.originPerPart.playlistBlocking, 2), unit: 'req' },
      baseline: { value: round(s.held / s.parts, 1), unit: 'req', name: 'held requests the viewers made per part' },
      target: { of: 'value', kind: 'max', limit: 1, text: '1 per part per rendition' },
      note: `${common}; ${errors}`,
      details,
    },
    {
      figure: 'll-playback-load',
      label: `${label}: origin part fetches per part per rendition`,
      ours: { value: round(s.originPerPart.part, 2), unit: 'req' },
      baseline: { value: round(s.partFetches / s.parts, 1), unit: 'req', name: 'part fetches the viewers made per part' },
      target: { of: 'value', kind: 'max', limit: 1, text: '1 per part per rendition' },
      note: `of which answered 200: ${s.originPerPart.partOk.toFixed(2)} per part (the rest: parts the origin had let go, asked by viewers fallen behind); origin requests by kind over the run: ${Object.entries(s.origin.all).map(([k, v]) => `${k} ${v} (${s.origin.ok[k as keyof typeof s.origin.ok]} ok)`).join(', ')}`,
    },
    {
      figure: 'll-playback-load',
      label: `${label}: part arrival after the part existed, p50`,
      ours: { value: Math.round(s.delayMs.p50), unit: 'ms' },
      baseline: null,
      target: null,
      note: `p95 ${Math.round(s.delayMs.p95)} ms, max ${Math.round(s.delayMs.max)} ms over ${s.delayMs.measured} arrivals; held answer p50/p95 ${Math.round(s.listedMs.p50)}/${Math.round(s.listedMs.p95)} ms after the part existed, part fetch ${Math.round(s.fetchMs.p50)}/${Math.round(s.fetchMs.p95)} ms; viewers got ${Number.isFinite(kept) ? Math.round(kept * 100) : '?'} % (median) of their rendition's parts${kept < 0.9 ? ' — they fell behind live: the machine did not keep up with this many viewers, and their reloads were answered from the edge cache rather than held' : ''}`,
    },
  ];
}

export async function runLlPlaybackLoad(o: LlPlaybackLoadOptions, log: (m: string) => void): Promise<Row[]> {
  const stack = await benchStack({ originEnv: { LL_PART_SECONDS: String(o.partSeconds) } });
  try {
    const stream = await publishLowStream(stack, o.seconds + 120);
    try {
      log(`low-mode stream up: ${stream.renditions.join(', ')}, PART-TARGET ${stream.partTarget} s; ${o.viewers} viewers for ${o.seconds} s`);
      const load0 = os.loadavg()[0]!;
      const run = await runLlLoad(stack, stream, o.viewers, o.seconds);
      const load = (load0 + os.loadavg()[0]!) / 2;
      const summary = summarizeLlLoad(run);
      log(JSON.stringify({ ...summary, failures: summary.failures.slice(0, 5), gaps: summary.gaps.slice(0, 5) }));
      return llPlaybackLoadRows(summary, o, load);
    } finally {
      await stream.stop();
    }
  } finally {
    await stack.stop();
  }
}

export const llPlaybackLoad: Figure = {
  name: 'll-playback-load',
  budgetMs: (quick) => (quick ? 180_000 : 300_000),
  run: (ctx: FigureContext) => runLlPlaybackLoad({ viewers: 200, seconds: ctx.quick ? 10 : 30, partSeconds: 0.2 }, ctx.log),
};

function parseArgs(argv: string[]): LlPlaybackLoadOptions {
  const o: LlPlaybackLoadOptions = { viewers: 200, seconds: 30, partSeconds: 0.2 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--viewers') o.viewers = Number(argv[++i]);
    else if (arg === '--seconds') o.seconds = Number(argv[++i]);
    else if (arg === '--part-seconds') o.partSeconds = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}; usage: ll-playback-load.ts [--viewers 200] [--seconds 30] [--part-seconds 0.2]`);
  }
  if (!Number.isInteger(o.viewers) || o.viewers < 1 || o.viewers > 2000) throw new Error('--viewers must be 1–2000');
  if (!Number.isFinite(o.seconds) || o.seconds < 5 || o.seconds > 600) throw new Error('--seconds must be 5–600');
  if (!(o.partSeconds >= 0.2 && o.partSeconds <= 1)) throw new Error('--part-seconds must be 0.2–1 (LL_PART_SECONDS)');
  return o;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (m: string) => console.error(`[ll-playback-load +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);
  const budget = setTimeout(() => {
    console.error('over budget (seconds + 180 s); exiting');
    process.exit(1);
  }, (options.seconds + 180) * 1000);
  runLlPlaybackLoad(options, log).then(
    async (rows) => {
      clearTimeout(budget);
      const { judge, markdownTable, notes } = await import('./report.ts');
      const judged = rows.map(judge);
      console.log(`\n${markdownTable(judged)}\n`);
      for (const line of notes(judged)) console.log(`- ${line}`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
