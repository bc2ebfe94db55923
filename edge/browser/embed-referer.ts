// The embed player's own playback requests, recognised by their Referer, pure. An event's allowed domains are about
// the page that frames the player: /embed/{playbackId} checks them on its own request (its Referer is that page) and
// only then starts playing, so the /hls requests it makes afterwards — whose Referer is the embed page itself, on this
// edge — are not checked again (they would name the edge's host, never the customer's). A browser never lets another
// page send this Referer; a client that forges headers could forge an allowed page's Referer just as well.

/** Whether `referer` is this edge's embed page (same scheme, host and port as the request) for this playback ID. */
export function fromOwnEmbedPage(requestUrl: string, playbackId: string, referer: string | null | undefined): boolean {
  if (!referer) return false;
  try {
    const page = new URL(referer);
    return page.origin === new URL(requestUrl).origin && page.pathname === `/embed/${encodeURIComponent(playbackId)}`;
  } catch {
    return false;
  }
}
