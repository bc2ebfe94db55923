// Opaque list cursors: the (createdAt, id) of the last row, base64url so clients treat them as tokens.
import { ApiError } from './problem.ts';

export function encodeCursor(createdAt: string, id: string): string {
  return btoa(JSON.stringify([createdAt, id])).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(atob(cursor.replaceAll('-', '+').replaceAll('_', '/')));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((v) => typeof v === 'string')) {
      return { createdAt: parsed[0] as string, id: parsed[1] as string };
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiError(400, 'invalid-cursor', 'Invalid cursor', 'cursor must be a pagination.nextCursor value', {
    errors: [{ field: 'cursor', message: 'not a cursor this API issued' }],
  });
}
