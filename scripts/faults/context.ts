// What a fault run has at hand: the stack, the steady webhook receiver every stream's events go to, small encoders
// that reconnect like OBS, viewers through the edge, and the bookkeeping the runner needs to check invariants.
import { startStack, waitFor, type Stack, type StackOptions } from '../../test/support/stack.ts';
import { ReconnectingPublisher, type PublishOptions } from '../../test/support/encoder.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { PlaylistWatcher } from './playlist-watcher.ts';

/** Small encodes keep 2 cores free for the origin: 320x180 test pattern, 15 fps, 2 s GOP, ultrafast. */
export const SMALL_ENCODE: PublishOptions = { size: '320x180', rate: 15, videoBitrate: '300k' };
export const LIVE = ['STREAMING', 'RECORDING'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Broadcast {
  stream: any;
  publisher: ReconnectingPublisher;
  watcher: PlaylistWatcher | null;
  sessionId: string;
  playbackId: string;
}

export interface BroadcastOptions {
  record?: boolean;
  reconnectWindow?: number;
  protocol?: 'rtmp' | 'srt';
  /** watch its playlists through the edge (default true) */
  watch?: boolean;
  /** wait for it to be live (default true) */
  waitLive?: boolean;
}

export interface FaultContext {
  stack: Stack;
  steady: WebhookReceiver;
  rtmpUrl(streamKey: string): string;
  /** creates a stream, starts a reconnecting encoder on it, waits until it is live and starts watching it */
  broadcast(options?: BroadcastOptions): Promise<Broadcast>;
  /** waits until the stream is live (STREAMING or RECORDING); the session it is live in */
  waitLive(streamId: string, timeoutMs?: number): Promise<any>;
  /** waits until `count` more segments are listed in the stream's source playlist on the origin's disk */
  waitSegments(broadcast: Broadcast, count: number, timeoutMs?: number): Promise<void>;
  /** the stream's status right now */
  status(streamId: string): Promise<string>;
  /** every encoder and viewer this fault started, stopped by the runner */
  publishers: ReconnectingPublisher[];
  watchers: PlaylistWatcher[];
  /** cleanups the fault registers (receivers to close, endpoints to delete) */
  cleanups: (() => Promise<void>)[];
}

export const EDGE_VARS = {
  WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
  WEBHOOK_RETRY_BASE_SECONDS: '1',
  WEBHOOK_TIMEOUT_SECONDS: '5',
};

export interface Harness {
  stack: Stack;
  steady: WebhookReceiver;
  steadyWebhookId: string;
  options: StackOptions;
  stop(): Promise<void>;
}

/** A stack for faults: origin → edge through a FaultProxy, a steady webhook receiver subscribed to everything. */
export async function startHarness(options: StackOptions): Promise<Harness> {
  const full: StackOptions = { ...options, edgeProxy: true, reportSecretsOnly: true, edgeVars: { ...EDGE_VARS, ...options.edgeVars } };
  const stack = await startStack(full);
  const steady = await startWebhookReceiver();
  const created = await stack.api('POST', '/webhooks', { url: steady.url, description: 'fault suite: steady receiver' });
  if (created.status !== 201) throw new Error(`webhook endpoint not created: ${created.status} ${JSON.stringify(created.body)}`);
  steady.secret = created.body.data.secret;
  return {
    stack,
    steady,
    steadyWebhookId: created.body.data.webhookId,
    options,
    async stop() {
      await steady.close();
      await stack.stop();
    },
  };
}

export function contextFor(harness: Harness): FaultContext {
  const { stack, steady } = harness;
  const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${stack.ports.rtmp}/live/${key}`;
  const status = async (streamId: string) => (await stack.getStream(streamId))?.status as string;
  const waitLive = (streamId: string, timeoutMs = 30_000) =>
    waitFor(`stream ${streamId} to be live`, async () => {
      const stream = await stack.getStream(streamId);
      return LIVE.includes(stream?.status) ? stream : undefined;
    }, timeoutMs);
  const ctx: FaultContext = {
    stack,
    steady,
    rtmpUrl,
    status,
    waitLive,
    publishers: [],
    watchers: [],
    cleanups: [],
    async broadcast(options = {}) {
      const { record = false, reconnectWindow = 10, protocol = 'rtmp', watch = true, waitLive: wait = true } = options;
      const stream = await stack.createStream({ record, reconnectWindow });
      const url = protocol === 'srt' ? stream.ingest.srt.url : rtmpUrl(stream.streamKey);
      const publisher = new ReconnectingPublisher(url, { ...SMALL_ENCODE, format: protocol === 'srt' ? 'mpegts' : 'flv' });
      ctx.publishers.push(publisher);
      const live = wait ? await waitLive(stream.streamId) : null;
      const playbackId = stream.playbackIds[0].id as string;
      const watcher = watch ? new PlaylistWatcher(stack, playbackId) : null;
      if (watcher) ctx.watchers.push(watcher);
      return { stream, publisher, watcher, sessionId: live?.currentSession?.id ?? null, playbackId };
    },
    async waitSegments(b, count, timeoutMs = 30_000) {
      const base = await segmentCount(stack, b);
      await waitFor(`${count} more segments of ${b.stream.streamId}`, async () => ((await segmentCount(stack, b)) >= base + count ? true : undefined), timeoutMs);
    },
  };
  return ctx;
}

/** Segments listed in the live source playlist through the edge (0 when it cannot be read right now). */
async function segmentCount(stack: Stack, b: Broadcast): Promise<number> {
  try {
    const masterUrl = `${stack.edgeUrl}/hls/${b.playbackId}/master.m3u8`;
    const master = await (await stack.edgeFetch(masterUrl, { signal: AbortSignal.timeout(4000) })).text();
    const variant = master.split('\n').find((l) => l && !l.startsWith('#'));
    if (!variant) return 0;
    const media = await (await stack.edgeFetch(new URL(variant, masterUrl).toString(), { signal: AbortSignal.timeout(4000) })).text();
    const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(media)?.[1] ?? 0);
    return sequence + (media.match(/#EXTINF/g)?.length ?? 0);
  } catch {
    return 0;
  }
}
