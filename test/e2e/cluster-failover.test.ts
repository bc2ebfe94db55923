// Failover through a real load balancer: two origins behind HAProxy (TCP) with the real edge. A recorded broadcast
// goes through HAProxy to one origin; that origin is SIGKILLed (process group: its ffmpeg too, the machine is gone);
// the encoder reconnects through HAProxy as OBS does and lands on the other origin. The broadcast must continue as the
// same session (one discontinuity, sequence numbers continue, new segment names), a player polling the edge the whole
// time must never get a 404 for a segment a playlist listed, and the recording and a clip across the failover point
// must hold the media of both origins. The failover gap (kill → first new segment listed at the edge) is a figure.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { waitFor } from '../support/stack.ts';
import { ffprobe } from '../support/encoder.ts';
import { parseMediaPlaylist, renditionVerdict, variantsOf } from '../support/live-player.ts';
import { clusterRecording, expectOneJoinPerRendition, startWatchedBroadcast, type BroadcastParts } from '../support/cluster-broadcast.ts';

let cluster: Cluster;
const parts: BroadcastParts = { encoder: null, player: null };
beforeAll(async () => {
  cluster = await startCluster({ origins: 2 });
});
afterAll(async () => {
  await parts.encoder?.stop();
  await parts.player?.stop();
  await cluster?.stop();
});

const figure = (name: string, value: unknown) => console.log(`[figure] cluster-failover ${name}=${JSON.stringify(value)}`);

async function sessionsOf(streamId: string) {
  return (await cluster.stack.api('GET', `/live/streams/${streamId}/sessions`)).body.data as any[];
}

const recordingOf = (streamId: string) => clusterRecording(cluster, streamId);

