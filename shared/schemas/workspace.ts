// Workspaces and their access tokens, created through the ADMIN_TOKEN-guarded /admin routes.
import { z } from '@hono/zod-openapi';
import { Timestamp } from './common.ts';

export const CreateWorkspaceRequest = z
  .object({ name: z.string().min(1).max(100) })
  .strict()
  .openapi('CreateWorkspaceRequest');

export const AccessToken = z
  .object({
    id: z.string(),
    secret: z.string().optional().openapi({ description: 'shown once' }),
    workspaceId: z.string(),
    createdAt: Timestamp,
  })
  .openapi('AccessToken');

export const Workspace = z
  .object({ id: z.string(), name: z.string(), createdAt: Timestamp })
  .openapi('Workspace');

export const CreateWorkspaceResponse = z.object({
  data: z.object({ workspace: Workspace, accessToken: AccessToken }),
});

export const WorkspaceIdParam = z.object({
  workspaceId: z.string().min(1).max(64).openapi({ param: { name: 'workspaceId', in: 'path' } }),
});
