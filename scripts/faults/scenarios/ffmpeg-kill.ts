// The origin's ffmpeg killed: the live transcoder mid-broadcast, the recording job during finalization.
import type { Fault } from '../fault.ts';
import { midBroadcast, duringFinalization, type Inject } from '../flows.ts';
import { waitFor } from '../../../test/support/stack.ts';
import { signal } from '../../../test/support/processes.ts';

const killFfmpeg: Inject = async (ctx) => {
  const pids = await waitFor('an ffmpeg of the origin', async () => {
    const found = ctx.stack.originFfmpegPids();
    return found.length ? found : undefined;
  }, 20_000);
  for (const pid of pids) signal(pid, 'SIGKILL');
  return { ffmpegKilled: pids.length };
};

export const ffmpegKills: Fault[] = [
  { name: 'ffmpeg SIGKILL', moment: 'mid-broadcast', run: (ctx) => midBroadcast(ctx, killFfmpeg, { noKick: true, reconnectWindow: 5 }) },
  { name: 'ffmpeg SIGKILL', moment: 'during finalization', run: (ctx) => duringFinalization(ctx, killFfmpeg) },
];

/** The CI-sized one: one segment before and after. */
export const ffmpegKillQuick: Fault = {
  name: 'ffmpeg SIGKILL',
  moment: 'mid-broadcast',
  ci: true,
  run: (ctx) => midBroadcast(ctx, killFfmpeg, { noKick: true, reconnectWindow: 3, segments: 1 }),
};
