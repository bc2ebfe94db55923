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
