// The edge's one error type, and its single mapping to application/problem+json (RFC 9457).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const PROBLEM_BASE = 'https://riverhead.dev/problems/';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    /** Stable, documented identifier: clients switch on it, it never changes wording. */
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly extras: { errors?: FieldError[]; reason?: string; allowedOperations?: readonly string[] } = {},
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not-found', 'Not found', `${what} does not exist`);

export function problemResponse(c: Context, error: ApiError): Response {
  const body = {
    type: PROBLEM_BASE + error.type,
    title: error.title,
    status: error.status,
    ...(error.detail ? { detail: error.detail } : {}),
    instance: new URL(c.req.url).pathname,
    ...error.extras,
  };
  return c.body(JSON.stringify(body), error.status, { 'content-type': 'application/problem+json' });
}
