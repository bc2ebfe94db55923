// RS256 signing keys: a workspace signs playback tokens (JWT) for its private playback IDs with one of them.
import { z } from '@hono/zod-openapi';
import { ListQuery, Timestamp } from './common.ts';

export const SigningKey = z
  .object({
    signingKeyId: z.string().openapi({ description: 'put it in the token header as `kid`' }),
    publicKey: z.string().openapi({ description: 'PEM (SPKI) of the public half' }),
    privateKey: z
      .string()
      .optional()
      .openapi({ description: 'base64 of the PKCS#8 PEM; only in the create response, never stored' }),
    createdAt: Timestamp,
  })
  .openapi('SigningKey');
export type SigningKey = z.infer<typeof SigningKey>;

export const ListSigningKeysQuery = ListQuery;

export const SigningKeyIdParam = z.object({
  signingKeyId: z.string().min(1).max(64).openapi({ param: { name: 'signingKeyId', in: 'path' } }),
});
