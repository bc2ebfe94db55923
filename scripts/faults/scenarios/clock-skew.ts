// The origin's clock 30 s ahead or behind (Debian's faketime): deadlines use the edge's clock, so nothing changes.
import type { Fault } from '../fault.ts';
import { midBroadcast } from '../flows.ts';
import { sleep } from '../context.ts';

export const clockSkews: Fault[] = ['+30s', '-30s'].map((offset) => ({
  name: `origin clock ${offset.replace('s', ' s')}`,
  moment: 'mid-broadcast',
  async run(ctx) {
    await ctx.stack.stopOrigin();
    await ctx.stack.startOrigin({ faketime: offset });
    ctx.cleanups.push(async () => {
      await ctx.stack.stopOrigin();
      await ctx.stack.startOrigin({ faketime: null });
    });
    // The skewed origin carries the broadcast for longer than the edge's heartbeat timeout (10 s).
    return midBroadcast(ctx, async () => {
      await sleep(15_000);
      return { skew: offset };
    }, { noKick: true, reconnectWindow: 10 });
  },
}));
