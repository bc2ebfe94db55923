// POST /v1/live/streams takes seed 001's nested body beside the flat one: this route middleware folds the nested parts
// into the flat body before the route's validator reads it (shared/schemas/live-stream-seed-body.ts says how), so
// the handler and the document see one canonical body. Anything else passes through untouched.
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../problem.ts';
import { foldSeedCreateBody, isSeedCreateBody } from '../../shared/schemas/live-stream-seed-body.ts';

export const seedCreateBody: MiddlewareHandler = async (c, next) => {
  if (!/^application\/([\w.-]+\+)?json\b/i.test(c.req.header('content-type') ?? '')) return next();
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return next(); // malformed JSON: the validator answers it as it does for every route
  }
  if (!isSeedCreateBody(body)) return next();
  const folded = foldSeedCreateBody(body);
  if (!folded.ok) {
    const conflict = folded.errors.some((e) => e.message.startsWith('conflicts with'));
    throw new ApiError(
      400,
      conflict ? 'conflicting-fields' : 'invalid-request',
      conflict ? 'Conflicting fields' : 'Invalid request',
      `the request body does not match the schema: ${folded.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      { errors: folded.errors },
    );
  }
  // The validator reads the body through this cache: HonoRequest.json() parses the cached text, which hono keeps as
  // the promise of raw.text() (its BodyCache type says string).
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(JSON.stringify(folded.body));
  return next();
};
