// Envelopes shared by every resource: `{data}` for one, `{data, pagination}` for a list, RFC 9457 problems for errors.
import { z } from '@hono/zod-openapi';

export const Problem = z
  .object({
    type: z.string().openapi({ example: 'https://riverhead.dev/problems/invalid-request' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'Each field at fault, as a dotted path, with what is wrong with it.' }),
    reason: z.string().optional(),
    allowedOperations: z
      .array(z.string())
      .optional()
      .openapi({ description: 'a refused live event operation: the operations its status allows now' }),
  })
  .openapi('Problem');
export type Problem = z.infer<typeof Problem>;

export const Pagination = z
  .object({ nextCursor: z.string().nullable() })
  .openapi('Pagination');

export const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: '1–100, default 20' }),
    cursor: z.string().max(200).optional().openapi({ description: 'pagination.nextCursor of the previous page' }),
  })
  .strict();

export const single = <T extends z.ZodTypeAny>(item: T) => z.object({ data: item });
export const list = <T extends z.ZodTypeAny>(item: T) => z.object({ data: z.array(item), pagination: Pagination });

/** Timestamps travel as ISO 8601 strings in UTC. */
export const Timestamp = z.string().openapi({ format: 'date-time', example: '2026-11-23T18:00:00.000Z' });
