// PUBLIC_BASE_URL: webhook payloads carry media URLs absolute on it when it is set, /hls/... paths when it is not, and a
// malformed value is logged once and ignored. The value's parser and the payload mapping are pure and tested directly;
// one fan-out + delivery shows what a receiver verifies.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import type { Env } from '../../edge/env.ts';
import type { VideoAssetWebhook, WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import { consumeWebhookEvents, fanOutEvent, WEBHOOK_QUEUES } from '../../edge/webhook-consumer.ts';
import { parsePublicBaseUrl, publicBaseUrl } from '../../edge/public-base-url.ts';
import { withAbsoluteMediaUrls } from '../../edge/webhooks/payload-urls.ts';
import { videoView, type VideoDocument } from '../../edge/video/video-document.ts';
import { initialVideoState } from '../../edge/video/video-machine.ts';
import { api, createWorkspace, json, type Workspace } from './helpers.ts';
import { standInWebhookLanes } from './webhook-lanes.ts';

const BASE = 'https://video.example.com';

function readyVideoEvent(workspaceId = 'ws_1'): VideoAssetWebhook {
  const doc: VideoDocument = {
    videoId: `vid_${crypto.randomUUID()}`, workspaceId, source: 'upload', title: 't', metadata: {}, playbackId: 'pb1',
    accessPolicy: 'public', state: { ...initialVideoState(), status: 'ready', readyAt: 0 }, sourceUrl: null, deleted: false,
    createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(),
  };
  return {
    id: `evt_${crypto.randomUUID()}`, type: 'video.asset.ready', event: 'VIDEO_ASSET', sequence: 2, timestamp: new Date().toISOString(),
    workspaceId, streamId: doc.videoId, videoId: doc.videoId, status: 'ready', reason: null, sessionId: null, subject: null,
    data: videoView(doc),
  };
}

describe('parsePublicBaseUrl', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['  ', null],
    [BASE, BASE],
    [`${BASE}/`, BASE],
    ['https://video.example.com:8443', 'https://video.example.com:8443'],
    ['http://127.0.0.1:8787', 'http://127.0.0.1:8787'],
    ['http://localhost:8787/', 'http://localhost:8787'],
  ])('%j is the base %j', (raw, base) => {
    expect(parsePublicBaseUrl(raw)).toEqual({ ok: true, base });
  });

  it.each([
    ['video.example.com', /absolute URL/],
    ['/hls', /absolute URL/],
    ['ftp://video.example.com', /scheme ftp:/],
    ['http://video.example.com', /only for local development/],
    ['https://user:pass@video.example.com', /credentials/],
    ['https://video.example.com/video', /no path/],
    ['https://video.example.com/?a=b', /no path, query/],
    ['https://video.example.com/#x', /fragment/],
  ])('%j is refused', (raw, problem) => {
    const check = parsePublicBaseUrl(raw);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toMatch(problem);
  });
});

describe('withAbsoluteMediaUrls', () => {
  it("a ready video's URLs resolve on the base; without one the payload is the same object", () => {
    const event = readyVideoEvent();
    expect(event.data.hlsUrl).toBe('/hls/pb1/master.m3u8');
    const mapped = withAbsoluteMediaUrls(event, BASE) as VideoAssetWebhook;
    expect(mapped.data).toMatchObject({
      hlsUrl: `${BASE}/hls/pb1/master.m3u8`,
      mp4Url: `${BASE}/hls/pb1/video.mp4`,
      thumbnailUrl: `${BASE}/hls/pb1/thumbnail.jpg`,
    });
    expect({ ...mapped, data: { ...mapped.data, hlsUrl: null, mp4Url: null, thumbnailUrl: null } }).toEqual({
      ...event,
      data: { ...event.data, hlsUrl: null, mp4Url: null, thumbnailUrl: null },
    });
    expect(event.data.hlsUrl).toBe('/hls/pb1/master.m3u8');
    expect(withAbsoluteMediaUrls(event, null)).toBe(event);
  });

  it("null URLs (a video not ready), a body trimmed to fit the Queue, and a stream's event stay as they are", () => {
    const waiting = readyVideoEvent();
    waiting.data = { ...waiting.data, hlsUrl: null, mp4Url: null, thumbnailUrl: null };
    expect(withAbsoluteMediaUrls(waiting, BASE)).toEqual(waiting);
    const trimmed = { ...readyVideoEvent(), data: { videoId: 'vid_1', status: 'ready' } } as unknown as WebhookEvent;
    expect(withAbsoluteMediaUrls(trimmed, BASE)).toEqual(trimmed);
    const stream = { event: 'ON_PUBLISH', type: 'video.live_stream.active', data: { streamId: 'ls_1' } } as unknown as WebhookEvent;
    expect(withAbsoluteMediaUrls(stream, BASE)).toBe(stream);
  });

  it("a live event's playbackUrls resolve on the base", () => {
    const event = {
      event: 'LIVE_EVENT',
      type: 'video.live_event.live',
      data: { liveEventId: 'le_1', playbackUrls: { public: '/hls/pub/master.m3u8', preview: '/hls/pre/master.m3u8' } },
    } as unknown as WebhookEvent;
    expect((withAbsoluteMediaUrls(event, BASE).data as { playbackUrls: unknown }).playbackUrls).toEqual({
      public: `${BASE}/hls/pub/master.m3u8`,
      preview: `${BASE}/hls/pre/master.m3u8`,
    });
  });
});

