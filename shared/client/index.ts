// The typed Riverhead API client: openapi-fetch over the types `npm run openapi` generates from the edge's OpenAPI
// document (schema.d.ts beside this file), plus the webhook payload types receivers parse. Runs in Node ≥ 20 and
// browsers (no Node built-ins): the dashboard, the e2e tests and the README's examples use it.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths, webhooks } from './schema.d.ts';

export type { components, operations, paths, webhooks } from './schema.d.ts';

/** A workspace access token: its id and secret (basic auth), or the `<id>:<secret>` bearer form. */
export type RiverheadAuth = { id: string; secret: string } | { bearer: string };

export interface RiverheadClientOptions {
  /** The edge's origin, e.g. `http://127.0.0.1:8787` (paths in the document start with /v1). */
  baseUrl: string;
  auth: RiverheadAuth;
  /** Defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

export type RiverheadClient = Client<paths, 'application/json'>;

/** `Authorization` for a token: basic with id:secret, or bearer as given. */
export function authorizationHeader(auth: RiverheadAuth): string {
  if ('bearer' in auth) return `Bearer ${auth.bearer}`;
  return `Basic ${btoa(`${auth.id}:${auth.secret}`)}`;
}

/**
 * A client whose methods are typed by path and method from the document, e.g.
 * `await client.POST('/v1/live/streams', { body: { playbackSettings: { accessPolicy: 'private' } } })`; each call
 * answers `{ data }` on success or `{ error }` (the problem+json) otherwise, with the `response`.
 */
export function createRiverheadClient(options: RiverheadClientOptions): RiverheadClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: authorizationHeader(options.auth) },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

export type Problem = components['schemas']['Problem'];

/** An API call's problem+json answer, as an Error whose message is its title and detail. */
export class RiverheadApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | undefined,
  ) {
    super(`${status} ${problem?.title ?? 'request failed'}${problem?.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'RiverheadApiError';
  }
}

/** A call's data, or its problem thrown as a RiverheadApiError: `const { data } = dataOf(await client.GET(...))`. */
export function dataOf<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    throw new RiverheadApiError(result.response.status, result.error as Partial<Problem> | undefined);
  }
  return result.data;
}

// Webhook payloads (the body each endpoint receives; the document's `webhooks` section).
export type WebhookEvent = components['schemas']['WebhookEvent'];
export type LiveStreamWebhook = components['schemas']['LiveStreamWebhook'];
export type LiveEventWebhook = components['schemas']['LiveEventWebhook'];
export type VideoAssetWebhook = components['schemas']['VideoAssetWebhook'];
export type WebhookEventType = WebhookEvent['type'];
/** The payload of one event type, e.g. `WebhookPayload<'video.live_stream.active'>` is a LiveStreamWebhook. */
export type WebhookPayload<T extends WebhookEventType> = PayloadOf<WebhookEvent, T>;
// Distributes over the union: each payload kind lists its own types, so the kind whose list holds T is kept, narrowed to T.
type PayloadOf<E, T> = E extends { type: infer Types } ? (T extends Types ? E & { type: T } : never) : never;
/** The request body of each `webhooks` entry by name (liveStreamEvent, liveEventEvent, videoAssetEvent). */
export type WebhookBodies = {
  [Name in keyof webhooks]: NonNullable<webhooks[Name]['post']['requestBody']>['content']['application/json'];
};
