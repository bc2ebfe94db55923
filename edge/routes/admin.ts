// /admin: create workspaces and their first access token, issue or revoke more (ADMIN_TOKEN only). `npm start` uses it
// for the local workspace; revoking here is for a workspace that lost control of every token it had.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import {
  CreateWorkspaceRequest,
  CreateWorkspaceResponse,
  UpdateWorkspaceRequest,
  RetentionSweepResult,
  Workspace,
  WorkspaceIdParam,
  WorkspaceAccessTokenParams,
  AccessToken,
} from '../../shared/schemas/workspace.ts';
import { single } from '../../shared/schemas/common.ts';
import { newId } from '../../shared/identifiers.ts';
import { notFound } from '../problem.ts';
import { issueAccessToken, revokeAccessToken } from '../access-tokens.ts';
import { setRecordingRetention, sweepExpiredRecordings } from '../retention.ts';

export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/workspaces',
    operationId: 'admin-create-workspace',
    summary: 'Create a workspace and its first access token',
    tags: ['Admin'],
    request: { body: { content: { 'application/json': { schema: CreateWorkspaceRequest } }, required: true } },
    responses: { 201: { description: 'Created', content: { 'application/json': { schema: CreateWorkspaceResponse } } } },
  }),
  async (c) => {
    const { name } = c.req.valid('json');
    const workspace = { id: newId('ws', 16), name, createdAt: new Date().toISOString(), recordingRetentionDays: null };
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
    operationId: 'admin-create-access-token',
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

adminRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/workspaces/{workspaceId}/access-tokens/{accessTokenId}',
    operationId: 'admin-delete-access-token',
    summary: "Revoke one of a workspace's access tokens",
    tags: ['Admin'],
    request: { params: WorkspaceAccessTokenParams },
    responses: { 204: { description: 'Revoked' } },
  }),
  async (c) => {
    const { workspaceId, accessTokenId } = c.req.valid('param');
    if (!(await revokeAccessToken(c.env.DB, workspaceId, accessTokenId))) throw notFound(`access token ${accessTokenId}`);
    return c.body(null, 204);
  },
);

async function workspaceOf(db: D1Database, workspaceId: string) {
  const row = await db
    .prepare('SELECT id, name, created_at, recording_retention_days FROM workspaces WHERE id = ?')
    .bind(workspaceId)
    .first<{ id: string; name: string; created_at: string; recording_retention_days: number | null }>();
  if (!row) throw notFound(`workspace ${workspaceId}`);
  return { id: row.id, name: row.name, createdAt: row.created_at, recordingRetentionDays: row.recording_retention_days };
}

adminRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/workspaces/{workspaceId}',
    operationId: 'admin-get-workspace',
    summary: 'A workspace and its settings (recording retention)',
    tags: ['Admin'],
    request: { params: WorkspaceIdParam },
    responses: { 200: { description: 'The workspace', content: { 'application/json': { schema: single(Workspace) } } } },
  }),
  async (c) => c.json({ data: await workspaceOf(c.env.DB, c.req.valid('param').workspaceId) }, 200),
);

adminRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/workspaces/{workspaceId}',
    operationId: 'admin-update-workspace',
    summary: "Set a workspace's recording retention",
    description:
      'recordingRetentionDays applies to the recordings already made too: those past it are cleaned at once (media deleted, listed as `cleaned`); null keeps them forever.',
    tags: ['Admin'],
    request: { params: WorkspaceIdParam, body: { content: { 'application/json': { schema: UpdateWorkspaceRequest } }, required: true } },
    responses: { 200: { description: 'The workspace', content: { 'application/json': { schema: single(Workspace) } } } },
  }),
  async (c) => {
    const { workspaceId } = c.req.valid('param');
    if (!(await setRecordingRetention(c.env.DB, workspaceId, c.req.valid('json').recordingRetentionDays))) throw notFound(`workspace ${workspaceId}`);
    // Recordings already past a shortened policy are cleaned now, not at the next scheduled sweep.
    c.executionCtx.waitUntil(sweepExpiredRecordings(c.env).catch(() => undefined));
    return c.json({ data: await workspaceOf(c.env.DB, workspaceId) }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/retention/sweep',
    operationId: 'admin-sweep-retention',
    summary: 'Clean expired recordings now (the scheduled sweep, on demand)',
    tags: ['Admin'],
    responses: { 200: { description: 'What the sweep did', content: { 'application/json': { schema: single(RetentionSweepResult) } } } },
  }),
  async (c) => c.json({ data: await sweepExpiredRecordings(c.env) }, 200),
);
