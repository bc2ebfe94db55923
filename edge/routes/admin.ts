// /admin: create workspaces and their first access token (ADMIN_TOKEN only). `npm start` uses it for the local workspace.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { CreateWorkspaceRequest, CreateWorkspaceResponse, WorkspaceIdParam, AccessToken } from '../../shared/schemas/workspace.ts';
import { single } from '../../shared/schemas/common.ts';
import { newId, randomBase62, sha256Hex } from '../../shared/identifiers.ts';
import { notFound } from '../problem.ts';

export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

async function issueAccessToken(db: D1Database, workspaceId: string) {
  const token = { id: newId('at', 16), secret: randomBase62(40), workspaceId, createdAt: new Date().toISOString() };
  await db
    .prepare('INSERT INTO access_tokens (id, workspace_id, secret_hash, created_at) VALUES (?, ?, ?, ?)')
    .bind(token.id, workspaceId, await sha256Hex(token.secret), token.createdAt)
    .run();
  return token;
}

adminRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/workspaces',
    summary: 'Create a workspace and its first access token',
    tags: ['Admin'],
    request: { body: { content: { 'application/json': { schema: CreateWorkspaceRequest } }, required: true } },
    responses: { 201: { description: 'Created', content: { 'application/json': { schema: CreateWorkspaceResponse } } } },
  }),
  async (c) => {
    const { name } = c.req.valid('json');
    const workspace = { id: newId('ws', 16), name, createdAt: new Date().toISOString() };
    await c.env.DB.prepare('INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)')
      .bind(workspace.id, workspace.name, workspace.createdAt)
      .run();
    const accessToken = await issueAccessToken(c.env.DB, workspace.id);
    return c.json({ data: { workspace, accessToken } }, 201);
  },
);

adminRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/workspaces/{workspaceId}/access-tokens',
    summary: 'Issue another access token for a workspace',
    tags: ['Admin'],
    request: { params: WorkspaceIdParam },
    responses: { 201: { description: 'Created', content: { 'application/json': { schema: single(AccessToken) } } } },
  }),
  async (c) => {
    const { workspaceId } = c.req.valid('param');
    const exists = await c.env.DB.prepare('SELECT 1 FROM workspaces WHERE id = ?').bind(workspaceId).first();
    if (!exists) throw notFound(`workspace ${workspaceId}`);
    return c.json({ data: await issueAccessToken(c.env.DB, workspaceId) }, 201);
  },
);
