// The embed player's HTML, pure: a full-window video element, the LIVE badge, the jump-to-live button and a message
// panel, with the status known when the page was served already in it (readable without script; the script takes
// over from there: ./client/player.ts). The page carries no secret: the viewer's own ?token= is handed on to the
// playlist URLs only. Its headers let any site frame it (frame-ancestors *), while scripts, media and connections
// stay same-origin (hls.js fetches /hls/… and plays through MSE blob: URLs).
import type { PlayerStatus } from './player-status.ts';

export interface EmbedPageInput {
  /** master playlist URL path, with ?token= when one was given */
  src: string;
  /** thumbnail URL path (poster), with ?token= when one was given */
  poster: string | null;
  status: PlayerStatus;
  /** asset URL paths */
  hlsScript: string;
  playerScript: string;
  /** per response, allows only this page's own inline <style> */
  nonce: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** JSON safe inside <script type="application/json">: no `</script>` or `<!--` can close or open anything. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function embedPageHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "media-src 'self' blob:",
      "connect-src 'self'",
      "worker-src 'self' blob:",
      "base-uri 'none'",
      "form-action 'none'",
      // Embeddable anywhere: the event allowed-domains rule is applied to the page's own request (who frames it).
      'frame-ancestors *',
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    // The page depends on the status at the time it was served: short, and per viewer when it carries a token.
    'cache-control': 'no-store',
  };
}

const STYLE = `
html,body{margin:0;height:100%;background:#000;color:#f5f5f5;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
#player{position:relative;width:100%;height:100%;overflow:hidden}
video{display:block;width:100%;height:100%;background:#000;object-fit:contain}
#live-badge{position:absolute;top:12px;left:12px;padding:2px 8px;border-radius:4px;background:#d71920;color:#fff;font-weight:700;font-size:12px;letter-spacing:.06em}
#jump-live{position:absolute;top:10px;right:12px;padding:4px 10px;border:0;border-radius:4px;background:rgba(255,255,255,.9);color:#111;font:inherit;font-size:13px;cursor:pointer}
#message{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:24px;text-align:center;background:rgba(0,0,0,.82)}
#message h1{margin:0 0 6px;font-size:20px;font-weight:600}
#message p{margin:0;max-width:36em;color:#c8c8c8}
[hidden]{display:none!important}
`;

export function embedPage(input: EmbedPageInput): string {
  const { status } = input;
  const waiting = status.state !== 'playable';
  const poster = input.poster ? ` poster="${escapeHtml(input.poster)}"` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(status.title || 'Riverhead player')}</title>
<style nonce="${input.nonce}">${STYLE}</style>
</head>
<body data-state="${status.state}">
<div id="player">
<video id="video" playsinline muted autoplay controls${poster}></video>
<div id="live-badge" hidden>LIVE</div>
<button id="jump-live" type="button" hidden>Jump to live</button>
<div id="message" role="status"${waiting ? '' : ' hidden'}><h1>${escapeHtml(status.title)}</h1><p>${escapeHtml(status.detail)}</p></div>
</div>
<script id="player-config" type="application/json">${scriptJson({ src: input.src, status })}</script>
<script src="${escapeHtml(input.hlsScript)}"></script>
<script src="${escapeHtml(input.playerScript)}"></script>
</body>
</html>
`;
}
