// The edge's HTTP surface: public API under /v1, admin under /admin, origin-only under /internal, playback under /hls.
import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from './env.ts';
import { onError, onNotFound, validationHook } from './middleware/errors.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { OPENAPI_CONFIG, registerDocumentExtras } from './openapi-document.ts';
import { requireAccessToken, requireAdminToken, requireOriginSignature } from './middleware/auth.ts';
import { streamRoutes } from './routes/streams.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { liveEventRoutes } from './routes/live-events.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { adminRoutes } from './routes/admin.ts';
import { adminOriginRoutes } from './routes/admin-origins.ts';
import { zoneRoutes } from './routes/zones.ts';
import { internalRoutes } from './routes/internal.ts';
import { internalMediaRoutes, MAX_MEDIA_REQUEST_BYTES } from './routes/internal-media.ts';
import { internalOriginRoutes } from './routes/internal-origins.ts';
import { playbackRoutes } from './routes/playback.ts';
import { playbackStatsRoutes } from './routes/playback-stats.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { signingKeyRoutes } from './routes/signing-keys.ts';
import { accessTokenRoutes } from './routes/access-tokens.ts';
import { uploadProtocolRoutes, videoUploadRoutes } from './routes/video-uploads.ts';
import { videoRoutes } from './routes/videos.ts';
import { videoImportRoutes } from './routes/video-imports.ts';
import { assetRoutes } from './browser/assets-route.ts';
import { embedRoutes } from './browser/embed-route.ts';
import { dashboardRoutes } from './dashboard/routes.ts';

export function buildApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(onNotFound);

  app.get('/', (c) => c.redirect('/dashboard', 302)); // people land on the dashboard; the API lives under /v1 (/v1/docs)

  app.openAPIRegistry.registerComponent('securitySchemes', 'basicAuth', {
    type: 'http',
    scheme: 'basic',
    description: 'access token id as the user name, its secret as the password',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'Bearer <accessTokenId>:<secret>',
  });
  registerDocumentExtras(app);
  app.doc31('/v1/openapi.json', OPENAPI_CONFIG); // the same document `npm run openapi` writes (edge/openapi-document.ts)
  app.get('/v1/docs', Scalar({ url: '/v1/openapi.json', pageTitle: 'Riverhead API' }));

  app.use('/v1/*', bodyLimit());
  app.use('/admin/*', bodyLimit());
  const mediaBodyLimit = bodyLimit(MAX_MEDIA_REQUEST_BYTES);
  const eventBodyLimit = bodyLimit(1024 * 1024);
  app.use('/internal/*', (c, next) =>
    (new URL(c.req.url).pathname.startsWith('/internal/media/') ? mediaBodyLimit : eventBodyLimit)(c, next),
  );
  app.use('/v1/live/*', requireAccessToken);
  app.use('/v1/webhooks', requireAccessToken);
  app.use('/v1/webhooks/*', requireAccessToken);
  app.use('/v1/access-tokens', requireAccessToken);
  app.use('/v1/access-tokens/*', requireAccessToken);
  app.use('/v1/signing-keys', requireAccessToken);
  app.use('/v1/signing-keys/*', requireAccessToken);
  app.use('/v1/recordings', requireAccessToken);
  app.use('/v1/recordings/*', requireAccessToken);
  app.use('/v1/on-demand/*', requireAccessToken);
  app.use('/v1/zones', requireAccessToken);
  // The video library (issue 13), every /v1/videos route. /uploads/{token} takes no access token: the token is the
  // credential, and its routes set their own body limit (a part or a one-shot file; edge/routes/video-uploads.ts).
  app.use('/v1/videos', requireAccessToken);
  app.use('/v1/videos/*', requireAccessToken);
  app.use('/admin/*', requireAdminToken);
  app.use('/internal/*', requireOriginSignature);

  app.route('/v1', streamRoutes);
  app.route('/v1', webhookRoutes);
  app.route('/v1', signingKeyRoutes);
  app.route('/v1', accessTokenRoutes);
  app.route('/v1', recordingRoutes);
  app.route('/v1', liveEventRoutes);
  app.route('/v1', destinationRoutes);
  app.route('/v1', zoneRoutes);
  app.route('/v1', videoUploadRoutes);
  app.route('/v1', videoImportRoutes);
  app.route('/v1', videoRoutes);
  app.route('/admin', adminRoutes);
  app.route('/admin', playbackStatsRoutes);
  app.route('/admin', adminOriginRoutes);
  app.route('/internal', internalRoutes);
  app.route('/internal/media', internalMediaRoutes);
  app.route('/internal/origins', internalOriginRoutes);
  app.route('/hls', playbackRoutes);
  app.route('/uploads', uploadProtocolRoutes);
  // Browser pages and their assets (issue 16): public, outside the API and its OpenAPI document.
  app.route('/assets', assetRoutes);
  app.route('/embed', embedRoutes);
  app.route('/', dashboardRoutes); // /dashboard and /dashboard/* (edge/dashboard/routes.ts)
  return app;
}
