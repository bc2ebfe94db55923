// What an endpoint may be and what it receives: URL rules (https to a public host; plain http only to loopback, in
// development) and the event-type filter. Pure.
//
// These rules refuse every literal form of a non-public address and the names of metadata and local hosts. They cannot
// see what a public-looking name resolves to: that protection (a name pointing at 10.0.0.1 or 169.254.169.254) is the
// platform's. A Worker's fetch() leaves from Cloudflare's network and cannot reach a private network or the host it
// runs on. Running the edge anywhere else (a self-hosted workerd) needs an egress proxy or firewall that does the same.
import { hostProblem, isLoopbackHost, loopbackAllowed } from '../public-host.ts';

export interface UrlRules {
  /** http:// to localhost / 127.0.0.0/8 / [::1]: only for local development, where receivers run on this machine. */
  allowLoopbackHttp: boolean;
}

export const MAX_URL_LENGTH = 2048;

/** null when the URL is acceptable, otherwise what is wrong with it (for a 400 naming the `url` field). */
export function checkEndpointUrl(raw: string, rules: UrlRules): string | null {
  if (raw.length > MAX_URL_LENGTH) return `at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    // The WHATWG parser canonicalizes the host: 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 all become 127.0.0.1, and
    // IPv6 is compressed, so the rules below only ever see one spelling of each address.
    url = new URL(raw);
  } catch {
    return 'not an absolute URL';
  }
  if (url.username || url.password) return 'credentials in the URL are not allowed; put them in the path or query';
  if (url.hash) return 'a URL fragment is never sent; remove it';
  const host = url.hostname.toLowerCase();
  const loopback = isLoopbackHost(host);
  if (url.protocol === 'http:') {
    if (loopback && rules.allowLoopbackHttp) return null;
    return loopback ? 'http:// to a local address is only allowed in local development' : 'must be an https:// URL';
  }
  if (url.protocol !== 'https:') return 'must be an https:// URL';
  // The host rules simulcast destinations follow too (edge/public-host.ts).
  return hostProblem(host, rules.allowLoopbackHttp, 'receive webhooks');
}

/** An empty filter means every type; pings (webhook.ping) are sent on request and bypass the filter. */
export function endpointWants(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.length === 0 || eventTypes.includes(type);
}

/**
 * Loopback http is allowed when WEBHOOK_ALLOW_HTTP_LOOPBACK says "true"; when it is unset, only when the API itself is
 * being called on a loopback host (`npm start`, tests) — a deployed Worker is never reached that way.
 */
export function loopbackHttpAllowed(setting: string | undefined, requestUrl: string): boolean {
  return loopbackAllowed(setting, requestUrl);
}
