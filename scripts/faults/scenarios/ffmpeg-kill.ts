// The origin's ffmpeg killed: the live transcoder mid-broadcast, the recording job during finalization.
import { readFileSync } from 'node:fs';
import type { Fault } from '../fault.ts';
import { midBroadcast, duringFinalization, type Inject } from '../flows.ts';
import { waitFor } from '../../../test/support/stack.ts';
import { signal } from '../../../test/support/processes.ts';

const killFfmpeg: Inject = async (ctx) => {
  const pids = await waitFor('an ffmpeg of the origin', async () => {
    const found = ctx.stack.originFfmpegPids();
    return found.length ? found : undefined;
  }, 20_000);
  // What each killed ffmpeg was making (the live transcode writes HLS; a recording job an MP4, a screenshot...).
  const outputs = pids.map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).pop()?.split('/').pop() ?? '?';
    } catch {
      return 'gone'; // it ended on its own meanwhile
    }
  });
  for (const pid of pids) signal(pid, 'SIGKILL');
  return { ffmpegKilled: pids.length, killedWhileWriting: outputs };
};

/** The recording job is run again after its ffmpeg was killed: the origin's retries are a figure of the fault. */
const duringFinalizationWithRetries: Fault['run'] = async (ctx) => {
  const before = ctx.stack.originLogs.length;
  const outcome = await duringFinalization(ctx, killFfmpeg);
  outcome.figures.recordingJobRetries = ctx.stack.originLogs.slice(before).filter((l) => l.includes('"recording_build_retry"')).length;
  return outcome;
};

export const ffmpegKills: Fault[] = [
  { name: 'ffmpeg SIGKILL', moment: 'mid-broadcast', run: (ctx) => midBroadcast(ctx, killFfmpeg, { noKick: true, reconnectWindow: 5 }) },
  { name: 'ffmpeg SIGKILL', moment: 'during finalization', run: duringFinalizationWithRetries },
];

/** The CI-sized one: one segment before and after. */
export const ffmpegKillQuick: Fault = {
  name: 'ffmpeg SIGKILL',
  moment: 'mid-broadcast',
  ci: true,
  run: (ctx) => midBroadcast(ctx, killFfmpeg, { noKick: true, reconnectWindow: 3, segments: 1 }),
};