describe('publicBaseUrl', () => {
  it('logs a malformed value once, without the value, and ignores it', () => {
    const logged = vi.spyOn(console, 'log');
    try {
      const malformed = { PUBLIC_BASE_URL: 'ftp://user:hunter2@video.example.com' };
      expect(publicBaseUrl(malformed)).toBeNull();
      expect(publicBaseUrl(malformed)).toBeNull();
      const lines = logged.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('config_invalid'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'config_invalid', variable: 'PUBLIC_BASE_URL', problem: 'scheme ftp: is not https:' });
      expect(lines[0]).not.toContain('hunter2');
      expect(publicBaseUrl({ PUBLIC_BASE_URL: BASE })).toBe(BASE);
      expect(publicBaseUrl({})).toBeNull();
    } finally {
      logged.mockRestore();
    }
  });
});

describe('a video.asset.ready delivery', () => {
  let fetchStub: MockInstance<typeof fetch>;
  let received: { body: string; headers: Record<string, string> }[] = [];
  let workspace: Workspace;
  let secret: string;
  beforeAll(async () => {
    fetchStub = vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      received.push({ body: String(init?.body), headers: Object.fromEntries(new Headers(init?.headers).entries()) });
      return new Response(null, { status: 204 });
    });
    workspace = await createWorkspace('public-base-url');
    const response = await api(workspace, 'POST', '/webhooks', { url: `https://receiver.test/${crypto.randomUUID()}` });
    expect(response.status).toBe(201);
    secret = (await json(response)).data.secret;
  });
  afterAll(() => fetchStub.mockRestore());

  /** Fans a ready video's event out with `vars` and delivers it; the payload the receiver verified. */
  async function deliveredWith(vars: Partial<Env>): Promise<VideoAssetWebhook> {
    const { lanes, env: lanesEnv } = standInWebhookLanes();
    const testEnv = { ...lanesEnv, ...vars } as Env;
    received = [];
    await fanOutEvent(testEnv, readyVideoEvent(workspace.id));
    const batch = createMessageBatch(
      WEBHOOK_QUEUES.deliveries,
      lanes.deliveries.sent.map((s, i) => ({ id: `msg-${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: s.body })),
    );
    await consumeWebhookEvents(batch as MessageBatch<unknown>, testEnv);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);
    expect(received).toHaveLength(1);
    return new Webhook(secret).verify(received[0]!.body, received[0]!.headers) as VideoAssetWebhook;
  }

  it('carries URLs absolute on PUBLIC_BASE_URL when it is set, signed as sent', async () => {
    const payload = await deliveredWith({ PUBLIC_BASE_URL: BASE });
    expect(payload.data).toMatchObject({ hlsUrl: `${BASE}/hls/pb1/master.m3u8`, thumbnailUrl: `${BASE}/hls/pb1/thumbnail.jpg` });
    const stored = await env.DB.prepare('SELECT body FROM webhook_deliveries WHERE event_id = ?').bind(payload.id).first<{ body: string }>();
    expect(JSON.parse(stored!.body)).toEqual(payload);
  });

  it('carries /hls/... paths when it is unset, and when it is malformed (logged)', async () => {
    expect((await deliveredWith({})).data).toMatchObject({ hlsUrl: '/hls/pb1/master.m3u8', mp4Url: '/hls/pb1/video.mp4' });
    const logged = vi.spyOn(console, 'log');
    try {
      expect((await deliveredWith({ PUBLIC_BASE_URL: 'video.example.com' })).data).toMatchObject({ hlsUrl: '/hls/pb1/master.m3u8' });
      expect(logged.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"config_invalid"'))).toHaveLength(1);
    } finally {
      logged.mockRestore();
    }
  });
});
