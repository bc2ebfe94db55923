// A workspace's access tokens in D1: issued with the secret shown once (only its SHA-256 is kept), listed without it,
// revoked by stamping revoked_at (the row stays for the audit trail; authentication skips revoked rows).
import { newId, randomBase62, sha256Hex } from '../shared/identifiers.ts';
import type { AccessToken } from '../shared/schemas/workspace.ts';
import { keysetPage } from './pagination.ts';

interface AccessTokenRow {
  id: string;
  workspace_id: string;
  created_at: string;
  revoked_at: string | null;
}

const COLUMNS = 'id, workspace_id, created_at, revoked_at';

const view = (row: AccessTokenRow): AccessToken => ({
  id: row.id,
  workspaceId: row.workspace_id,
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

export async function issueAccessToken(db: D1Database, workspaceId: string): Promise<AccessToken & { secret: string }> {
  const token = { id: newId('at', 16), secret: randomBase62(40), workspaceId, createdAt: new Date().toISOString(), revokedAt: null };
  await db
    .prepare('INSERT INTO access_tokens (id, workspace_id, secret_hash, created_at) VALUES (?, ?, ?, ?)')
    .bind(token.id, workspaceId, await sha256Hex(token.secret), token.createdAt)
    .run();
  return token;
}

export async function listAccessTokens(db: D1Database, workspaceId: string, limit: number, cursor: string | undefined) {
  const page = await keysetPage<AccessTokenRow>(
    db,
    { select: COLUMNS, from: 'access_tokens', where: ['workspace_id = ?'], params: [workspaceId] },
    limit,
    cursor,
  );
  return { tokens: page.rows.map(view), nextCursor: page.nextCursor };
}

/** One of the workspace's tokens, or null: another workspace's token is as absent as a missing one. */
export async function findAccessToken(db: D1Database, workspaceId: string, id: string): Promise<AccessToken | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM access_tokens WHERE id = ? AND workspace_id = ?`)
    .bind(id, workspaceId)
    .first<AccessTokenRow>();
  return row ? view(row) : null;
}

/** Revokes at once (the next request with it is 401); revoking a revoked token keeps its first revocation time. */
export async function revokeAccessToken(db: D1Database, workspaceId: string, id: string): Promise<boolean> {
  const { meta } = await db
    .prepare('UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND workspace_id = ?')
    .bind(new Date().toISOString(), id, workspaceId)
    .run();
  return meta.changes > 0;
}
