// Rewrites the URIs inside an HLS playlist (variant and segment lines, and URI="…" attributes), so the edge can
// scope a live master playlist to its session and carry query parameters (e.g. a playback token) onto children.

export function rewritePlaylistUris(text: string, rewrite: (uri: string) => string): string {
  return text
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed === '') return line;
      if (trimmed.startsWith('#')) return line.replace(/URI="([^"]+)"/g, (_m, uri: string) => `URI="${rewrite(uri)}"`);
      return rewrite(trimmed);
    })
    .join('\n');
}

/** Relative URIs only: absolute ones point elsewhere and are left alone. */
export const isRelativeUri = (uri: string): boolean => !/^[a-z][a-z0-9+.-]*:/i.test(uri) && !uri.startsWith('/');

/**
 * A media playlist as a finished VOD: a recording served from a session's durable playlist, which is an EVENT
 * playlist that may lack #EXT-X-ENDLIST (the origin holding it died before the broadcast ended there). Without the
 * end tag a player would keep polling it as live; EVENT says more may come, VOD says it is complete.
 */
export function asVodPlaylist(text: string): string {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  let typed = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^#EXT-X-PLAYLIST-TYPE:/.test(lines[i]!.trim())) {
      lines[i] = '#EXT-X-PLAYLIST-TYPE:VOD';
      typed = true;
    }
  }
  if (!typed && lines[0]?.trim() === '#EXTM3U') lines.splice(1, 0, '#EXT-X-PLAYLIST-TYPE:VOD');
  if (!lines.some((line) => line.trim() === '#EXT-X-ENDLIST')) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}
