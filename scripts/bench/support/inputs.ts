// Pre-encoded media the benchmarks feed with `-c copy`, so a publisher costs almost no CPU and every run sends
// the same bytes. Encoded once into bench-results/inputs/ (named after their recipe) and reused.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { start } from './processes.ts';

export const root = path.resolve(import.meta.dirname, '../../..');
export const resultsDir = path.join(root, 'bench-results');
const inputsDir = path.join(resultsDir, 'inputs');

interface Recipe {
  file: string;
  args: string[];
}

const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];

/** OBS-like 720p30: H.264 at 3 Mb/s with a 2 s GOP, AAC 128 kb/s, 60 s. */
export const LIVE_720P: Recipe = {
  file: 'live-720p30-60s-3M-v1.flv',
  args: [
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', ...tone, '-t', '60',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '3000k', '-maxrate', '3300k', '-bufsize', '6000k',
    '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'flv',
  ],
};

/** A heavy feed for ingest throughput: 720p30 with grain at ~40 Mb/s (large frames, like a high-bitrate camera), 10 s. */
export const HIGH_BITRATE: Recipe = {
  file: 'ingest-720p30-10s-40M-v1.flv',
  args: [
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', ...tone, '-t', '10',
    '-vf', 'noise=alls=30:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '40M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'flv',
  ],
};

/** The file for a recipe, encoding it first when it is not there yet. */
export async function input(recipe: Recipe): Promise<string> {
  const file = path.join(inputsDir, recipe.file);
  if (existsSync(file)) return file;
  mkdirSync(inputsDir, { recursive: true });
  const partial = `${file}.partial`;
  const ffmpeg = start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...recipe.args, partial]);
  const timer = setTimeout(() => void ffmpeg.stop('SIGKILL'), 180_000);
  const exit = await ffmpeg.exited;
  clearTimeout(timer);
  if (exit.code !== 0) throw new Error(`encoding ${recipe.file} failed: ${ffmpeg.stderr().slice(-500)}`);
  renameSync(partial, file);
  return file;
}
