// Storage (R2, reached through the edge's /internal/media) failing for 30 s: every upload the origin makes answers
// 503. Live broadcasts go on, segments reach storage once it is back, a recording being made still completes.
import type { Fault } from '../fault.ts';
import { duringFinalization, midBroadcast, type Inject } from '../flows.ts';
import { sleep } from '../context.ts';

const MEDIA = /^\/internal\/media\//;

const outage: Inject = async (ctx) => {
  const before = ctx.stack.edgeProxy!.refused;
  ctx.stack.edgeProxy!.cut(30_000, { paths: MEDIA, action: 503 });
  await sleep(30_000);
  return { outageSeconds: 30, uploadsRefused: ctx.stack.edgeProxy!.refused - before };
};

export const storageOutages: Fault[] = [
  { name: 'storage failing 30 s', moment: 'mid-broadcast', run: (ctx) => midBroadcast(ctx, outage, { noKick: true, reconnectWindow: 5 }) },
  { name: 'storage failing 30 s', moment: 'during finalization', run: (ctx) => duringFinalization(ctx, outage) },
];
