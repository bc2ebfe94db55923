// Workspaces and their access tokens: workspaces and their first token come from the ADMIN_TOKEN-guarded /admin
// routes; a workspace then issues, lists and revokes its own tokens under /v1/access-tokens.
import { z } from '@hono/zod-openapi';
import { ListQuery, Timestamp } from './common.ts';

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
    revokedAt: Timestamp.nullable().openapi({ description: 'set once revoked: the token is refused from then on' }),
  })
  .openapi('AccessToken');
export type AccessToken = z.infer<typeof AccessToken>;

/** Nothing to choose yet; strict so a field a later version adds is not silently ignored by this one. */
export const CreateAccessTokenRequest = z.object({}).strict().openapi('CreateAccessTokenRequest');

export const ListAccessTokensQuery = ListQuery;

export const AccessTokenIdParam = z.object({
  accessTokenId: z.string().min(1).max(64).openapi({ param: { name: 'accessTokenId', in: 'path' } }),
});

/** Days a recording is kept after its broadcast ended before retention cleans it; null = kept until deleted. */
const RecordingRetentionDays = z.number().int().min(1).max(36500).nullable().openapi({
  description: "days after a recording's broadcast ended until its media is deleted (it stays listed, `cleaned`); null = forever",
});

export const Workspace = z
  .object({ id: z.string(), name: z.string(), createdAt: Timestamp, recordingRetentionDays: RecordingRetentionDays })
  .openapi('Workspace');

export const UpdateWorkspaceRequest = z
  .object({ recordingRetentionDays: RecordingRetentionDays })
  .strict()
  .openapi('UpdateWorkspaceRequest');

/** What one retention sweep did: recordings found past their expiry, cleaned, streams whose object failed. */
export const RetentionSweepResult = z
  .object({ expired: z.number().int(), cleaned: z.number().int(), failedStreams: z.number().int() })
  .openapi('RetentionSweepResult');

export const CreateWorkspaceResponse = z.object({
  data: z.object({ workspace: Workspace, accessToken: AccessToken }),
});

export const WorkspaceIdParam = z.object({
  workspaceId: z.string().min(1).max(64).openapi({ param: { name: 'workspaceId', in: 'path' } }),
});

export const WorkspaceAccessTokenParams = WorkspaceIdParam.extend(AccessTokenIdParam.shape);
