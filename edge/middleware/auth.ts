// Who is calling: workspace access tokens (Basic id:secret or Bearer), the ADMIN_TOKEN, and HMAC-signed origins.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../problem.ts';
import { sha256Hex } from '../../shared/identifiers.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { originSecretProblem } from '../../shared/origin-secret.ts';
import { ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';
import { originIdentityFor } from '../origin-registry.ts';
import { log } from '../log.ts';

function unauthorized(detail: string): ApiError {
  return new ApiError(401, 'unauthorized', 'Unauthorized', detail);
}

/** Same-length strings compared without an early exit, so timing says nothing about where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** `Basic base64(id:secret)` as curl -u sends it, or `Bearer id:secret`. */
export function parseCredentials(header: string | undefined): { id: string; secret: string } | null {
  if (!header) return null;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return null;
  let pair: string;
  if (/^basic$/i.test(scheme)) {
    try {
      pair = atob(value);
    } catch {
      return null;
    }
  } else if (/^bearer$/i.test(scheme)) {
    pair = value;
  } else {
    return null;
  }
  const colon = pair.indexOf(':');
  if (colon <= 0 || colon === pair.length - 1) return null;
  return { id: pair.slice(0, colon), secret: pair.slice(colon + 1) };
}

export const requireAccessToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  const credentials = parseCredentials(c.req.header('authorization'));
  if (!credentials) throw unauthorized('send an access token as HTTP Basic id:secret or Bearer id:secret');
  const row = await c.env.DB.prepare('SELECT workspace_id, secret_hash FROM access_tokens WHERE id = ? AND revoked_at IS NULL')
    .bind(credentials.id)
    .first<{ workspace_id: string; secret_hash: string }>();
  const presented = await sha256Hex(credentials.secret);
  if (!row || !constantTimeEqual(presented, row.secret_hash)) throw unauthorized('the access token is not valid (unknown, revoked or wrong secret)');
  c.set('workspaceId', row.workspace_id);
  await next();
};

export const requireAdminToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header('authorization') ?? '';
  const match = /^bearer\s+(.+)$/i.exec(header);
  const expected = c.env.ADMIN_TOKEN;
  if (!expected || !match || !constantTimeEqual(await sha256Hex(match[1]!), await sha256Hex(expected))) {
    throw unauthorized('admin routes need Authorization: Bearer <ADMIN_TOKEN>');
  }
  await next();
};

/**
 * Origin calls name their origin (x-riverhead-origin) and carry an HMAC over method, path with query, timestamp and
 * body, made with that origin's own secret; anything else is refused before parsing. The master key itself verifies
 * nothing: it only derives the origins' secrets (edge/origin-registry.ts).
 */
export const requireOriginSignature: MiddlewareHandler<AppEnv> = async (c, next) => {
  // An unset or guessable master would derive guessable origin secrets: refuse loudly.
  const secretProblem = originSecretProblem(c.env.ORIGIN_SECRET);
  if (secretProblem) {
    log('origin_secret_unusable', { problem: secretProblem, path: new URL(c.req.url).pathname });
    throw new ApiError(503, 'origin-secret-unusable', 'Edge misconfigured', `${secretProblem}; set it with wrangler secret put ORIGIN_SECRET`);
  }
  const originId = c.req.header(ORIGIN_ID_HEADER) ?? '';
  const identity = originId ? await originIdentityFor(c.env, originId) : null;
  if (!identity) {
    throw new ApiError(401, 'bad-signature', 'Unauthorized', `origin signature refused: ${originId ? 'unknown or disabled origin' : `no ${ORIGIN_ID_HEADER} header`}`, {
      reason: 'unknown-origin',
    });
  }
  const body = new Uint8Array(await c.req.raw.clone().arrayBuffer());
  const url = new URL(c.req.url);
  const verdict = await verifyRequest(identity.secret, c.req.method, url.pathname + url.search, body, c.req.raw.headers);
  if (!verdict.ok) {
    throw new ApiError(401, 'bad-signature', 'Unauthorized', `origin signature refused: ${verdict.reason}`, {
      reason: verdict.reason,
    });
  }
  c.set('originId', identity.originId);
  c.set('originRegion', identity.region);
  await next();
};
