// The dashboard's HTML shell: the same small page for every /dashboard path (the client routes), linking the built
// assets by their content-hashed URLs. Pure; no credentials ever appear here (the page asks for them itself).

export interface ShellAssets {
  hlsJs: string;
  dashboardJs: string;
  dashboardCss: string;
}

const escapeAttribute = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function dashboardShell(assets: ShellAssets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Riverhead dashboard</title>
<link rel="stylesheet" href="${escapeAttribute(assets.dashboardCss)}">
<script src="${escapeAttribute(assets.hlsJs)}" defer></script>
<script src="${escapeAttribute(assets.dashboardJs)}" defer></script>
</head>
<body>
<div id="dashboard"><noscript>The Riverhead dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;
}

/**
 * Scripts and styles only from this Worker (so an injected string cannot run code); media, images and API calls may
 * reach the absolute URLs the API hands out; hls.js runs its transmuxer in a blob: worker; never framed.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  'img-src * data: blob:',
  'media-src * blob:',
  'connect-src *',
  'worker-src blob:',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
