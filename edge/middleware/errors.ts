// Maps everything that goes wrong to a problem response: validation failures name the field, nothing leaks a stack.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { z } from '@hono/zod-openapi';
import { ApiError, problemResponse, type FieldError } from '../problem.ts';
import { log } from '../log.ts';

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: base || '(body)', message: issue.message }];
  });
}

/** zod-openapi's hook: a request that fails its schema becomes a 400 naming every field at fault. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const errors = fieldErrors(result.error);
  const where = result.target === 'json' ? 'body' : result.target;
  return problemResponse(
    c,
    new ApiError(400, 'invalid-request', 'Invalid request', `the request ${where} does not match the schema: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors }),
  );
}

/** Hono's own refusals (its validators and limits), each given a stable type; their messages are not part of the API. */
const HTTP_PROBLEMS: Record<number, { type: string; title: string; detail: string }> = {
  400: { type: 'bad-request', title: 'Bad request', detail: 'the request could not be read' },
  413: { type: 'body-too-large', title: 'Request body too large', detail: 'the request body is too large' },
  415: { type: 'unsupported-media-type', title: 'Unsupported media type', detail: 'send the body as application/json' },
};

export const onError: ErrorHandler = (error, c) => {
  if (error instanceof ApiError) return problemResponse(c, error);
  if (error instanceof HTTPException) {
    if (error.status === 400 && /json/i.test(error.message)) {
      return problemResponse(c, new ApiError(400, 'malformed-json', 'Malformed JSON', 'the request body is not valid JSON'));
    }
    const known = HTTP_PROBLEMS[error.status];
    if (known) return problemResponse(c, new ApiError(error.status as ContentfulStatusCode, known.type, known.title, known.detail));
    return problemResponse(c, new ApiError(error.status as ContentfulStatusCode, 'http-error', 'Request failed'));
  }
  log('unhandled_error', { path: new URL(c.req.url).pathname, error: String(error) });
  return problemResponse(c, new ApiError(500, 'internal-error', 'Internal error', 'something went wrong on our side'));
};

export const onNotFound: NotFoundHandler = (c) =>
  problemResponse(c, new ApiError(404, 'not-found', 'Not found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
