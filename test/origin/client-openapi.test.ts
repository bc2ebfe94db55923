// The typed client stays true to the edge: the committed OpenAPI document and the types generated from it are what
// the edge builds today (regenerated here in memory), every operation has a stable operationId (seed 001's five kept),
// and the client sends what the API expects. The calls at the end are checked by `npm run typecheck`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPENAPI_JSON_PATH, SCHEMA_TYPES_PATH, openApiJson, schemaTypes } from '../../scripts/openapi-artifacts.ts';
import {
  authorizationHeader,
  createRiverheadClient,
  dataOf,
  RiverheadApiError,
  type LiveStreamWebhook,
  type RiverheadClient,
  type VideoAssetWebhook,
  type WebhookEvent,
  type WebhookPayload,
} from '../../shared/client/index.ts';
import { Webhook } from 'standardwebhooks';

const root = path.resolve(import.meta.dirname, '../..');
const committed = (file: string) => readFileSync(path.join(root, file), 'utf8');
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

type Operation = { operationId?: string };
function operations(document: { paths: Record<string, Partial<Record<string, Operation>>> }) {
  return Object.entries(document.paths).flatMap(([route, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ route, method, operationId: item[method]!.operationId }] : [])),
  );
}

describe('the committed OpenAPI document and client types', () => {
  it('are what `npm run openapi` generates from the edge today', async () => {
    const documentJson = await openApiJson();
    expect(committed(OPENAPI_JSON_PATH), 'shared/client/openapi.json is stale: run `npm run openapi`').toBe(documentJson);
    expect(committed(SCHEMA_TYPES_PATH), 'shared/client/schema.d.ts is stale: run `npm run openapi`').toBe(await schemaTypes(documentJson));
  }, 60_000);

  it('gives every operation a distinct operationId, and seed 001 its own five', () => {
    const document = JSON.parse(committed(OPENAPI_JSON_PATH));
    const ops = operations(document);
    expect(ops.length).toBeGreaterThan(40);
    expect(ops.filter((op) => !op.operationId)).toEqual([]);
    const ids = ops.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const byId = new Map(ops.map((op) => [op.operationId, `${op.method} ${op.route}`]));
    expect(byId.get('create-new-stream')).toBe('post /v1/live/streams');
    expect(byId.get('get-all-streams')).toBe('get /v1/live/streams');
    expect(byId.get('delete-live-stream')).toBe('delete /v1/live/streams/{streamId}');
    expect(byId.get('enable-live-stream')).toBe('put /v1/live/streams/{streamId}/live-enable');
    expect(byId.get('list-live-clips')).toBe('get /v1/on-demand/{livestreamId}/live-clips');
  });

  it('documents the webhook payloads receivers get', () => {
    const document = JSON.parse(committed(OPENAPI_JSON_PATH));
    expect(Object.keys(document.webhooks).sort()).toEqual(['liveEventEvent', 'liveStreamEvent', 'videoAssetEvent']);
    expect(document.components.schemas.WebhookEvent.anyOf ?? document.components.schemas.WebhookEvent.oneOf).toHaveLength(3);
  });
});

