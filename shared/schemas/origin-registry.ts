// The origins the edge knows and the zones they make: /admin/origins (provision, list with health, rotate, disable)
// and GET /v1/zones. An origin describes itself in every heartbeat (shared/schemas/origin-heartbeat.ts); these are the
// operator's and the customer's views of that.
import { z } from '@hono/zod-openapi';
import { Timestamp } from './common.ts';
import { ORIGIN_ID_PATTERN } from '../origin-credentials.ts';

export const OriginId = z
  .string()
  .regex(ORIGIN_ID_PATTERN, 'lowercase letters, digits and -, starting with a letter or digit, at most 63 characters')
  .openapi({ example: 'fra-1' });

/** A region names a zone; same shape as an origin id (a DNS label). */
export const Region = z
  .string()
  .regex(ORIGIN_ID_PATTERN, 'lowercase letters, digits and -, starting with a letter or digit, at most 63 characters')
  .openapi({ example: 'eu-central' });

export const OriginPorts = z
  .object({
    rtmp: z.number().int().min(1).max(65535),
    rtmps: z.number().int().min(1).max(65535).nullable(),
    srt: z.number().int().min(1).max(65535).nullable(),
  })
  .strict()
  .openapi('OriginPorts');
export type OriginPorts = z.infer<typeof OriginPorts>;

/** Cost units (one 1280x720 at 30 fps encode each): what the origin can carry and what it carries now. */
export const OriginCapacity = z.object({ units: z.number().nonnegative().max(100_000) }).strict().openapi('OriginCapacity');
export const OriginLoad = z
  .object({ units: z.number().nonnegative().max(100_000), sessions: z.number().int().nonnegative().max(100_000) })
  .strict()
  .openapi('OriginLoad');

export const CreateOriginRequest = z
  .object({
    id: OriginId.optional().openapi({ description: 'chosen by the operator; generated when absent' }),
    region: Region.default('local'),
  })
  .strict()
  .openapi('CreateOriginRequest');
export type CreateOriginRequest = z.infer<typeof CreateOriginRequest>;

/** The answer to create and rotate: the secret is shown this once (the edge derives it again, never stores it). */
export const IssuedOrigin = z
  .object({
    id: z.string(),
    region: z.string(),
    secret: z.string().openapi({ description: "the origin's ORIGIN_SECRET; shown once" }),
    createdAt: Timestamp,
  })
  .openapi('IssuedOrigin');

export const ORIGIN_HEALTH = ['healthy', 'silent', 'never-heard', 'disabled'] as const;
export const OriginHealth = z.enum(ORIGIN_HEALTH).openapi('OriginHealth');
export type OriginHealth = z.infer<typeof OriginHealth>;

/** One origin as the operator sees it; the announced fields are null until its first heartbeat. */
export const OriginListing = z
  .object({
    id: z.string(),
    region: z.string(),
    ingestHost: z.string().nullable(),
    ports: OriginPorts.nullable(),
    hlsUrl: z.string().nullable(),
    capacity: OriginCapacity.nullable(),
    load: OriginLoad.nullable(),
    draining: z.boolean(),
    lastHeardAt: Timestamp.nullable(),
    health: OriginHealth,
    /** Sessions with an encoder connected there, as of its latest heartbeat. */
    sessions: z.array(z.string()),
    createdAt: Timestamp,
    disabledAt: Timestamp.nullable(),
  })
  .openapi('OriginListing');
export type OriginListing = z.infer<typeof OriginListing>;

export const OriginIdParam = z.object({
  originId: z.string().min(1).max(64).openapi({ param: { name: 'originId', in: 'path' } }),
});

export const Zone = z
  .object({
    id: z.string().openapi({ description: 'the region its origins announce' }),
    origins: z.number().int().nonnegative(),
    healthyOrigins: z.number().int().nonnegative(),
    hasCapacity: z.boolean().openapi({ description: 'a healthy origin that is not draining has free capacity' }),
    ingestHost: z.string().nullable().openapi({ description: 'the host encoders publish to for this zone' }),
  })
  .openapi('Zone');
export type Zone = z.infer<typeof Zone>;
