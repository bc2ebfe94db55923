// Playlist and list text the jobs write: closed VOD media playlists and ffmpeg concat lists. Pure.
import { PlaylistError } from '../pipeline/playlists.ts';

export interface VodSegment {
  uri: string;
  /** seconds */
  duration: number;
  /** timestamps restart at this segment */
  discontinuity: boolean;
  /** fMP4 (low-latency sessions): the init segment this one needs, written as EXT-X-MAP whenever it changes */
  map?: string | undefined;
}

/**
 * A finished media playlist: PLAYLIST-TYPE VOD, ENDLIST, the target duration from the segments
 * (RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer fits in it).
 */
export function buildVodPlaylist(segments: readonly VodSegment[], opts: { independentSegments?: boolean } = {}): string {
  if (segments.length === 0) throw new PlaylistError('a VOD playlist needs at least one segment');
  const target = Math.max(1, ...segments.map((s) => Math.round(s.duration)));
  const out = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  if (opts.independentSegments ?? true) out.push('#EXT-X-INDEPENDENT-SEGMENTS');
  let map: string | undefined;
  segments.forEach((s, i) => {
    if (/[\r\n]/.test(s.uri) || s.uri === '') throw new PlaylistError(`bad segment URI: ${JSON.stringify(s.uri)}`);
    if (!(s.duration >= 0)) throw new PlaylistError(`bad duration for ${s.uri}`);
    // A leading DISCONTINUITY has nothing to be discontinuous with.
    if (s.discontinuity && i > 0) out.push('#EXT-X-DISCONTINUITY');
    if (s.map !== undefined && s.map !== map) {
      if (/["\r\n]/.test(s.map)) throw new PlaylistError(`bad map URI: ${JSON.stringify(s.map)}`);
      out.push(`#EXT-X-MAP:URI="${s.map}"`);
      map = s.map;
    }
    out.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  });
  out.push('#EXT-X-ENDLIST');
  return `${out.join('\n')}\n`;
}

export interface ConcatEntry {
  /** absolute path of a file or playlist ffmpeg opens */
  file: string;
  /** seconds in the file's own timestamps: where the file is taken to start */
  inpoint?: number;
  /** seconds the file occupies on the output before the next one starts */
  duration?: number;
}

/** An `ffconcat version 1.0` list for ffmpeg's concat demuxer (run with `-safe 0` for absolute paths). */
export function buildConcatList(entries: readonly ConcatEntry[]): string {
  if (entries.length === 0) throw new Error('a concat list needs at least one file');
  const out = ['ffconcat version 1.0'];
  for (const e of entries) {
    if (/[\r\n]/.test(e.file)) throw new Error(`bad concat file name: ${JSON.stringify(e.file)}`);
    // Inside single quotes only the quote itself needs care: close, escaped quote, reopen.
    out.push(`file '${e.file.replace(/'/g, "'\\''")}'`);
    if (e.inpoint !== undefined) out.push(`inpoint ${seconds(e.inpoint)}`);
    if (e.duration !== undefined) out.push(`duration ${seconds(e.duration)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Seconds as ffmpeg parses them, to the microsecond (its internal time base). */
export function seconds(s: number): string {
  if (!Number.isFinite(s)) throw new Error(`not a time: ${s}`);
  return s.toFixed(6);
}
