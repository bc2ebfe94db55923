// /v1/access-tokens: a workspace issues, lists and revokes its own API tokens. Rotation is issue-then-revoke; a token
// may revoke itself. A leaked token is dead on its next request.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { security } from './openapi-parts.ts';
import { notFound } from '../problem.ts';
import { Problem, single, list } from '../../shared/schemas/common.ts';
import { AccessToken, AccessTokenIdParam, CreateAccessTokenRequest, ListAccessTokensQuery } from '../../shared/schemas/workspace.ts';
import { findAccessToken, issueAccessToken, listAccessTokens, revokeAccessToken } from '../access-tokens.ts';

export const accessTokenRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const problems = {
  400: { description: 'Invalid request', content: { 'application/problem+json': { schema: Problem } } },
  401: { description: 'Missing, invalid or revoked credentials', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'No such access token in this workspace', content: { 'application/problem+json': { schema: Problem } } },
};
const tags = ['Access tokens'];

accessTokenRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/access-tokens',
    operationId: 'create-access-token',
    summary: 'Issue an access token',
    description: 'The secret is in this response only. To rotate: issue a new token, switch to it, revoke the old one.',
    tags,
    security,
    request: { body: { content: { 'application/json': { schema: CreateAccessTokenRequest } }, required: false } },
    responses: {
      201: { description: 'Issued', content: { 'application/json': { schema: single(AccessToken) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => c.json({ data: await issueAccessToken(c.env.DB, c.get('workspaceId')) }, 201),
);

accessTokenRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/access-tokens',
    operationId: 'list-access-tokens',
    summary: 'List access tokens',
    description: 'Newest first, revoked ones included (with revokedAt); never the secrets.',
    tags,
    security,
    request: { query: ListAccessTokensQuery },
    responses: {
      200: { description: 'A page of tokens', content: { 'application/json': { schema: list(AccessToken) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await listAccessTokens(c.env.DB, c.get('workspaceId'), limit, cursor);
    return c.json({ data: page.tokens, pagination: { nextCursor: page.nextCursor } }, 200);
  },
);

accessTokenRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/access-tokens/{accessTokenId}',
    operationId: 'get-access-token',
    summary: 'Get an access token',
    tags,
    security,
    request: { params: AccessTokenIdParam },
    responses: {
      200: { description: 'The token (no secret)', content: { 'application/json': { schema: single(AccessToken) } } },
      401: problems[401],
      404: problems[404],
    },
  }),
  async (c) => {
    const { accessTokenId } = c.req.valid('param');
    const token = await findAccessToken(c.env.DB, c.get('workspaceId'), accessTokenId);
    if (!token) throw notFound(`access token ${accessTokenId}`);
    return c.json({ data: token }, 200);
  },
);

accessTokenRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/access-tokens/{accessTokenId}',
    operationId: 'delete-access-token',
    summary: 'Revoke an access token',
    description: 'Requests with it are refused (401) from now on. Revoking a revoked token is a no-op.',
    tags,
    security,
    request: { params: AccessTokenIdParam },
    responses: { 204: { description: 'Revoked' }, 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { accessTokenId } = c.req.valid('param');
    if (!(await revokeAccessToken(c.env.DB, c.get('workspaceId'), accessTokenId))) throw notFound(`access token ${accessTokenId}`);
    return c.body(null, 204);
  },
);
