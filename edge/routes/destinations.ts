// /v1/live/streams/{streamId}/destinations: simulcast destinations of a stream (issue 14) — create, list, get, update,
// delete. Kept in the stream's object; changes while live reach the origin relaying the broadcast within seconds.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import type { DestinationHostRules, DestinationResult } from '../stream/destinations.ts';
import type { Context } from 'hono';
import { loopbackAllowed } from '../public-host.ts';
import { validationHook } from '../middleware/errors.ts';
import { streamObject } from '../streams.ts';
import { ApiError, notFound } from '../problem.ts';
import { jsonBody, problem, security, singleResponse } from './openapi-parts.ts';
import { StreamIdParam } from '../../shared/schemas/live-stream.ts';
import {
  CreateDestinationRequest,
  Destination,
  DestinationIdParam,
  UpdateDestinationRequest,
  MAX_DESTINATIONS_PER_STREAM,
} from '../../shared/schemas/destination.ts';

export const destinationRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ['Destinations'];
const destinationResponse = singleResponse(Destination);

/**
 * A destination's URL names a public host, as a webhook's does; loopback only under the same local-development switch
 * (WEBHOOK_ALLOW_HTTP_LOOPBACK, or the API called on loopback), so a local stack can relay to servers on 127.0.0.1.
 */
const hostRules = (c: Context<AppEnv>): DestinationHostRules => ({ allowLoopback: loopbackAllowed(c.env.WEBHOOK_ALLOW_HTTP_LOOPBACK, c.req.url) });

/** The destination a change returned, or the problem the API answers with. */
function outcome(result: DestinationResult, streamId: string, destinationId?: string): Destination {
  if (result.ok) return result.destination;
  if (result.code === 'not_found') throw notFound(destinationId ? `destination ${destinationId} of live stream ${streamId}` : `live stream ${streamId}`);
  throw new ApiError(400, 'invalid-destination', 'Invalid destination', result.detail, { errors: result.errors });
}

destinationRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/live/streams/{streamId}/destinations',
    operationId: 'create-destination',
    summary: 'Add a simulcast destination',
    description:
      `A platform preset (youtube, twitch, facebook) fills the server URL and checks the key's shape; rtmp needs url. ` +
      `The stream key is write-only. While live, the destination starts within seconds. At most ${MAX_DESTINATIONS_PER_STREAM} per stream.`,
    tags,
    security,
    request: { params: StreamIdParam, ...jsonBody(CreateDestinationRequest) },
    responses: { 201: destinationResponse('Created'), 400: problem('Invalid destination'), 401: problem('Missing or invalid credentials'), 404: problem('No such stream') },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const request = CreateDestinationRequest.parse(c.req.valid('json'));
    const result = (await streamObject(c.env, streamId).createDestination(c.get('workspaceId'), request, hostRules(c))) as DestinationResult;
    return c.json({ data: outcome(result, streamId) }, 201);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams/{streamId}/destinations',
    operationId: 'list-destinations',
    summary: "A stream's simulcast destinations",
    description: 'Oldest first, each with its status in the current broadcast.',
    tags,
    security,
    request: { params: StreamIdParam },
    responses: {
      200: { description: 'Every destination of the stream', content: { 'application/json': { schema: z.object({ data: z.array(Destination) }) } } },
      401: problem('Missing or invalid credentials'),
      404: problem('No such stream'),
    },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const destinations = (await streamObject(c.env, streamId).listDestinations(c.get('workspaceId'))) as Destination[] | null;
    if (!destinations) throw notFound(`live stream ${streamId}`);
    return c.json({ data: destinations }, 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams/{streamId}/destinations/{destinationId}',
    operationId: 'get-destination',
    summary: 'Get a simulcast destination',
    tags,
    security,
    request: { params: DestinationIdParam },
    responses: { 200: destinationResponse('The destination'), 401: problem('Missing or invalid credentials'), 404: problem('No such stream or destination') },
  }),
  async (c) => {
    const { streamId, destinationId } = c.req.valid('param');
    const destination = (await streamObject(c.env, streamId).getDestination(c.get('workspaceId'), destinationId)) as Destination | null;
    if (!destination) throw notFound(`destination ${destinationId} of live stream ${streamId}`);
    return c.json({ data: destination }, 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/live/streams/{streamId}/destinations/{destinationId}',
    operationId: 'update-destination',
    summary: 'Update a simulcast destination',
    description: 'While live, a new url, streamKey or rendition restarts only this destination; enabled=false stops it, true starts it.',
    tags,
    security,
    request: { params: DestinationIdParam, ...jsonBody(UpdateDestinationRequest) },
    responses: {
      200: destinationResponse('Updated'),
      400: problem('Invalid destination'),
      401: problem('Missing or invalid credentials'),
      404: problem('No such stream or destination'),
    },
  }),
  async (c) => {
    const { streamId, destinationId } = c.req.valid('param');
    const result = (await streamObject(c.env, streamId).updateDestination(c.get('workspaceId'), destinationId, c.req.valid('json'), hostRules(c))) as DestinationResult;
    return c.json({ data: outcome(result, streamId, destinationId) }, 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/live/streams/{streamId}/destinations/{destinationId}',
    operationId: 'delete-destination',
    summary: 'Delete a simulcast destination',
    description: 'While live, its relay stops within seconds; its stream key is forgotten.',
    tags,
    security,
    request: { params: DestinationIdParam },
    responses: { 204: { description: 'Deleted' }, 401: problem('Missing or invalid credentials'), 404: problem('No such stream or destination') },
  }),
  async (c) => {
    const { streamId, destinationId } = c.req.valid('param');
    const deleted = await streamObject(c.env, streamId).deleteDestination(c.get('workspaceId'), destinationId);
    if (!deleted) throw notFound(`destination ${destinationId} of live stream ${streamId}`);
    return c.body(null, 204);
  },
);
