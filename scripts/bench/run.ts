// `npm run bench`: measures each figure of issue 7 with its baseline in the same run, prints one table, and
// writes bench-results/latest.json (and latest.md). `--only <name>[,<name>]` picks figures, `--quick` shortens
// inputs. Benchmarks report; they never fail: the exit code is 0 whatever the verdicts.
import './support/offline-env.ts';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Figure, FigureContext } from './figure.ts';
import { judge, markdownTable, notes, type Judged, type Row } from './report.ts';
import { resultsDir, root } from './support/inputs.ts';
import { childrenOf, cmdline, machineBusySeconds, treeCpuSeconds } from './support/proc.ts';
import { killAll, killGroup, sleep } from './support/processes.ts';
import { publishToPlayable } from './publish-to-playable.ts';
import { glassToGlass } from './glass-to-glass.ts';
import { glassToGlassBrowser } from './glass-to-glass-browser.ts';
import { transcodeCpu } from './transcode-cpu.ts';
import { transcodeCapacity } from './transcode-capacity.ts';
import { rtmpIngestThroughput } from './rtmp-ingest-throughput.ts';
import { hlsServing } from './hls-serving.ts';
import { llPlaybackLoad } from './ll-playback-load.ts';
import { clip } from './clip.ts';
import { memory } from './memory.ts';
import { recordingReady } from './recording-ready.ts';
import { vodProcessing } from './vod-processing.ts';

const FIGURES: Figure[] = [publishToPlayable, glassToGlass, glassToGlassBrowser, transcodeCpu, transcodeCapacity, rtmpIngestThroughput, hlsServing, llPlaybackLoad, clip, memory, recordingReady, vodProcessing];

function parseArgs(argv: string[]): { only: Set<string> | null; quick: boolean } {
  let only: Set<string> | null = null;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice(7) : argv[++i];
      if (!value) usage('--only needs a figure name');
      only ??= new Set();
      for (const name of value.split(',')) only.add(name.trim());
    } else usage(`unknown argument ${arg}`);
  }
  const known = new Set(FIGURES.map((f) => f.name));
  for (const name of only ?? []) if (!known.has(name)) usage(`no figure named ${name}`);
  return { only, quick };
}

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run bench -- [--quick] [--only <${FIGURES.map((f) => f.name).join('|')}>]`);
  process.exit(2);
}

/** Last resort after a figure: every process group we started, and any origin a stack left behind. */
function cleanUp(): void {
  killAll();
  for (const child of childrenOf(process.pid)) {
    if (cmdline(child.pid).includes('origin/main.ts')) killGroup(child.pid, 'SIGKILL');
  }
}

async function runFigure(figure: Figure, quick: boolean): Promise<Row[]> {
  const started = Date.now();
  const ctx: FigureContext = {
    quick,
    log: (message) => console.error(`[bench ${figure.name} +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`),
  };
  const budget = figure.budgetMs(quick);
  let timer: NodeJS.Timeout | undefined;
  const running = figure.run(ctx);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`over its ${Math.round(budget / 1000)} s budget`)), budget);
  });
  try {
    return await Promise.race([running, timeout]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`failed: ${message}`);
    cleanUp();
    // Give the abandoned run a moment to reach its own finally blocks now that its processes are gone.
    await Promise.race([running.catch(() => {}), sleep(15_000)]);
    return [{ figure: figure.name, label: figure.name, ours: null, baseline: null, target: null, note: `failed: ${message.split('\n')[0]}` }];
  } finally {
    clearTimeout(timer);
    cleanUp();
  }
}

function machine(): Record<string, unknown> {
  let ffmpeg = 'unknown';
  try {
    ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0] ?? ffmpeg;
  } catch {
    // reported as unknown
  }
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, ffmpeg, kernel: os.release() };
}

async function main(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const requirements = spawnSync('bash', [path.join(root, 'scripts/bench/requirements.sh')], { stdio: 'inherit' });
  if (requirements.status !== 0) console.error('[bench] could not install wrk/nginx; the HLS serving figure will fail');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      cleanUp();
      process.exit(130);
    });
  }

  const startedAt = new Date().toISOString();
  const rows: Judged[] = [];
  const runs: { figure: string; seconds: number; otherCores: number }[] = [];
  for (const figure of FIGURES) {
    if (only && !only.has(figure.name)) continue;
    console.error(`[bench] ${figure.name}${quick ? ' (quick)' : ''}`);
    // Other work on the machine skews every figure: what the machine spent outside this process tree, in cores.
    const t0 = Date.now();
    const busy0 = machineBusySeconds();
    const mine0 = treeCpuSeconds(process.pid);
    for (const row of await runFigure(figure, quick)) rows.push(judge(row));
    const seconds = (Date.now() - t0) / 1000;
    const otherCores = Math.max(0, machineBusySeconds() - busy0 - (treeCpuSeconds(process.pid) - mine0)) / seconds;
    runs.push({ figure: figure.name, seconds: Math.round(seconds), otherCores: Math.round(otherCores * 100) / 100 });
    console.error(`[bench] ${figure.name} took ${Math.round(seconds)} s; other work on the machine meanwhile: ${otherCores.toFixed(2)} cores`);
  }
  const busy = runs.filter((r) => r.otherCores > 0.2);

  const table = markdownTable(rows);
  const footnotes = notes(rows);
  if (busy.length) footnotes.push(`other work kept the machine busy during ${busy.map((r) => `${r.figure} (${r.otherCores} of ${os.availableParallelism()} cores)`).join(', ')}: those figures are less trustworthy`);
  console.log(`\n${table}\n`);
  for (const line of footnotes) console.log(`- ${line}`);

  mkdirSync(resultsDir, { recursive: true });
  const result = { startedAt, finishedAt: new Date().toISOString(), quick, machine: machine(), runs, rows };
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(resultsDir, 'latest.md'), `${table}\n\n${footnotes.map((l) => `- ${l}`).join('\n')}\n`);
  console.error(`[bench] wrote ${path.relative(root, path.join(resultsDir, 'latest.json'))}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  cleanUp();
  process.exit(0);
});
