// The world the bad-input corpus runs against, built through the edge's own API: workspace A (the caller) with a
// stream, a disabled webhook, a signing key, a private live playback, a stored recording MP4 for Range cases, a
// scheduled live event, a disabled simulcast destination and a library video (an upload not yet sent: waiting), and
// workspace B (the same kinds of resources) whose real
// ids A must never see. Origin-side steps are signed /internal calls, as an origin makes them.
import { signRequest } from '../../shared/request-signing.ts';
import { ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER } from '../../shared/media-grant.ts';

export type Send = (request: Request) => Promise<Response>;

export interface WorkspaceFixture {
  id: string;
  auth: string;
  accessTokenId: string;
  /** live (a session on an origin that is not there), private playback */
  streamId: string;
  /** NOT_STARTED: where bodies are sent */
  idleStreamId: string;
  webhookId: string;
  signingKeyId: string;
  recordingId: string;
  /** a LIVE_TYPE_LIVE event scheduled far ahead (SCHEDULED: no alarm work, no origin needed) */
  eventId: string;
  /** a disabled rtmp destination: A's on its idle stream (where bodies go), B's on B's stream (streamId) */
  destinationId: string;
  /** an uploaded video still waiting for its bytes (POST /v1/videos/uploads; its upload URL never used) */
  videoId: string;
  cursor: string | null;
}

export interface BadInputFixture {
  a: WorkspaceFixture & {
    /** a second token of A, revoked: must be 401 everywhere */
    revokedAuth: string;
    privatePlaybackId: string;
    liveSessionId: string;
    signingKeyPkcs8Pem: string;
    signingKeySpkiPem: string;
    storedMp4Path: string;
    storedMp4Size: number;
  };
  b: WorkspaceFixture & { signingKeyPkcs8Pem: string };
  adminToken: string;
}

const ORIGIN = { originId: 'bad-inputs-origin', originUrl: 'http://127.0.0.1:9' };

