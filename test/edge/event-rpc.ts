// A live event and its stream created straight through the StreamObject's RPC (what the /v1/live/events route calls),
// with the stream key an encoder would use: the object tests drive events without the HTTP layer in between.
import { env } from 'cloudflare:workers';
import { newId, newPlaybackId, newStreamKey, sha256Hex } from '../../shared/identifiers.ts';
import type { CreateLiveEventRequest } from '../../shared/schemas/live-event.ts';
import type { StreamObject } from '../../edge/stream-object.ts';

/** The object's RPC, typed as the class (the stub's own types go too deep for the compiler here). */
export const eventObject = (streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId)) as unknown as StreamObject;

/** Creates the event in a new stream of the workspace; `record` is the stream's recording setting. */
export async function createEventViaRpc(workspaceId: string, request: CreateLiveEventRequest, options: { record: boolean }) {
  const streamId = newId('ls', 16);
  const streamKey = newStreamKey();
  const eventId = newId('le', 16);
  const publicPlaybackId = newPlaybackId();
  const previewPlaybackId = newPlaybackId();
  const event = await eventObject(streamId).createEvent({
    streamId,
    workspaceId,
    keyHash: await sha256Hex(streamKey),
    srtSecret: 'srt-secret-of-the-test',
    playbackId: previewPlaybackId,
    accessPolicy: 'public',
    settings: { metadata: {}, reconnectWindow: 10, record: options.record, maxResolution: '1080p', profiles: null, srtLatency: 120 },
    eventId,
    publicPlaybackId,
    request,
  } as Parameters<StreamObject['createEvent']>[0]);
  return { streamId, streamKey, eventId, publicPlaybackId, previewPlaybackId, event };
}
