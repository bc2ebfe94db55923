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

/**
 * A list's filters for keysetPage: the workspace's rows, each filter given narrowing them to `column = value` (a filter
 * left out, or empty, narrows nothing). Column names come from the route's code, never from the request.
 */
export function workspaceFilters(workspaceId: string, filters: Record<string, string | undefined>): { where: string[]; params: unknown[] } {
  const where = ['workspace_id = ?'];
  const params: unknown[] = [workspaceId];
  for (const [column, value] of Object.entries(filters)) {
    if (value) {
      where.push(`${column} = ?`);
      params.push(value);
    }
  }
  return { where, params };
}

/**
 * One page of a keyset-paginated D1 list, newest first by (created_at, id): `limit` rows after the cursor, and the
 * cursor of the next page when there is one. `where` and `params` add the list's own filters.
 */
export async function keysetPage<Row extends { created_at: string; id: string }>(
  db: D1Database,
  query: { select: string; from: string; where: string[]; params: unknown[] },
  limit: number,
  cursor: string | undefined,
): Promise<{ rows: Row[]; nextCursor: string | null }> {
  const where = [...query.where];
  const params = [...query.params];
  if (cursor) {
    const after = decodeCursor(cursor);
    where.push('(created_at < ? OR (created_at = ? AND id < ?))');
    params.push(after.createdAt, after.createdAt, after.id);
  }
  const { results } = await db
    .prepare(
      `SELECT ${query.select} FROM ${query.from} WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .bind(...params, limit + 1)
    .all<Row>();
  const rows = results.slice(0, limit);
  const last = rows[rows.length - 1];
  return { rows, nextCursor: results.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
}