async function expectStatus(response: Response, status: number, what: string): Promise<any> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`bad-inputs setup: ${what} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

export async function buildFixture(send: Send, base: string, secrets: { adminToken: string; originSecret: string }): Promise<BadInputFixture> {
  const admin = (path: string, body: unknown, method = 'POST') =>
    send(new Request(base + path, { method, headers: { authorization: `Bearer ${secrets.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }));
  // The fixture's origin is provisioned like any (POST /admin/origins, or a new secret if an earlier run made it): the
  // edge's master key (secrets.originSecret) signs nothing itself.
  let originSecret: Promise<string> | null = null;
  const issueOriginSecret = async (): Promise<string> => {
    const created = await admin('/admin/origins', { id: ORIGIN.originId, region: 'local' });
    if (created.status === 409) return (await expectStatus(await admin(`/admin/origins/${ORIGIN.originId}/rotate-secret`, {}), 200, 'rotate origin secret')).data.secret;
    return (await expectStatus(created, 201, 'provision origin')).data.secret;
  };
  const signed = async (method: string, path: string, body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}) => {
    originSecret ??= issueOriginSecret();
    const headers = { ...(await signRequest(await originSecret, method, path, body)), [ORIGIN_ID_HEADER]: ORIGIN.originId, ...extra };
    return send(new Request(base + path, { method, body, headers: { ...headers, 'content-type': contentType } }));
  };
  const signedJson = (path: string, body: unknown) => signed('POST', path, JSON.stringify(body), 'application/json');

  async function workspace(name: string) {
    const { data } = await expectStatus(await admin('/admin/workspaces', { name }), 201, 'create workspace');
    const auth = `Basic ${btoa(`${data.accessToken.id}:${data.accessToken.secret}`)}`;
    const api = (method: string, path: string, body?: unknown) =>
      send(new Request(`${base}/v1${path}`, {
        method,
        headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }));
    const stream = (await expectStatus(await api('POST', '/live/streams', { accessPolicy: 'private', record: true }), 201, 'create stream')).data;
    // A second, idle stream: bodies go to it (a live one would involve its origin), and lists get a next page.
    const idle = (await expectStatus(await api('POST', '/live/streams', {}), 201, 'second stream')).data;
    const webhook = (await expectStatus(await api('POST', '/webhooks', { url: 'https://hooks.example.com/riverhead', enabled: false }), 201, 'create webhook')).data;
    const key = (await expectStatus(await api('POST', '/signing-keys'), 201, 'create signing key')).data;
    const page = await expectStatus(await api('GET', '/live/streams?limit=1'), 200, 'list streams');

    // A recorded broadcast, from authorize to recording_ready, then its MP4 uploaded as an origin does.
    const grant = await expectStatus(await signedJson('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN }), 200, 'authorize');
    const event = (type: string, data: unknown = {}) => ({
      id: `evt-bad-inputs-${name}-${type}-${Date.now()}`,
      streamId: stream.streamId,
      sessionId: grant.sessionId,
      type,
      at: new Date().toISOString(),
      data,
    });
    await expectStatus(await signedJson('/internal/events', { events: [event('recording_started')] }), 200, 'recording_started');
    return { data, auth, api, stream, idle, webhook, key, page, grant, event };
  }

  const mp4 = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  /**
   * A recorded broadcast's recording, watchable and exported: its durable media shipped under the session's grant, the
   * broadcast completed (the fixture's origin never heartbeats, so the edge does not wait for it), then its MP4 uploaded
   * and reported by that origin, which holds the session (issue 11).
   */
  async function storedRecording(w: Awaited<ReturnType<typeof workspace>>, complete: boolean) {
    const durable = `live/${w.stream.streamId}/${w.grant.sessionId}`;
    const grantHeader = { [MEDIA_GRANT_HEADER]: w.grant.mediaGrant as string };
    await expectStatus(await signed('PUT', `/internal/media/${durable}/master.m3u8`, '#EXTM3U\n', 'application/vnd.apple.mpegurl', grantHeader), 201, 'durable media');
    if (complete) await expectStatus(await w.api('POST', `/live/streams/${w.stream.streamId}/complete`), 200, 'complete');
    let recording: { id: string; watchable: boolean; mp4Url: string | null } | undefined;
    for (let i = 0; i < 50 && !recording?.watchable; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      recording = (await expectStatus(await w.api('GET', `/live/streams/${w.stream.streamId}/recordings`), 200, 'recordings')).data[0];
    }
    if (!recording?.watchable) throw new Error('bad-inputs setup: the recording did not become watchable');
    const root = `recordings/${recording.id}`;
    // The export command the edge sends an origin carries this grant (edge/stream/recording-flow.ts); the fixture's
    // origin is not there to receive one, so the fixture mints the same grant with the edge's master key.
    const exportGrant = await issueMediaGrant(secrets.originSecret, { originId: ORIGIN.originId, prefixes: [`${root}/`, `${durable}/`], expiresAt: Date.now() + 10 * 60_000 });
    await expectStatus(await signed('PUT', `/internal/media/${root}/recording.mp4`, mp4, 'video/mp4', { [MEDIA_GRANT_HEADER]: exportGrant }), 201, 'upload mp4');
    const ready = w.event('recording_ready', {
      duration: 2, size: mp4.length, hlsPrefix: `${root}/hls`, mp4Key: `${root}/recording.mp4`, screenshotKey: `${root}/screenshot.jpg`,
      mediaInfo: { duration: 2, size: mp4.length, bitrate: 16_000, video: null, audio: null },
    });
    await expectStatus(await signedJson('/internal/events', { events: [ready] }), 200, 'recording_ready');
    const recordings = (await expectStatus(await w.api('GET', `/live/streams/${w.stream.streamId}/recordings`), 200, 'recordings')).data;
    if (!recordings[0]) throw new Error('bad-inputs setup: no recording listed');
    return recordings[0] as { id: string; mp4Url: string | null };
  }

  const a = await workspace('bad-inputs-a');
  const b = await workspace('bad-inputs-b');
  // A's live session must stay live (private JWT cases hit it), so A's recording comes from a second stream.
  const aRecorded = await (async () => {
    const stream = (await expectStatus(await a.api('POST', '/live/streams', { record: true }), 201, 'recorded stream')).data;
    const grant = await expectStatus(await signedJson('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN }), 200, 'authorize 2');
    const event = (type: string, data: unknown = {}) => ({
      id: `evt-bad-inputs-a2-${type}-${Date.now()}`, streamId: stream.streamId, sessionId: grant.sessionId, type, at: new Date().toISOString(), data,
    });
    await expectStatus(await signedJson('/internal/events', { events: [event('recording_started')] }), 200, 'recording_started 2');
    return storedRecording({ ...a, stream, grant, event }, true);
  })();
  const bRecording = await storedRecording(b, true);
  if (!aRecorded.mp4Url) throw new Error('bad-inputs setup: recording has no mp4Url');

  // A scheduled event each, and a destination that never relays (enabled: false) on the stream the matrix uses.
  const liveEvent = async (w: Awaited<ReturnType<typeof workspace>>) =>
    (await expectStatus(await w.api('POST', '/live/events', {
      name: 'bad-inputs', type: 'LIVE_TYPE_LIVE', broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE', resolution: '720p',
      security: { accessPolicy: 'private', allowedDomains: [] }, ullEnabled: false, scheduledStartAt: '2036-01-01T00:00:00Z',
    }), 201, 'create live event')).data.eventId as string;
  const destination = async (w: Awaited<ReturnType<typeof workspace>>, streamId: string) =>
    (await expectStatus(await w.api('POST', `/live/streams/${streamId}/destinations`, {
      name: 'bad-inputs', platform: 'rtmp', url: 'rtmp://live.example.com/app', streamKey: 'bad-inputs-key', enabled: false,
    }), 201, 'create destination')).data.destinationId as string;
  // A video each in the library: an upload created and never sent stays waiting (no origin, no job).
  const video = async (w: Awaited<ReturnType<typeof workspace>>) =>
    (await expectStatus(await w.api('POST', '/videos/uploads', { title: 'bad-inputs' }), 201, 'create video upload')).data.videoId as string;
  const [aEventId, bEventId, aDestinationId, bDestinationId, aVideoId, bVideoId] = await Promise.all([
    liveEvent(a), liveEvent(b), destination(a, a.idle.streamId), destination(b, b.stream.streamId), video(a), video(b),
  ]);

  const extra = (await expectStatus(await a.api('POST', '/access-tokens', {}), 201, 'extra token')).data;
  await expectStatus(await a.api('DELETE', `/access-tokens/${extra.id}`), 204, 'revoke extra token');

  const view = (w: Awaited<ReturnType<typeof workspace>>, recordingId: string, eventId: string, destinationId: string, videoId: string): WorkspaceFixture => ({
    id: w.data.workspace.id,
    auth: w.auth,
    accessTokenId: w.data.accessToken.id,
    streamId: w.stream.streamId,
    idleStreamId: w.idle.streamId,
    webhookId: w.webhook.webhookId,
    signingKeyId: w.key.signingKeyId,
    recordingId,
    eventId,
    destinationId,
    videoId,
    cursor: w.page.pagination.nextCursor,
  });
  return {
    a: {
      ...view(a, aRecorded.id, aEventId, aDestinationId, aVideoId),
      revokedAuth: `Basic ${btoa(`${extra.id}:${extra.secret}`)}`,
      privatePlaybackId: a.stream.playbackIds[0].id,
      liveSessionId: a.grant.sessionId,
      signingKeyPkcs8Pem: atob(a.key.privateKey),
      signingKeySpkiPem: a.key.publicKey,
      storedMp4Path: new URL(aRecorded.mp4Url, 'http://edge.invalid').pathname, // the API answers absolute URLs
      storedMp4Size: mp4.length,
    },
    b: { ...view(b, bRecording.id, bEventId, bDestinationId, bVideoId), signingKeyPkcs8Pem: atob(b.key.privateKey) },
    adminToken: secrets.adminToken,
  };
}
