// The three moments a fault can strike, as reusable flows: before publish (the encoder comes while the fault is on),
// mid-broadcast (a live, watched stream), during finalization (a recorded stream just STOPPED, its recording being
// made). Each flow injects the fault, checks the broadcast came through it, and says how the stream must end.
import { waitFor } from '../../test/support/stack.ts';
import { ReconnectingPublisher } from '../../test/support/encoder.ts';
import { PlaylistWatcher } from './playlist-watcher.ts';
import { SMALL_ENCODE, sleep, type Broadcast, type FaultContext } from './context.ts';
import type { FaultOutcome } from './fault.ts';
import { LOST } from './invariants.ts';

export type Inject = (ctx: FaultContext, b: Broadcast) => Promise<Record<string, unknown> | void>;

export interface FlowOptions {
  reconnectWindow?: number;
  protocol?: 'rtmp' | 'srt';
  /** the encoder must not have been dropped by the fault (its ffmpeg ran once) */
  noKick?: boolean;
  /** seconds the stream may take to be live again after the fault (default 45) */
  recoverSeconds?: number;
  maxLostSegments?: number;
  expected5xx?: RegExp;
  /** segments to wait for before the fault and after it (default 2; the CI subset uses 1) */
  segments?: number;
  /** before publish: runs once the stream exists and before the fault, so the encoder still comes 1 s into the fault */
  prepare?: Inject;
}

/** A live, watched broadcast; the fault strikes after two segments; the same session must be live again after it. */
export async function midBroadcast(ctx: FaultContext, inject: Inject, options: FlowOptions = {}): Promise<FaultOutcome> {
  const { reconnectWindow = 15, protocol = 'rtmp', noKick = false, recoverSeconds = 45, segments = 2 } = options;
  const b = await ctx.broadcast({ reconnectWindow, protocol });
  await ctx.waitSegments(b, segments);
  const violations: string[] = [];
  const injectedAt = Date.now();
  const figures: Record<string, unknown> = { ...((await inject(ctx, b)) ?? {}) };
  const healedAt = Date.now();
  figures.faultMs = healedAt - injectedAt;
  try {
    const live = await ctx.waitLive(b.stream.streamId, recoverSeconds * 1000);
    figures.liveAgainMs = Date.now() - healedAt;
    if (live.currentSession?.id !== b.sessionId) violations.push(`${LOST} the broadcast came back in a new session (${live.currentSession?.id}, was ${b.sessionId})`);
    await ctx.waitSegments(b, segments, 40_000);
    figures.segmentsFlowingAgainMs = Date.now() - healedAt;
  } catch (error) {
    violations.push(`${LOST} not live again ${recoverSeconds} s after the fault: ${String(error)} (status ${await ctx.status(b.stream.streamId)})`);
  }
  figures.encoderRuns = b.publisher.runs.length;
  if (noKick && b.publisher.runs.length > 1) violations.push(`${LOST} the encoder was dropped ${b.publisher.runs.length - 1} time(s) by the fault`);
  await b.publisher.stop();
  return {
    expectations: [{ streamId: b.stream.streamId, final: ['STOPPED'], withinSeconds: reconnectWindow + 30, playbackId: b.playbackId }],
    figures,
    violations,
    maxLostSegments: options.maxLostSegments,
    expected5xx: options.expected5xx,
  };
}

/** The fault is on when the encoder comes; once it is over the stream must go live within `recoverSeconds`. */
export async function beforePublish(ctx: FaultContext, inject: Inject, options: FlowOptions = {}): Promise<FaultOutcome> {
  const { reconnectWindow = 10, recoverSeconds = 45 } = options;
  const stream = await ctx.stack.createStream({ reconnectWindow });
  const violations: string[] = [];
  let publisher: ReconnectingPublisher | null = null;
  const b: Broadcast = { stream, publisher: null as unknown as ReconnectingPublisher, watcher: null, sessionId: '', playbackId: stream.playbackIds[0].id };
  await options.prepare?.(ctx, b);
  const injecting = inject(ctx, b);
  await sleep(1000);
  publisher = new ReconnectingPublisher(ctx.rtmpUrl(stream.streamKey), SMALL_ENCODE);
  ctx.publishers.push(publisher);
  const figures: Record<string, unknown> = { ...((await injecting) ?? {}) };
  const healedAt = Date.now();
  try {
    await ctx.waitLive(stream.streamId, recoverSeconds * 1000);
    figures.liveAfterFaultMs = Date.now() - healedAt;
    const watcher = new PlaylistWatcher(ctx.stack, b.playbackId);
    ctx.watchers.push(watcher);
    await ctx.waitSegments({ ...b, publisher }, 2, 40_000);
  } catch (error) {
    violations.push(`${LOST} the encoder was not served ${recoverSeconds} s after the fault: ${String(error)} (status ${await ctx.status(stream.streamId)})`);
  }
  figures.encoderRuns = publisher.runs.length;
  await publisher.stop();
  return {
    expectations: [{ streamId: stream.streamId, final: ['STOPPED'], withinSeconds: reconnectWindow + 30, playbackId: b.playbackId }],
    figures,
    violations,
    maxLostSegments: options.maxLostSegments,
    expected5xx: options.expected5xx,
  };
}

/** A recorded broadcast of a few segments ends; the fault strikes while its recording is being made: COMPLETED anyway. */
export async function duringFinalization(ctx: FaultContext, inject: Inject, options: FlowOptions = {}): Promise<FaultOutcome> {
  const b = await ctx.broadcast({ record: true, reconnectWindow: 2 });
  await ctx.waitSegments(b, 3);
  await b.publisher.stop();
  const violations: string[] = [];
  await ctx.stack.waitForStatus(b.stream.streamId, 'STOPPED', 30_000);
  const stoppedAt = Date.now();
  const figures: Record<string, unknown> = { ...((await inject(ctx, b)) ?? {}) };
  figures.faultMs = Date.now() - stoppedAt;
  try {
    // Issue 11: watchable from R2 within seconds, then exportable once its MP4 is built; a failed export says so in error.
    const recording = await waitFor('the recording', async () => {
      const { body } = await ctx.stack.api('GET', `/live/streams/${b.stream.streamId}/recordings`);
      const r = body?.data?.[0];
      return r?.exportable || r?.recordingStatus === 'failed' || (r?.watchable && r?.error && !r?.queued) ? r : undefined;
    }, 150_000);
    if (!recording.exportable) throw new Error(`recording failed: ${recording.error}`);
    figures.recordingReadyMs = Date.now() - stoppedAt;
    figures.recordingSeconds = recording.duration;
  } catch (error) {
    violations.push(`${LOST} the recording did not become ready: ${String(error)}`);
  }
  return {
    expectations: [{ streamId: b.stream.streamId, final: ['COMPLETED'], withinSeconds: 30, playbackId: b.playbackId }],
    figures,
    violations,
    maxLostSegments: options.maxLostSegments,
    expected5xx: options.expected5xx,
  };
}
