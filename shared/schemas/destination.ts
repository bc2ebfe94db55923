// Simulcast destinations of a live stream (issue 14, seed 004): what customers send and what they get back. The stream
// key is write-only: it is accepted here and never appears in a response, a webhook or a log.
import { z } from '@hono/zod-openapi';
import { Timestamp } from './common.ts';
import { DESTINATION_PLATFORMS } from '../destination-platforms.ts';

export const MAX_DESTINATIONS_PER_STREAM = 10;

/**
 * idle: no broadcast; connecting, live, retrying, failed: what the origin relaying it last said during this broadcast;
 * disabled: enabled = false.
 */
export const DESTINATION_STATUSES = ['idle', 'connecting', 'live', 'retrying', 'failed', 'disabled'] as const;
export type DestinationStatus = (typeof DESTINATION_STATUSES)[number];

export const DestinationPlatformSchema = z.enum(DESTINATION_PLATFORMS).openapi('DestinationPlatform');

/** A rendition of the stream's ladder: `source` (the encoder's video, copied) or a rung name such as `720p`. */
const RenditionName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9_-]+$/, 'a rendition name: source or a ladder rung such as 720p');

const DestinationName = z.string().trim().min(1).max(100);
const StreamKeyField = z
  .string()
  .min(1)
  .max(512)
  .openapi({ description: 'write-only: never returned; appended to url as its last path segment', writeOnly: true });
const UrlField = z
  .string()
  .min(1)
  .max(500)
  .openapi({ description: 'rtmp:// or rtmps:// server URL without the key; a platform preset fills it when omitted' });

export const Destination = z
  .object({
    destinationId: z.string(),
    streamId: z.string(),
    name: z.string(),
    platform: DestinationPlatformSchema,
    url: z.string().openapi({ description: 'the server URL, without the stream key' }),
    rendition: z.string(),
    enabled: z.boolean(),
    status: z.enum(DESTINATION_STATUSES),
    lastError: z.string().nullable().openapi({ description: "the last error or refusal the destination's server gave" }),
    startedAt: Timestamp.nullable().openapi({ description: 'when the relay went live in the current broadcast' }),
    bytesSent: z.number().int().nonnegative(),
    reconnects: z.number().int().nonnegative(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Destination');
export type Destination = z.infer<typeof Destination>;

export const CreateDestinationRequest = z
  .object({
    name: DestinationName.optional(),
    platform: DestinationPlatformSchema,
    url: UrlField.optional(),
    streamKey: StreamKeyField,
    rendition: RenditionName.default('source'),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('CreateDestinationRequest');
export type CreateDestinationRequest = z.infer<typeof CreateDestinationRequest>;

/** PATCH: any field; a new url, streamKey or rendition restarts only this target while live. */
export const UpdateDestinationRequest = z
  .object({
    name: DestinationName.optional(),
    platform: DestinationPlatformSchema.optional(),
    url: UrlField.optional(),
    streamKey: StreamKeyField.optional(),
    rendition: RenditionName.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('UpdateDestinationRequest');
export type UpdateDestinationRequest = z.infer<typeof UpdateDestinationRequest>;

export const DestinationIdParam = z.object({
  streamId: z.string().min(1).max(64).openapi({ param: { name: 'streamId', in: 'path' } }),
  destinationId: z.string().min(1).max(64).openapi({ param: { name: 'destinationId', in: 'path' } }),
});
