// Reading HLS as a player or a watcher would: variant URIs of a master, segments of a media playlist, and a
// watcher that notes when each segment first appears in a playlist (over HTTP or on disk).
import { readFile } from 'node:fs/promises';

export function variantUris(master: string): string[] {
  return master.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

export interface Segment {
  uri: string;
  duration: number;
}

/** Segments in playlist order (EVENT playlists keep all of them, so index = position in the session). */
export function segmentsOf(media: string): Segment[] {
  const out: Segment[] = [];
  let duration: number | undefined;
  for (const raw of media.split('\n')) {
    const line = raw.trim();
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) duration = Number(m[1]);
    else if (line && !line.startsWith('#') && duration !== undefined) {
      out.push({ uri: line, duration });
      duration = undefined;
    }
  }
  return out;
}

export async function fetchText(url: string, timeoutMs = 5000): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return await response.text();
  } catch {
    return undefined;
  }
}

export async function readText(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

export interface Sighting {
  /** position in the playlist */
  index: number;
  /** stream seconds at the segment's start and end (sum of the EXTINF before it, and with it) */
  start: number;
  end: number;
  /** Date.now() of the poll that first saw it */
  seenAt: number;
}

/** Notes the first sighting of every segment of one media playlist, read by `load` at each `poll()`. */
export class PlaylistWatcher {
  readonly sightings: Sighting[] = [];

  constructor(private readonly load: () => Promise<string | undefined>) {}

  async poll(): Promise<void> {
    const text = await this.load();
    if (text === undefined) return;
    const now = Date.now();
    const segments = segmentsOf(text);
    let t = 0;
    for (let i = 0; i < segments.length; i++) {
      const end = t + segments[i]!.duration;
      if (i >= this.sightings.length) this.sightings.push({ index: i, start: t, end, seenAt: now });
      t = end;
    }
  }
}

/**
 * How late each segment appeared, relative to real time from the first one: (seen_k − seen_0) − (end_k − end_0).
 * A transcode keeping up stays within poll jitter of 0; one that falls behind grows by the shortfall every second.
 */
export function lateness(sightings: readonly Sighting[]): number[] {
  const first = sightings[0];
  if (!first) return [];
  return sightings.map((s) => (s.seenAt - first.seenAt) / 1000 - (s.end - first.end));
}
