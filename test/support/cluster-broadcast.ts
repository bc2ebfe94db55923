// What the cluster failover and drain tests start from: a recorded broadcast published through HAProxy by an encoder
// that reconnects as OBS does, on a two-origin cluster, watched at the edge by a player that polls the playlists and
// fetches every segment it sees listed, once enough media is listed for the test to break something.
import { waitFor } from './stack.ts';
import { ReconnectingPublisher } from './encoder.ts';
import { expect } from 'vitest';
import { LivePlayer, type RenditionVerdict } from './live-player.ts';
import type { Cluster, ClusterOrigin } from './cluster.ts';

export interface WatchedBroadcast {
  stream: any;
  sessionId: string;
  encoder: ReconnectingPublisher;
  player: LivePlayer;
  /** the origin HAProxy gave the encoder */
  carrier: ClusterOrigin;
  /** the cluster's other origin */
  other: ClusterOrigin;
}

/** Where the test keeps what it must stop in afterAll, filled in as soon as each part runs. */
export interface BroadcastParts {
  encoder: ReconnectingPublisher | null;
  player: LivePlayer | null;
}

export async function startWatchedBroadcast(cluster: Cluster, listedSeconds: number, parts: BroadcastParts): Promise<WatchedBroadcast> {
  const { stack } = cluster;
  // A retry (CI) of a test that killed or drained an origin: what the failed attempt left running is stopped and every
  // origin brought back, so the retry starts from the cluster the first attempt had.
  await parts.encoder?.stop();
  await parts.player?.stop();
  const down = cluster.origins.filter((o) => !o.running());
  for (const origin of down) await origin.start();
  if (down.length > 0) await cluster.waitForOrigins(cluster.origins.map((o) => o.id));
  const stream = await stack.createStream({ record: true, reconnectWindow: 60 });
  const encoder = new ReconnectingPublisher(cluster.ingestUrl(stream.streamKey), { size: '854x480' }, 1000);
  parts.encoder = encoder;
  const live = await stack.waitForStatus(stream.streamId, 'RECORDING', 30_000);
  const [carrier] = await waitFor('HAProxy to carry the encoder', async () => {
    const carriers = await cluster.carriers();
    return carriers.length === 1 ? carriers : undefined;
  }, 10_000);
  const other = cluster.origins.find((o) => o.id !== carrier!.id)!;

  const player = new LivePlayer(`${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8`, (url) => stack.edgeFetch(url));
  parts.player = player;
  player.start();
  await waitFor(`${listedSeconds} s of media listed at the edge`, async () => {
    const renditions = player.renditions();
    if (renditions.length === 0) return undefined;
    return player.ordered(renditions[0]!).reduce((sum, s) => sum + s.duration, 0) >= listedSeconds ? true : undefined;
  }, 40_000);
  return { stream, sessionId: live.currentSession.id, encoder, player, carrier: carrier!, other };
}

/** The stream's recording (its only one in these tests), or null before it exists. */
export async function clusterRecording(cluster: Cluster, streamId: string): Promise<any> {
  return ((await cluster.stack.api('GET', `/live/streams/${streamId}/recordings`)).body.data as any[])[0] ?? null;
}

/**
 * Each rendition ran on two origins (two legs) joined by exactly one EXT-X-DISCONTINUITY, with no sequence gap, no
 * listed segment that failed, and no segment name used twice.
 */
export function expectOneJoinPerRendition(verdicts: RenditionVerdict[]): void {
  for (const verdict of verdicts) {
    expect(verdict.legs, verdict.rendition).toHaveLength(2);
    expect(verdict.discontinuities, verdict.rendition).toEqual(verdict.joins);
    expect(verdict.gaps, verdict.rendition).toEqual([]);
    expect(verdict.notOk, verdict.rendition).toEqual([]);
    expect(verdict.reusedNames, verdict.rendition).toEqual([]);
  }
}
