// Which hosts a customer may point our servers at: a webhook receiver (the edge connects to it) and a simulcast
// destination (the origin holding the broadcast connects to it). One rule for both, pure: a public host name or a
// global address; never a literal private, loopback, link-local, metadata, unspecified or reserved address, a cloud
// metadata name or a local name (edge/webhooks/special-addresses.ts says which those are) — except loopback in local
// development, where receivers and test servers run on this machine.
//
// Only literal addresses and names are judged: what a public-looking name resolves to is the network's to protect
// (edge/webhooks/endpoint-rules.ts says how).
import { classifyHost } from './webhooks/special-addresses.ts';

/** localhost, *.localhost, 127.0.0.0/8 and [::1], as `new URL().hostname` leaves them (lowercased). */
export const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * A host as the WHATWG parser leaves it for http(s) URLs: IPv4 in every spelling (2130706433, 0x7f.1, 0177.0.0.1, 127.1)
 * as a dotted quad, names lowercased and punycoded, IPv6 compressed. rtmp:// is not a scheme the parser knows, so its
 * hosts stay as written — while the resolver an origin's relay uses reads 0x7f.1 as 127.0.0.1 all the same. Null when
 * it is no valid host.
 */
export function canonicalHostname(hostname: string): string | null {
  try {
    return new URL(`http://${hostname}/`).hostname;
  } catch {
    return null;
  }
}

/**
 * Why `hostname` (a URL's, lowercased) cannot be what it is asked to be, or null when it can. `role` finishes the
 * sentence "… cannot <role>", e.g. 'receive webhooks'. Loopback passes only when `allowLoopback` (local development).
 */
export function hostProblem(hostname: string, allowLoopback: boolean, role: string): string | null {
  if (isLoopbackHost(hostname)) return allowLoopback ? null : `a local address cannot ${role}`;
  switch (classifyHost(hostname)) {
    case 'public':
      return null;
    case 'special-address':
      return `a private, loopback, link-local or reserved address cannot ${role}`;
    case 'metadata':
      return `a cloud metadata host cannot ${role}`;
    case 'local-name':
      return `not a public host name: local and internal names cannot ${role}`;
  }
}

/**
 * The local-development switch (WEBHOOK_ALLOW_HTTP_LOOPBACK): "true" allows loopback hosts, "false" never; unset, only
 * when the API itself is being called on a loopback host (`npm start`, tests) — a deployed Worker is never reached that
 * way.
 */
export function loopbackAllowed(setting: string | undefined, requestUrl: string): boolean {
  if (setting === 'true') return true;
  if (setting !== undefined && setting !== '') return false;
  return isLoopbackHost(new URL(requestUrl).hostname.toLowerCase());
}
