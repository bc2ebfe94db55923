// Encoder drops inside the reconnect window, at random moments: every one must continue the same session.
import type { Fault } from '../fault.ts';
import { LIVE, sleep } from '../context.ts';
import { waitFor } from '../../../test/support/stack.ts';
import { LOST } from '../invariants.ts';

export function encoderDrops(count: number, options: { ci?: boolean } = {}): Fault {
  return {
    name: `encoder drops ×${count}`,
    moment: 'mid-broadcast',
    ci: options.ci,
    async run(ctx) {
      const reconnectWindow = 5;
      const b = await ctx.broadcast({ reconnectWindow });
      await ctx.waitSegments(b, 1);
      const violations: string[] = [];
      const pauses: number[] = [];
      const reconnected = (n: number) =>
        waitFor(`reconnect ${n}`, async () => {
          const stream = await ctx.stack.getStream(b.stream.streamId);
          return LIVE.includes(stream?.status) && stream.currentSession?.reconnects >= n ? stream : undefined;
        }, 20_000).catch(() => null);
      for (let i = 0; i < count; i++) {
        await sleep(1000 + Math.random() * 2500);
        const pause = 200 + Math.floor(Math.random() * 1800); // well inside the 5 s window, counting the reconnect
        pauses.push(pause);
        await b.publisher.drop(pause);
        // The next drop only once this one is a reconnect of the session (or it is clear it never will be).
        await reconnected(i + 1);
      }
      const live = await reconnected(count);
      await ctx.waitSegments(b, 1);
      if (live?.currentSession?.id !== b.sessionId) violations.push(`${LOST} a drop started a new session (or none is live)`);
      const reconnects = live?.currentSession?.reconnects;
      if (reconnects !== count) violations.push(`the session counts ${reconnects} reconnects, ${count} drops happened`);
      await b.publisher.stop();
      return {
        expectations: [{ streamId: b.stream.streamId, final: ['STOPPED'], withinSeconds: reconnectWindow + 30, playbackId: b.playbackId }],
        figures: { drops: count, reconnects, maxPauseMs: Math.max(...pauses), encoderRuns: b.publisher.runs.length },
        violations,
        // each drop may cut the segment being written short, never skip one
        maxLostSegments: 1,
      };
    },
  };
}
