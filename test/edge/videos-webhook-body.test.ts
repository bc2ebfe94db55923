// A video's webhook body on the Queue (issue 13): validated by the envelope schema receivers are documented with, and
// trimmed like a stream's when its metadata would overflow one Queue message — the video named, the receiver sent to GET it.
import { describe, it, expect } from 'vitest';
import { fitBody, bodyBytes, QUEUE_LIMITS, TRUNCATED_METADATA_KEY } from '../../edge/webhook-outbox-batches.ts';
import { VideoAssetWebhook, WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import { videoView, type VideoDocument } from '../../edge/video/video-document.ts';
import { initialVideoState } from '../../edge/video/video-machine.ts';
import { WebhookEventType } from '../../shared/schemas/webhooks.ts';

function videoEvent(metadata: Record<string, string>, reason: string | null = null): VideoAssetWebhook {
  const doc: VideoDocument = {
    videoId: 'vid_1', workspaceId: 'ws_1', source: 'upload', title: 't', metadata, playbackId: 'pb1', accessPolicy: 'public',
    state: { ...initialVideoState(), status: 'failed', error: reason }, sourceUrl: null, deleted: false,
    createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(),
  };
  return {
    id: 'evt_1', type: 'video.asset.errored', event: 'VIDEO_ASSET', sequence: 2, timestamp: new Date(0).toISOString(),
    workspaceId: 'ws_1', streamId: 'vid_1', videoId: 'vid_1', status: 'failed', reason, sessionId: null, subject: null, data: videoView(doc),
  };
}

describe('video.asset.* webhook bodies', () => {
  it('parse as a VideoAssetWebhook and as the WebhookEvent union; endpoints may filter on each type', () => {
    const event = videoEvent({ a: 'b' }, 'source answered 404');
    expect(VideoAssetWebhook.parse(event)).toEqual(event);
    expect(WebhookEvent.parse(event)).toEqual(event);
    for (const type of ['video.asset.created', 'video.asset.ready', 'video.asset.errored', 'video.asset.deleted']) {
      expect(WebhookEventType.safeParse(type).success, type).toBe(true);
    }
    expect(WebhookEventType.safeParse('video.asset.updated').success).toBe(false);
  });

  it('small bodies pass untouched', () => {
    const event = videoEvent({ a: 'b' });
    expect(fitBody(event)).toEqual({ body: event, trimmed: false });
  });

  it('an oversized one loses its metadata first, marked, naming the video; then goes by reference', () => {
    const event = videoEvent(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'é'.repeat(3000)])), 'x'.repeat(5000));
    const { body, trimmed } = fitBody(event);
    expect(trimmed).toBe(true);
    expect(bodyBytes(JSON.stringify(body))).toBeLessThanOrEqual(QUEUE_LIMITS.maxMessageBytes);
    expect(body).toMatchObject({ id: 'evt_1', type: 'video.asset.errored', sequence: 2, videoId: 'vid_1', status: 'failed' });
    expect((body.data as { metadata: Record<string, string> }).metadata[TRUNCATED_METADATA_KEY]).toMatch(/GET the video$/);
    expect(body.reason!.length).toBeLessThan(1100);

    const tight = { ...QUEUE_LIMITS, maxMessageBytes: 400 };
    const byReference = fitBody(videoEvent({ a: 'b'.repeat(2000) }), tight).body;
    expect(byReference.data).toEqual({ videoId: 'vid_1', status: 'failed' });
  });
});
