// The dashboard's pages (issue 16): `/` sends people to `/dashboard`, and every `/dashboard/*` path answers the shell
// (the client routes from there). Public like the embed player: no API token to load it, not in the OpenAPI document;
// the page calls the API with the token the person types.
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { assetPath } from '../browser/assets.ts';
import { DASHBOARD_CSP, dashboardShell } from './shell.ts';

export const dashboardRoutes = new Hono<AppEnv>();

/** Built once per isolate: the asset URLs only change with a deploy. */
let shell: string | null = null;
const shellHtml = () =>
  (shell ??= dashboardShell({
    hlsJs: assetPath('hls.js'),
    dashboardJs: assetPath('dashboard.js'),
    dashboardCss: assetPath('dashboard.css'),
  }));

const page = () =>
  new Response(shellHtml(), {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // Short: the shell names the current assets' hashes, so a deploy shows within a minute.
      'cache-control': 'public, max-age=60',
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    },
  });

dashboardRoutes.get('/dashboard', page);
dashboardRoutes.get('/dashboard/*', page);
