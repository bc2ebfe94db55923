// /v1/signing-keys: RS256 key pairs a workspace signs private playback tokens with. The private key is returned once
// and never stored; only the public half stays, to verify tokens at the edge.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { security } from './openapi-parts.ts';
import { notFound } from '../problem.ts';
import { Problem, single, list } from '../../shared/schemas/common.ts';
import { SigningKey, ListSigningKeysQuery, SigningKeyIdParam } from '../../shared/schemas/signing-keys.ts';
import { newId } from '../../shared/identifiers.ts';
import { keysetPage } from '../pagination.ts';
import { PLAYBACK_TOKEN_ALGORITHM } from '../playback-token.ts';
import { purgeSigningKeyCache } from '../playback-cache.ts';

export const signingKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const problems = {
  400: { description: 'Invalid request', content: { 'application/problem+json': { schema: Problem } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'No such signing key in this workspace', content: { 'application/problem+json': { schema: Problem } } },
};
const tags = ['Signing keys'];

interface SigningKeyRow {
  id: string;
  workspace_id: string;
  public_key_jwk: string;
  public_key_pem: string;
  created_at: string;
}

const view = (row: SigningKeyRow): SigningKey => ({ signingKeyId: row.id, publicKey: row.public_key_pem, createdAt: row.created_at });

signingKeyRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/signing-keys',
    operationId: 'create-signing-key',
    summary: 'Create a signing key',
    description:
      'An RS256 key pair for playback tokens. The private key (base64 of its PKCS#8 PEM) is in this response only: keep it on your servers.',
    tags,
    security,
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: single(SigningKey) } } },
      401: problems[401],
    },
  }),
  async (c) => {
    const { publicKey, privateKey } = await generateKeyPair(PLAYBACK_TOKEN_ALGORITHM, { modulusLength: 2048, extractable: true });
    const row: SigningKeyRow = {
      id: newId('sgk', 20),
      workspace_id: c.get('workspaceId'),
      public_key_jwk: JSON.stringify(await exportJWK(publicKey)),
      public_key_pem: await exportSPKI(publicKey),
      created_at: new Date().toISOString(),
    };
    await c.env.DB.prepare(
      'INSERT INTO signing_keys (id, workspace_id, public_key_jwk, public_key_pem, created_at) VALUES (?, ?, ?, ?, ?)',
    )
      .bind(row.id, row.workspace_id, row.public_key_jwk, row.public_key_pem, row.created_at)
      .run();
    return c.json({ data: { ...view(row), privateKey: btoa(await exportPKCS8(privateKey)) } }, 201);
  },
);

signingKeyRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/signing-keys',
    operationId: 'list-signing-keys',
    summary: 'List signing keys',
    description: 'Newest first, public halves only.',
    tags,
    security,
    request: { query: ListSigningKeysQuery },
    responses: {
      200: { description: 'A page of keys', content: { 'application/json': { schema: list(SigningKey) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await keysetPage<SigningKeyRow>(
      c.env.DB,
      { select: '*', from: 'signing_keys', where: ['workspace_id = ?'], params: [c.get('workspaceId')] },
      limit,
      cursor,
    );
    return c.json({ data: page.rows.map(view), pagination: { nextCursor: page.nextCursor } }, 200);
  },
);

signingKeyRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/signing-keys/{signingKeyId}',
    operationId: 'get-signing-key',
    summary: 'Get a signing key',
    tags,
    security,
    request: { params: SigningKeyIdParam },
    responses: {
      200: { description: 'The key (public half)', content: { 'application/json': { schema: single(SigningKey) } } },
      401: problems[401],
      404: problems[404],
    },
  }),
  async (c) => {
    const { signingKeyId } = c.req.valid('param');
    const row = await c.env.DB.prepare('SELECT * FROM signing_keys WHERE id = ? AND workspace_id = ?')
      .bind(signingKeyId, c.get('workspaceId'))
      .first<SigningKeyRow>();
    if (!row) throw notFound(`signing key ${signingKeyId}`);
    return c.json({ data: view(row) }, 200);
  },
);

signingKeyRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/signing-keys/{signingKeyId}',
    operationId: 'delete-signing-key',
    summary: 'Delete a signing key',
    description: 'Tokens signed with it stop opening playback at once.',
    tags,
    security,
    request: { params: SigningKeyIdParam },
    responses: { 204: { description: 'Deleted' }, 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { signingKeyId } = c.req.valid('param');
    const { meta } = await c.env.DB.prepare('DELETE FROM signing_keys WHERE id = ? AND workspace_id = ?')
      .bind(signingKeyId, c.get('workspaceId'))
      .run();
    if (!meta.changes) throw notFound(`signing key ${signingKeyId}`);
    await purgeSigningKeyCache(c.env, c.get('workspaceId'), signingKeyId); // playback caches keys for a few seconds
    return c.body(null, 204);
  },
);
