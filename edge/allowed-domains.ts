// Which web pages may embed an event's playback (its security.allowedDomains), pure: the host of the page a request
// comes from, read from its Origin header (players' fetches and XHRs send it) or else its Referer, matched against
// the list: 'example.com' is that host only, '*.example.com' any host under it (not example.com itself).
// A request naming no page (curl, a native app) has no host: a non-empty list refuses it.

/** The page's host, lower case and without its port; null when neither header names one. */
export function requestPageHost(headers: { origin?: string | null; referer?: string | null }): string | null {
  for (const value of [headers.origin, headers.referer]) {
    if (!value || value === 'null') continue; // an opaque origin (sandboxed frame, file://) names no page
    try {
      const host = new URL(value).hostname.toLowerCase();
      if (host) return host.replace(/\.$/, '');
    } catch {
      // not a URL: try the other header
    }
  }
  return null;
}

/** Whether `host` is one of `allowedDomains`; an empty list allows every request, even one without a host. */
export function hostAllowed(host: string | null, allowedDomains: readonly string[]): boolean {
  if (allowedDomains.length === 0) return true;
  if (host === null) return false;
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowedDomains.some((entry) => {
    const domain = entry.trim().toLowerCase().replace(/\.$/, '');
    if (domain.startsWith('*.')) {
      const parent = domain.slice(2);
      return parent.length > 0 && name.length > parent.length + 1 && name.endsWith(`.${parent}`);
    }
    return name === domain;
  });
}
