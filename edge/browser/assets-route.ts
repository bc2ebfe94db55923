// GET /assets/{name}-{hash}.js|css: the built browser assets (./assets.ts), public and cacheable forever since their
// URL changes with their content. Not an API route: no access token, not in the OpenAPI document.
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../problem.ts';
import { assetAt } from './assets.ts';

export const assetRoutes = new Hono<AppEnv>();

const IMMUTABLE = 'public, max-age=31536000, immutable';

assetRoutes.get('/:file{[A-Za-z0-9_-]+-[0-9a-f]{10}\\.(?:js|css)}', (c) => {
  const asset = assetAt(new URL(c.req.url).pathname);
  // An older hash (a page cached before a deploy) is gone: a 404 the page's own reload fixes.
  if (!asset) throw new ApiError(404, 'not-found', 'Not found', 'no such asset (its hash may be from an older build)');
  return c.body(asset.body, 200, {
    'content-type': asset.contentType,
    'cache-control': IMMUTABLE,
    'x-content-type-options': 'nosniff',
    // Any page may load them (the embed player's page is framed anywhere).
    'access-control-allow-origin': '*',
    'cross-origin-resource-policy': 'cross-origin',
  });
});
