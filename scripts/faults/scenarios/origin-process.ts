// The origin process killed (SIGKILL, then started again) or frozen (SIGSTOP, then SIGCONT), at each moment.
import type { Fault, Moment } from '../fault.ts';
import { sleep, type FaultContext } from '../context.ts';
import { beforePublish, duringFinalization, midBroadcast, type Inject } from '../flows.ts';
import { waitFor } from '../../../test/support/stack.ts';

/** Live playlists come from the origin: while it is gone the edge answers 502 origin-unavailable, by design. */
const LIVE_PLAYBACK = /^\/hls\//;

const MOMENTS: Moment[] = ['before publish', 'mid-broadcast', 'during finalization'];

function flowFor(moment: Moment) {
  return moment === 'before publish' ? beforePublish : moment === 'mid-broadcast' ? midBroadcast : duringFinalization;
}

/** At finalization the fault waits for the recording job's ffmpeg, so it strikes while the recording is being made. */
async function whenFinalizing(ctx: FaultContext, moment: Moment): Promise<Record<string, unknown>> {
  if (moment !== 'during finalization') return {};
  const found = await waitFor('a finalization ffmpeg', async () => (ctx.stack.originFfmpegPids().length ? true : undefined), 15_000).catch(() => false);
  return { struckDuringJob: found };
}

const sigkill: (moment: Moment) => Inject = (moment) => async (ctx) => {
  const figures = await whenFinalizing(ctx, moment);
  ctx.stack.signalOrigin('SIGKILL');
  await sleep(1000);
  const restartAt = Date.now();
  await ctx.stack.startOrigin();
  return { ...figures, originRestartMs: Date.now() - restartAt };
};

const sigstop: (moment: Moment, ms: number) => Inject = (moment, ms) => async (ctx) => {
  const figures = await whenFinalizing(ctx, moment);
  ctx.stack.signalOrigin('SIGSTOP');
  await sleep(ms);
  ctx.stack.signalOrigin('SIGCONT');
  return { ...figures, frozenMs: ms };
};

export const originKills: Fault[] = MOMENTS.map((moment) => ({
  name: 'origin SIGKILL',
  moment,
  run: (ctx) => flowFor(moment)(ctx, sigkill(moment), { reconnectWindow: 20, expected5xx: LIVE_PLAYBACK }),
}));

export const originFreezes: Fault[] = MOMENTS.map((moment) => ({
  name: 'origin SIGSTOP 15 s',
  moment,
  run: (ctx) => flowFor(moment)(ctx, sigstop(moment, 15_000), { reconnectWindow: 20, expected5xx: LIVE_PLAYBACK }),
}));