describe('cluster failover: an origin dies under a recorded broadcast', () => {
  it('the encoder lands on the other origin through HAProxy and the session, playback, recording and clips continue', { timeout: 170_000 }, async () => {
    const { stack } = cluster;
    const { stream, sessionId, encoder, player, carrier: first, other } = await startWatchedBroadcast(cluster, 10, parts);
    // The stream's ingest address is the load balancer's, not an origin's.
    expect(stream.ingest.rtmp.url).toContain(`:${cluster.haproxy.ports.rtmp}/`);

    const killedAt = Date.now();
    const exit = await first!.kill();
    expect(exit.signal).toBe('SIGKILL');
    figure('killed', first!.id);

    // The encoder comes back through HAProxy on the other origin, as the same session.
    const newLegListedAt = await waitFor('a segment of a new leg listed at the edge', async () => {
      const renditions = player!.renditions();
      if (renditions.length === 0) return undefined;
      const verdicts = renditions.map((r) => renditionVerdict(r, player!.ordered(r)));
      if (!verdicts.every((v) => v.joins.length > 0)) return undefined;
      return Math.max(...verdicts.map((v) => player!.segments.get(v.rendition)!.get(v.joins[0]!)!.firstListedAt));
    }, 60_000);
    const gapSeconds = (newLegListedAt - killedAt) / 1000;
    figure('failoverGapSeconds', Number(gapSeconds.toFixed(1)));
    expect(await cluster.carriers()).toEqual([other]);
    figure('encoderRunsUntilResumed', encoder.runs.length);
    expect((await stack.getStream(stream.streamId)).currentSession?.id).toBe(sessionId);

    // 10 s more on the second origin, then the broadcast ends.
    await new Promise((r) => setTimeout(r, 10_000));
    const stoppedAt = Date.now();
    await encoder.stop();
    await new Promise((r) => setTimeout(r, 3000)); // the player sees the last segments of the second leg
    await player.stop();
    const completed = await stack.api('POST', `/live/streams/${stream.streamId}/complete`);
    expect(completed.status).toBe(200);
    await cluster.waitForEnded(stream.streamId, 20_000);
    const stoppedSeenAt = Date.now();

    // What the player saw, per rendition: two legs joined by exactly one discontinuity, no gap, every segment 200.
    expect(player.conflicts).toEqual([]);
    const verdicts = player.renditions().map((r) => renditionVerdict(r, player!.ordered(r)));
    figure('renditions', verdicts.map((v) => ({ rendition: v.rendition, first: v.first, last: v.last, legs: v.legs, joins: v.joins, legDurations: v.legDurations.map((d) => Number(d.toFixed(1))) })));
    figure('playlistStatuses', Object.fromEntries(
      [...new Set(player.playlistFetches.map((f) => f.status))].map((s) => [s, player!.playlistFetches.filter((f) => f.status === s).length]),
    ));
    figure('playlistFailures', player.playlistFetches.filter((f) => f.status !== 200).map((f) => ({ ...f, sinceKillSeconds: Number(((f.at - killedAt) / 1000).toFixed(1)) })));
    expect(verdicts.length).toBeGreaterThanOrEqual(2); // a ladder: the source and a rendition below it
    expectOneJoinPerRendition(verdicts);
    // Every segment any playlist listed is still there now that the first origin is gone (served from R2).
    expect(await player.refetchAll()).toEqual([]);

    const sessions = await sessionsOf(stream.streamId);
    expect(sessions.map((s) => s.id)).toEqual([sessionId]);

    // The recording: watchable quickly, then exportable; it holds both legs.
    // Sent = from the moment an origin accepted the publish (its own log) to the kill, and again to the end; the
    // outage between is what the recording cannot hold.
    const accepted = cluster.publishesAccepted(stream.streamId);
    expect(accepted.map((a) => a.originId)).toEqual([first!.id, other.id]);
    const legsSent = [(killedAt - accepted[0]!.at) / 1000, (stoppedAt - accepted[1]!.at) / 1000];
    const outage = (accepted[1]!.at - killedAt) / 1000;
    const sent = legsSent[0]! + legsSent[1]!; // = sent − outage
    figure('legs', { sentSeconds: legsSent.map((d) => Number(d.toFixed(1))), listedSeconds: verdicts[0]!.legDurations.map((d) => Number(d.toFixed(1))) });
    figure('outageSeconds', Number(outage.toFixed(1)));
    const watchable = await waitFor('the recording to be watchable', async () => {
      const recording = await recordingOf(stream.streamId);
      if (recording?.recordingStatus === 'failed') throw new Error(`recording failed: ${recording.error}`);
      return recording?.watchable ? recording : undefined;
    }, 30_000);
    figure('watchableAfterStoppedSeconds', Number(((Date.now() - stoppedSeenAt) / 1000).toFixed(1)));
    // Its VOD playlists: both legs, joined by one discontinuity, every segment name once.
    const vodMasterUrl = new URL(watchable.recordingUrl, stack.edgeUrl).href;
    for (const variant of variantsOf(await (await stack.edgeFetch(vodMasterUrl)).text())) {
      const text = await (await stack.edgeFetch(new URL(variant, vodMasterUrl).toString())).text();
      const listed = parseMediaPlaylist(text);
      expect(listed.filter((s) => s.discontinuity).length, `${variant} discontinuities`).toBe(1);
      expect(new Set(listed.map((s) => s.uri.split('/').pop())).size, `${variant} names`).toBe(listed.length);
      expect(text).toContain('#EXT-X-ENDLIST');
    }
    const vod = await ffprobe(vodMasterUrl);
    expect(vod.streams.some((s: any) => s.codec_type === 'video')).toBe(true);
    figure('recordingVodSeconds', Number(Number(vod.format.duration).toFixed(1)));
    expect(Math.abs(Number(vod.format.duration) - sent)).toBeLessThanOrEqual(3);

    const exportable = await waitFor('the recording to be exportable', async () => {
      const recording = await recordingOf(stream.streamId);
      if (recording?.recordingStatus === 'failed') throw new Error(`recording failed: ${recording.error}`);
      return recording?.exportable ? recording : undefined;
    }, 60_000);
    figure('exportableAfterStoppedSeconds', Number(((Date.now() - stoppedSeenAt) / 1000).toFixed(1)));
    figure('recordingDurationSeconds', exportable.duration);
    expect(Math.abs(exportable.duration - sent)).toBeLessThanOrEqual(3);
    const mp4 = await ffprobe(new URL(exportable.mp4Url, stack.edgeUrl).href);
    expect(Math.abs(Number(mp4.format.duration) - sent)).toBeLessThanOrEqual(3);

    // A clip across the failover point: 4 s either side of where the second leg starts in the recording.
    const source = verdicts[0]!;
    const joinAt = source.legDurations[0]!;
    const created = await stack.api('POST', `/live/streams/${stream.streamId}/clips`, { startTime: Math.max(0, joinAt - 4), endTime: joinAt + 4 });
    expect(created.status).toBe(202);
    const clip = await waitFor('the clip across the failover point', async () => {
      const { body } = await stack.api('GET', `/on-demand/${stream.streamId}/live-clips?limit=100`);
      const found = body.data.find((c: any) => c.id === created.body.data.id);
      if (found?.status === 'failed') throw new Error(`clip failed: ${found.error}`);
      return found?.status === 'ready' ? found : undefined;
    }, 60_000);
    const clipProbe = await ffprobe(new URL(clip.playbackUrl, stack.edgeUrl).href);
    expect(clipProbe.streams.some((s: any) => s.codec_type === 'video')).toBe(true);
    expect(Math.abs(Number(clipProbe.format.duration) - 8)).toBeLessThanOrEqual(4); // keyframe mode: a GOP either side
    figure('clipSeconds', Number(Number(clipProbe.format.duration).toFixed(1)));
    // A media grant is a credential: no origin logs it.
    expect(cluster.grantsInLogs()).toEqual([]);
  });
});