describe('createRiverheadClient', () => {
  /** The requests the client sends, answered as the edge would (the answer's shape is not under test here). */
  function recordingClient(auth: Parameters<typeof createRiverheadClient>[0]['auth'], answer: Response) {
    const sent: Request[] = [];
    const client = createRiverheadClient({
      baseUrl: 'http://127.0.0.1:8787/',
      auth,
      fetch: async (request) => {
        sent.push(request);
        return answer.clone();
      },
    });
    return { client, sent };
  }

  it('sends basic auth from id and secret, the path filled in, and the JSON body', async () => {
    const { client, sent } = recordingClient(
      { id: 'at_1', secret: 's3cret' },
      Response.json({ data: { streamId: 'ls_1' } }, { status: 201 }),
    );
    const result = await client.POST('/v1/live/streams', { body: { metadata: { livestream_name: 'launch' }, record: true } });
    expect(sent[0]!.url).toBe('http://127.0.0.1:8787/v1/live/streams');
    expect(sent[0]!.method).toBe('POST');
    expect(sent[0]!.headers.get('authorization')).toBe(`Basic ${Buffer.from('at_1:s3cret').toString('base64')}`);
    expect(await sent[0]!.json()).toEqual({ metadata: { livestream_name: 'launch' }, record: true });
    expect(dataOf(result).data.streamId).toBe('ls_1');

    await client.GET('/v1/live/streams/{streamId}', { params: { path: { streamId: 'ls/1' } } });
    expect(sent[1]!.url).toBe('http://127.0.0.1:8787/v1/live/streams/ls%2F1');
  });

  it('sends a bearer token as given, and turns a problem into a RiverheadApiError', async () => {
    expect(authorizationHeader({ bearer: 'at_1:s3cret' })).toBe('Bearer at_1:s3cret');
    const problem = { type: 'not-found', title: 'Not found', status: 404, detail: 'live stream ls_x does not exist' };
    const { client, sent } = recordingClient(
      { bearer: 'at_1:s3cret' },
      new Response(JSON.stringify(problem), { status: 404, headers: { 'content-type': 'application/problem+json' } }),
    );
    const result = await client.GET('/v1/live/streams/{streamId}', { params: { path: { streamId: 'ls_x' } } });
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer at_1:s3cret');
    expect(result.error).toEqual(problem);
    expect(() => dataOf(result)).toThrow(RiverheadApiError);
    expect(() => dataOf(result)).toThrow('404 Not found: live stream ls_x does not exist');
  });
});

// Type-level checks: `npm run typecheck` compiles these; they never run.
export async function typedCalls(client: RiverheadClient) {
  const created = dataOf(await client.POST('/v1/live/streams', { body: { accessPolicy: 'private', reconnectWindow: 30 } }));
  const streamKey: string | undefined = created.data.streamKey;
  const listed = dataOf(await client.GET('/v1/live/streams', { params: { query: { limit: 20 } } }));
  const next: string | null = listed.pagination.nextCursor;
  const one = dataOf(await client.GET('/v1/live/streams/{streamId}', { params: { path: { streamId: created.data.streamId } } }));
  const status: 'NOT_STARTED' | 'PREPARING' | 'LIVE' | 'DISCONNECTED' | 'STOPPED' | string = one.data.status;
  await client.PUT('/v1/live/streams/{streamId}/live-enable', { params: { path: { streamId: one.data.streamId } } });
  await client.GET('/v1/on-demand/{livestreamId}/live-clips', { params: { path: { livestreamId: one.data.streamId } } });
  // @ts-expect-error accessPolicy is 'public' | 'private'
  await client.POST('/v1/live/streams', { body: { accessPolicy: 'secret' } });
  // @ts-expect-error the path parameter is required
  await client.GET('/v1/live/streams/{streamId}', {});
  const active: WebhookPayload<'video.live_stream.active'> = {} as LiveStreamWebhook & { type: 'video.live_stream.active' };
  const ready: VideoAssetWebhook['data']['hlsUrl'] = ({} as WebhookPayload<'video.asset.ready'>).data.hlsUrl;
  return { streamKey, next, status, active, ready };
}

// README "Typed client", as written there (kept compiling here).
export async function readmeExample(secret: string, rawBody: string, headers: Record<string, string>) {
  const riverhead = createRiverheadClient({ baseUrl: 'http://127.0.0.1:8787', auth: { id: 'at_XXXX', secret: 'YYYY' } });
  const { data: stream } = dataOf(
    await riverhead.POST('/v1/live/streams', { body: { record: true, metadata: { livestream_name: 'launch' } } }),
  );
  console.log(stream.ingest.rtmp.url, stream.streamKey); // the key is shown once
  const { data: live } = dataOf(await riverhead.GET('/v1/live/streams', { params: { query: { status: 'STREAMING', limit: 20 } } }));
  await riverhead.PUT('/v1/live/streams/{streamId}/live-disable', { params: { path: { streamId: stream.streamId } } });
  const { data: clips } = dataOf(
    await riverhead.GET('/v1/on-demand/{livestreamId}/live-clips', { params: { path: { livestreamId: stream.streamId } } }),
  );
  console.log(live.length, clips.map((clip) => clip.mp4Url)); // absolute URLs

  const event = new Webhook(secret).verify(rawBody, headers) as WebhookEvent;
  if (event.type === 'video.live_stream.active') console.log(event.streamId, event.data.playbackIds[0]?.id);
  if (event.type === 'video.asset.ready') console.log(event.videoId, event.data.hlsUrl);
}
