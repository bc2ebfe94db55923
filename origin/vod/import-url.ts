// What a video import may be fetched from, pure: the URL rules webhooks follow (https to a public host, no credentials in
// the URL, plain http only to loopback in local development), the addresses a name may resolve to, and the media types
// an answer may carry. The edge applies the URL rule at POST /v1/videos/imports; the origin applies it again at every
// redirect, and judges every address a name resolves to before it connects (a public name pointing at 10.0.0.1 or
// 169.254.169.254 — DNS rebinding — is refused there, since an origin, unlike a Worker, sits in a network).
import { canonicalHostname, hostProblem, isLoopbackHost, loopbackAllowed } from '../../edge/public-host.ts';

export const MAX_IMPORT_URL_LENGTH = 4096;
const ROLE = 'be imported from';

/** null when the URL may be imported from, otherwise what is wrong with it (for a 400 naming `url`). */
export function importUrlProblem(raw: string, allowLoopbackHttp: boolean): string | null {
  if (raw.length > MAX_IMPORT_URL_LENGTH) return `at most ${MAX_IMPORT_URL_LENGTH} characters`;
  let url: URL;
  try {
    // The WHATWG parser canonicalizes the host (2130706433, 0x7f.1, 127.1 → 127.0.0.1), so one spelling is judged.
    url = new URL(raw);
  } catch {
    return 'not an absolute URL';
  }
  if (url.username || url.password) return 'credentials in the URL are not allowed; use a presigned URL (the signature in the query)';
  const host = url.hostname.toLowerCase();
  const loopback = isLoopbackHost(host);
  if (url.protocol === 'http:') {
    if (loopback && allowLoopbackHttp) return null;
    return loopback ? 'http:// to a local address is only allowed in local development' : 'must be an https:// URL';
  }
  if (url.protocol !== 'https:') return 'must be an https:// URL';
  return hostProblem(host, allowLoopbackHttp, ROLE);
}

/** Why an address a host name resolved to (as dns.lookup gives it) cannot be connected to, or null. */
export function resolvedAddressProblem(hostname: string, address: string, allowLoopback: boolean): string | null {
  const host = canonicalHostname(address.includes(':') ? `[${address}]` : address);
  if (host === null) return `${hostname} resolved to ${address}, which is no address`;
  const problem = hostProblem(host, allowLoopback, ROLE);
  return problem === null ? null : `${hostname} resolves to ${address}: ${problem}`;
}

/**
 * The origin's local-development switch: WEBHOOK_ALLOW_HTTP_LOOPBACK as on the edge ("true" / "false"); unset, loopback
 * is allowed only when the origin's edge is itself on loopback (a local stack), never in a deployment.
 */
export function importLoopbackAllowed(setting: string | undefined, edgeUrl: string): boolean {
  return loopbackAllowed(setting, edgeUrl);
}

/** Types a video file is served with besides video/* and audio/* (object stores' defaults for unknown bytes among them). */
const MEDIA_TYPES = new Set(['application/octet-stream', 'binary/octet-stream', 'application/mp4', 'application/mxf', 'application/ogg', 'application/x-matroska']);
const PLAYLIST_TYPES = new Set(['application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl', 'application/dash+xml']);

/**
 * Why an answer's Content-Type shows it is no video file (an HTML error page, JSON, an image, a playlist), or null. No
 * Content-Type at all is let through: the probe decides.
 */
export function mediaTypeRefusal(contentType: string | null): string | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '') return null;
  if (PLAYLIST_TYPES.has(type)) return `the URL answered with a streaming playlist (${type}), not a video file`;
  if (type.startsWith('video/') || type.startsWith('audio/') || MEDIA_TYPES.has(type)) return null;
  return `the URL answered with ${type.slice(0, 100)}, not a video file`;
}
