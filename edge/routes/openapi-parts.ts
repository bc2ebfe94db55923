// The pieces every public route's OpenAPI description repeats: problem responses, the two ways to authenticate, a JSON
// request body, a `{ data }` response of one resource. One place, so the routes describe themselves alike.
import type { z } from '@hono/zod-openapi';
import { Problem, single } from '../../shared/schemas/common.ts';

/** An error response: problem+json, described for this route. */
export const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: Problem } } });

/** Workspace credentials: an access token as basic auth or as a bearer token. */
export const security: Record<string, string[]>[] = [{ basicAuth: [] }, { bearerAuth: [] }];

/** A JSON request body; `required: false` where every field is optional and the body may be left out. */
export const jsonBody = <T extends z.ZodTypeAny>(schema: T, required = true) => ({
  body: { content: { 'application/json': { schema } }, required },
});

/** The responses of one resource, `{ data: item }`, each described for its route: `const videoResponse = singleResponse(Video)`. */
export const singleResponse =
  <T extends z.ZodTypeAny>(item: T) =>
  (description: string) => ({ description, content: { 'application/json': { schema: single(item) } } });
