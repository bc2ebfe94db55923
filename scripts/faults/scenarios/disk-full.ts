// The origin's media disk full (MEDIA_DIR on a small tmpfs, filled up mid-broadcast): new publishes are refused with
// a reason, the live one ends cleanly (or carries on), the origin keeps serving and never exits; once space is back,
// a new broadcast works.
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Fault } from '../fault.ts';
import { SMALL_ENCODE, sleep, LIVE } from '../context.ts';
import { publish } from '../../../test/support/encoder.ts';
import { LOST } from '../invariants.ts';

/** Fills the file system of `dir` until ENOSPC; returns the filler file and the bytes it took. */
async function fill(dir: string): Promise<{ file: string; bytes: number }> {
  const file = path.join(dir, 'fault-filler.bin');
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  let bytes = 0;
  try {
    for (let i = 0; i < 4096; i++) bytes += (await handle.write(chunk)).bytesWritten;
  } catch {
    // ENOSPC: full, which is the point
  } finally {
    await handle.close().catch(() => undefined);
  }
  return { file, bytes };
}

export const diskFull: Fault = {
  name: 'disk full',
  moment: 'mid-broadcast',
  // The origin's disk guard scaled to the small disk: publishes refused under 32 MiB free, live ones ended under 16.
  stack: { mediaTmpfsBytes: 128 * 1024 * 1024, originEnv: { MEDIA_MIN_FREE_MB: '32', MEDIA_FLOOR_MB: '16' } },
  async run(ctx) {
    const { stack } = ctx;
    const violations: string[] = [];
    const live = await ctx.broadcast({ reconnectWindow: 5 });
    await ctx.waitSegments(live, 2);
    const filler = await fill(stack.mediaDir);
    const figures: Record<string, unknown> = { fillerMB: Math.round(filler.bytes / 1e6) };

    // A new publish while the disk is full: refused, the stream never goes live.
    const refused = await stack.createStream({ reconnectWindow: 5 });
    const attempt = publish(ctx.rtmpUrl(refused.streamKey), { ...SMALL_ENCODE, seconds: 15 });
    const exit = await Promise.race([attempt.exited, sleep(12_000).then(() => 'still running' as const)]);
    await attempt.kill();
    const refusedStatus = await ctx.status(refused.streamId);
    figures.newPublishWhileFull = { encoderExit: exit, status: refusedStatus };
    if (LIVE.includes(refusedStatus)) violations.push('a new publish went live on a full disk');
    figures.liveStreamWhileFull = await ctx.status(live.stream.streamId);

    // Space back: the origin serves a new broadcast.
    await rm(filler.file, { force: true });
    const spaceBackAt = Date.now();
    await live.publisher.stop();
    const after = await stack.createStream({ reconnectWindow: 2 });
    const again = publish(ctx.rtmpUrl(after.streamKey), { ...SMALL_ENCODE, seconds: 8 });
    try {
      await ctx.waitLive(after.streamId, 20_000);
      // The origin decides on the disk as it is at the publish, so this is the encoder's connect time, not a guard's interval.
      figures.liveAfterSpaceBackMs = Date.now() - spaceBackAt;
    } catch {
      const said = stack.originLogs.filter((l) => /refus|disk|ENOSPC/i.test(l)).slice(-2).map((l) => l.slice(0, 240));
      violations.push(`${LOST} no broadcast served once the disk had space again; the origin said: ${said.join(' | ') || 'nothing about it'}`);
    }
    await again.kill();
    return {
      expectations: [
        { streamId: live.stream.streamId, final: ['STOPPED', 'ERROR'], withinSeconds: 40, playbackId: live.playbackId },
        { streamId: refused.streamId, final: ['NOT_STARTED', 'STOPPED', 'ERROR'], withinSeconds: 30 },
        { streamId: after.streamId, final: ['STOPPED'], withinSeconds: 40 },
      ],
      figures,
      violations,
      // what was being written when the disk filled may be lost; the rest must be there
      maxLostSegments: 1,
    };
  },
};
