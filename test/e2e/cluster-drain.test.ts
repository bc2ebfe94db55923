// Draining under a live broadcast: two origins behind HAProxy with the real edge; the origin carrying a recorded
// broadcast gets SIGTERM (a rolling restart) with a short DRAIN_TIMEOUT_SECONDS. It must refuse new publishers, keep the
// broadcast until the deadline, then disconnect the encoder, which reconnects through HAProxy to the other origin as
// the same session; the drained origin exits 0 once its media is uploaded, and no segment is lost: sequence numbers
// run on with one discontinuity, every listed segment plays, and the recording holds the whole broadcast.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { waitFor } from '../support/stack.ts';
import { ffprobe, publish, type Publisher } from '../support/encoder.ts';
import { renditionVerdict } from '../support/live-player.ts';
import { clusterRecording, expectOneJoinPerRendition, startWatchedBroadcast, type BroadcastParts } from '../support/cluster-broadcast.ts';

const DRAIN_SECONDS = 8;

let cluster: Cluster;
const parts: BroadcastParts = { encoder: null, player: null };
let intruder: Publisher | null = null;
beforeAll(async () => {
  cluster = await startCluster({ origins: 2, originEnv: { DRAIN_TIMEOUT_SECONDS: String(DRAIN_SECONDS) } });
});
afterAll(async () => {
  await parts.encoder?.stop();
  await intruder?.kill();
  await parts.player?.stop();
  await cluster?.stop();
});

const figure = (name: string, value: unknown) => console.log(`[figure] cluster-drain ${name}=${JSON.stringify(value)}`);

const recordingOf = (streamId: string) => clusterRecording(cluster, streamId);

describe('cluster drain: SIGTERM to the origin carrying a broadcast', () => {
  it('keeps the broadcast until the deadline, hands it over through HAProxy as the same session, exits 0, loses nothing', { timeout: 170_000 }, async () => {
    const { stack } = cluster;
    const { stream, sessionId, encoder, player, carrier: draining, other } = await startWatchedBroadcast(cluster, 8, parts);

    const termAt = Date.now();
    const exited = draining!.terminate(DRAIN_SECONDS * 1000 + 30_000);
    const firstRun = encoder.runs[0]!;

    // While it drains, the origin takes no new publisher (straight to its port, not through HAProxy).
    await new Promise((r) => setTimeout(r, 1500));
    const second = await stack.createStream();
    intruder = publish(`rtmp://127.0.0.1:${draining!.ports.rtmp}/live/${second.streamKey}`, { seconds: 30 });
    const intruderCode = await Promise.race([intruder.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000))]);
    expect(intruderCode, 'a publish to the draining origin').not.toBe('running');
    expect(intruderCode).not.toBe(0);
    expect((await stack.getStream(second.streamId)).status).toBe('NOT_STARTED');

    const exit = await exited;
    figure('drainedOriginExit', { code: exit.code, signal: exit.signal, afterSeconds: Number(((exit.at - termAt) / 1000).toFixed(1)) });
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(firstRun.endedAt).not.toBeNull();
    const kickedAfter = (firstRun.endedAt! - termAt) / 1000;
    figure('encoderKickedAfterSeconds', Number(kickedAfter.toFixed(1)));
    // It kept the broadcast it had until the deadline, then let the encoder go.
    expect(kickedAfter).toBeGreaterThanOrEqual(DRAIN_SECONDS - 1);
    expect(kickedAfter).toBeLessThanOrEqual(DRAIN_SECONDS + 5);

    const newLegListedAt = await waitFor('a segment of the new leg listed at the edge', async () => {
      const renditions = player!.renditions();
      const verdicts = renditions.map((r) => renditionVerdict(r, player!.ordered(r)));
      if (verdicts.length === 0 || !verdicts.every((v) => v.joins.length > 0)) return undefined;
      return Math.max(...verdicts.map((v) => player!.segments.get(v.rendition)!.get(v.joins[0]!)!.firstListedAt));
    }, 60_000);
    figure('handoverGapSeconds', Number(((newLegListedAt - firstRun.endedAt!) / 1000).toFixed(1)));
    expect(await cluster.carriers()).toEqual([other]);
    expect((await stack.getStream(stream.streamId)).currentSession?.id).toBe(sessionId);

    await new Promise((r) => setTimeout(r, 8000));
    const stoppedAt = Date.now();
    await encoder.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await player.stop();
    expect((await stack.api('POST', `/live/streams/${stream.streamId}/complete`)).status).toBe(200);
    await cluster.waitForEnded(stream.streamId, 20_000);

    expect(player.conflicts).toEqual([]);
    const verdicts = player.renditions().map((r) => renditionVerdict(r, player!.ordered(r)));
    figure('renditions', verdicts.map((v) => ({ rendition: v.rendition, first: v.first, last: v.last, legs: v.legs, joins: v.joins })));
    figure('playlistFailures', player.playlistFetches.filter((f) => f.status !== 200).map((f) => ({ ...f, sinceTermSeconds: Number(((f.at - termAt) / 1000).toFixed(1)) })));
    expect(verdicts.length).toBeGreaterThanOrEqual(2);
    expectOneJoinPerRendition(verdicts);
    expect(await player.refetchAll()).toEqual([]);
    const sessions = (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data as any[];
    expect(sessions.map((s) => s.id)).toEqual([sessionId]);

    // Nothing lost at the handover: the recording is what was sent minus the reconnect pause (within 3 s). Each leg
    // counts from the moment its origin accepted the publish (the origin's own log) to the kick, and to the end.
    const accepted = cluster.publishesAccepted(stream.streamId);
    expect(accepted.map((a) => a.originId)).toEqual([draining!.id, other.id]);
    const legsSent = [(firstRun.endedAt! - accepted[0]!.at) / 1000, (stoppedAt - accepted[1]!.at) / 1000];
    const sent = legsSent[0]! + legsSent[1]!;
    figure('legs', { sentSeconds: legsSent.map((d) => Number(d.toFixed(1))), listedSeconds: verdicts[0]!.legDurations.map((d) => Number(d.toFixed(1))) });
    const recording = await waitFor('the recording to be watchable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.watchable ? r : undefined;
    }, 30_000);
    const vod = await ffprobe(new URL(recording.recordingUrl, stack.edgeUrl).href);
    figure('recordingVodSeconds', Number(Number(vod.format.duration).toFixed(1)));
    expect(Math.abs(Number(vod.format.duration) - sent)).toBeLessThanOrEqual(3);
    const exportable = await waitFor('the recording to be exportable', async () => {
      const r = await recordingOf(stream.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.exportable ? r : undefined;
    }, 60_000);
    const mp4 = await ffprobe(new URL(exportable.mp4Url, stack.edgeUrl).href);
    expect(Math.abs(Number(mp4.format.duration) - sent)).toBeLessThanOrEqual(3);
    // A media grant is a credential: no origin logs it.
    expect(cluster.grantsInLogs()).toEqual([]);
  });
});
