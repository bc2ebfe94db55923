// Shared steps of the edge tests: a workspace with a token, authenticated calls, signed origin calls (each by a
// provisioned origin, with the secret the edge derives for it).
import { env, exports } from 'cloudflare:workers';
import { signRequest } from '../../shared/request-signing.ts';
import { deriveOriginSecret, ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';

/** The edge's master key in these tests (vitest.config.ts): it derives origins' secrets and verifies nothing itself. */
export const ORIGIN_SECRET = 'test-origin-secret';
export const ADMIN_TOKEN = 'test-admin-token';

const worker = () => (exports as unknown as { default: Fetcher }).default;

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return worker().fetch(new Request(`http://edge.test${path}`, init));
}

export interface Workspace {
  id: string;
  auth: string;
}

export async function createWorkspace(name = 'test'): Promise<Workspace> {
  const response = await call('/admin/workspaces', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (response.status !== 201) throw new Error(`workspace creation failed: ${response.status} ${await response.text()}`);
  const { data } = (await response.json()) as { data: { workspace: { id: string }; accessToken: { id: string; secret: string } } };
  return { id: data.workspace.id, auth: `Basic ${btoa(`${data.accessToken.id}:${data.accessToken.secret}`)}` };
}

export function api(workspace: Workspace, method: string, path: string, body?: unknown): Promise<Response> {
  return call(`/v1${path}`, {
    method,
    headers: { authorization: workspace.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function json<T = any>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

export async function createStream(workspace: Workspace, body: unknown = {}) {
  const response = await api(workspace, 'POST', '/live/streams', body);
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
  return (await json(response)).data as { streamId: string; streamKey: string; srtSecret: string; [k: string]: any };
}

export const ORIGIN = { originId: 'origin-test', originUrl: 'http://127.0.0.1:9' };

/**
 * Makes sure an origin row exists (as POST /admin/origins would: generation 1, not disabled) and gives its secret.
 * Straight into D1, so a test's storage reset never leaves the default origin unknown.
 */
export async function provisionOrigin(originId: string = ORIGIN.originId, region = 'local'): Promise<string> {
  await env.DB.prepare('INSERT INTO origins (id, region, generation, created_at) VALUES (?, ?, 1, ?) ON CONFLICT (id) DO NOTHING')
    .bind(originId, region, new Date().toISOString())
    .run();
  return deriveOriginSecret(ORIGIN_SECRET, originId, 1);
}

/** A signed origin call; by default as ORIGIN (provisioned on the way), or as `originId` with `secret` when given. */
export async function signedCall(path: string, body: unknown, options: { secret?: string; now?: number; originId?: string } = {}) {
  const text = JSON.stringify(body);
  const originId = options.originId ?? ORIGIN.originId;
  const secret = options.secret ?? (await provisionOrigin(originId));
  const headers = await signRequest(secret, 'POST', path, text, options.now);
  return call(path, { method: 'POST', body: text, headers: { ...headers, [ORIGIN_ID_HEADER]: originId, 'content-type': 'application/json' } });
}

/** A full heartbeat (announce included) of an origin, with the sessions it holds. */
export function heartbeatBody(
  originId: string,
  sessions: { streamId: string; sessionId: string }[],
  extra: Record<string, unknown> = {},
) {
  return {
    originId,
    originUrl: ORIGIN.originUrl,
    region: 'local',
    ingestHost: '127.0.0.1',
    ports: { rtmp: 1935, rtmps: null, srt: 9000 },
    hlsUrl: ORIGIN.originUrl,
    capacity: { units: 4 },
    load: { units: sessions.length, sessions: sessions.length },
    draining: false,
    sessions,
    ...extra,
  };
}

export function sendHeartbeat(originId: string, sessions: { streamId: string; sessionId: string }[], extra: Record<string, unknown> = {}) {
  return signedCall('/internal/origins/heartbeat', heartbeatBody(originId, sessions, extra), { originId });
}

export function authorize(streamKey: string, protocol: 'rtmp' | 'rtmps' | 'srt' = 'rtmp') {
  return signedCall('/internal/ingest/authorize', { streamKey, protocol, ...ORIGIN });
}

let eventCounter = 0;
export function originEvent(streamId: string, sessionId: string, type: string, data: unknown = {}) {
  eventCounter += 1;
  return { id: `evt-test-${Date.now()}-${eventCounter}`, streamId, sessionId, type, at: new Date().toISOString(), data };
}

/** An event batch signed by `originId` (by default ORIGIN, which holds the sessions its authorize calls opened). */
export function sendEvents(events: unknown[], originId: string = ORIGIN.originId) {
  return signedCall('/internal/events', { events }, { originId });
}

export async function getStream(workspace: Workspace, streamId: string) {
  return (await json(await api(workspace, 'GET', `/live/streams/${streamId}`))).data;
}

/** A signed origin call with any method and body (binary uploads included). */
export async function signedRequest(method: string, path: string, body: Uint8Array | string, contentType = 'application/octet-stream', extra: Record<string, string> = {}) {
  const headers = await signRequest(await provisionOrigin(), method, path, body);
  return call(path, { method, body, headers: { ...headers, [ORIGIN_ID_HEADER]: ORIGIN.originId, 'content-type': contentType, ...extra } });
}

/** A valid live event create body (a LIVE, DVR event starting in an hour), with the test's own fields over it. */
export const liveEventBody = (overrides: Record<string, unknown> = {}) => ({
  type: 'LIVE_TYPE_LIVE',
  broadcastMode: 'BROADCAST_MODE_DVR',
  resolution: '720p',
  security: { accessPolicy: 'public', allowedDomains: [] },
  ullEnabled: false,
  scheduledStartAt: new Date(Date.now() + 3600_000).toISOString(),
  ...overrides,
});
