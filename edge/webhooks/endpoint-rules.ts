// What an endpoint may be and what it receives: URL rules (https; plain http only to loopback, in development) and
// the event-type filter. Pure.

export interface UrlRules {
  /** http:// to localhost / 127.0.0.0/8 / [::1]: only for local development, where receivers run on this machine. */
  allowLoopbackHttp: boolean;
}

export const MAX_URL_LENGTH = 2048;

const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** Private, link-local and unspecified address literals: never a customer's public receiver. */
function isPrivateAddress(host: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4) {
    const a = Number(v4[1]);
    const b = Number(v4[2]);
    return a === 0 || a === 10 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168);
  }
  if (host.startsWith('[')) {
    const v6 = host.slice(1, -1).toLowerCase();
    return v6 === '::' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || v6.startsWith('::ffff:');
  }
  return false;
}

/** null when the URL is acceptable, otherwise what is wrong with it (for a 400 naming the `url` field). */
export function checkEndpointUrl(raw: string, rules: UrlRules): string | null {
  if (raw.length > MAX_URL_LENGTH) return `at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
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
  if (loopback && !rules.allowLoopbackHttp) return 'a local address cannot receive webhooks';
  if (isPrivateAddress(host)) return 'a private network address cannot receive webhooks';
  return null;
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
  if (setting === 'true') return true;
  if (setting !== undefined && setting !== '') return false;
  return isLoopbackHost(new URL(requestUrl).hostname.toLowerCase());
}
