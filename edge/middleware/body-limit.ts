// Request bodies above 64 KiB are refused with 413 before anything reads them.
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ApiError } from '../problem.ts';
import type { MiddlewareHandler } from 'hono';

export const MAX_BODY_BYTES = 64 * 1024;

export const bodyLimit = (maxSize = MAX_BODY_BYTES): MiddlewareHandler =>
  honoBodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, 'body-too-large', 'Request body too large', `bodies are limited to ${maxSize} bytes`);
    },
  });
