// PUBLIC_BASE_URL, the optional edge variable naming the URL customers reach this edge on: what is sent when there is no
// request to resolve on (webhook payloads) carries media URLs absolute on it. Parsed once per value; a malformed one is
// logged as a configuration error and ignored (payloads keep their /hls/... paths), never failing a request.
import { log } from './log.ts';
import { isLoopbackHost } from './public-host.ts';

export type PublicBaseUrlCheck = { ok: true; base: string | null } | { ok: false; problem: string };

/**
 * The base a PUBLIC_BASE_URL value names (scheme, host and port, no trailing slash), null when unset or empty, or why it
 * is malformed: https://, or http:// to loopback for local development; no credentials, path, query or fragment, as
 * /hls is served at the edge's root.
 */
export function parsePublicBaseUrl(raw: string | undefined): PublicBaseUrlCheck {
  const value = raw?.trim() ?? '';
  if (value === '') return { ok: true, base: null };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: 'not an absolute URL; expected https://host[:port]' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, problem: `scheme ${url.protocol} is not https:` };
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return { ok: false, problem: 'http:// is only for local development (localhost, 127.0.0.1); use https://' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, problem: 'must not carry credentials' };
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return { ok: false, problem: 'must be scheme, host and port only (no path, query or fragment): /hls is served at the root' };
  }
  return { ok: true, base: url.origin };
}

let checked: { raw: string | undefined; base: string | null } | undefined;

/**
 * The configured base, or null (unset or malformed). Checked once per value in this isolate: a malformed one is
 * logged then, without the value (it may hold credentials).
 */
export function publicBaseUrl(env: { PUBLIC_BASE_URL?: string }): string | null {
  const raw = env.PUBLIC_BASE_URL;
  if (checked && checked.raw === raw) return checked.base;
  const result = parsePublicBaseUrl(raw);
  if (!result.ok) {
    log('config_invalid', {
      variable: 'PUBLIC_BASE_URL',
      problem: result.problem,
      effect: 'ignored: webhook payloads carry /hls/... paths until it is fixed',
    });
  }
  checked = { raw, base: result.ok ? result.base : null };
  return checked.base;
}
