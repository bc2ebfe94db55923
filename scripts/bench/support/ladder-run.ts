// The baseline's side of the transcode figures: bare ffmpeg doing exactly the origin's live ladder. It takes the
// args the origin builds (buildHlsCommand with the ladder the origin chose, read back from its ladder.json) and
// listens for RTMP itself (`-listen 1`), so the same publisher pushes the same bytes to it as to the origin.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildHlsCommand, commandArgs, mediaPlaylistPath } from '../../../origin/pipeline/hls-command.ts';
import type { Rendition } from '../../../origin/pipeline/ladder.ts';
import { freeTcpPort } from '../../../test/support/ports.ts';
import { runTimed, type TimedRun } from './ffmpeg.ts';
import { isListening } from './proc.ts';
import { until } from './processes.ts';

export function ladderOf(sessionDir: string): Rendition[] {
  const stored = JSON.parse(readFileSync(path.join(sessionDir, 'ladder.json'), 'utf8')) as { renditions: Rendition[] };
  return stored.renditions;
}

export interface BareLadder extends TimedRun {
  /** where to publish */
  url: string;
  outDir: string;
  playlist(rendition: string): string;
}

/** Starts one bare ffmpeg for the ladder, resolved once it listens for the publisher. */
export async function startBareLadder(renditions: readonly Rendition[], outDir: string): Promise<BareLadder> {
  for (const r of renditions) mkdirSync(path.join(outDir, r.name), { recursive: true });
  const port = await freeTcpPort();
  const url = `rtmp://127.0.0.1:${port}/live/bench`;
  // What live-transcode.ts runs (same ladder, audio copied for the source as the origin does with AAC input),
  // with the RTMP listener as the input instead of the origin's pipe.
  const cmd = buildHlsCommand({ input: 'flv', outDir, renditions, hasAudio: true, sourceAudio: 'copy' });
  const args = commandArgs(cmd, url);
  args.splice(args.indexOf('-i'), 0, '-listen', '1');
  const run = runTimed('ffmpeg', args);
  await until('bare ffmpeg to listen', () => (isListening(port) ? true : run.child.running ? undefined : false), 10_000, 20);
  if (!run.child.running) throw new Error(`bare ffmpeg exited: ${run.child.stderr().slice(-400)}`);
  return { ...run, url, outDir, playlist: (name) => mediaPlaylistPath(outDir, name) };
}
