// The files of a low-mode (LL-HLS) rendition folder as the edge sees them (names: origin/llhls/ll-playlist.ts):
// init segments `init-{legTag}.mp4` and segments `{legTag}-{nnnnn}.m4s`, shipped to R2 like .ts segments, and parts
// `{legTag}-{nnnnn}.{p}.m4s`, which live only in the origin's memory (never asked of R2). All immutable: a name is
// unique per leg. Content types for the files R2 or the origin answer without one.

export const PART_NAME = /^([0-9a-z]{1,32})-(\d{5,15})\.(\d{1,6})\.m4s$/;
export const FMP4_SEGMENT_NAME = /^([0-9a-z]{1,32})-(\d{5,15})\.m4s$/;
export const INIT_NAME = /^init-([0-9a-z]{1,32})\.mp4$/;

const baseName = (file: string) => file.slice(file.lastIndexOf('/') + 1);

/** A part: fetched from the origin only (it may be held there until it exists: a preload hint). */
export const isPartFile = (file: string): boolean => PART_NAME.test(baseName(file));

/** What a live media file is served as, by its name (R2 objects and origin answers may lack a type). */
export function mediaContentType(file: string): string {
  const name = baseName(file);
  if (name.endsWith('.m3u8')) return 'application/vnd.apple.mpegurl';
  if (name.endsWith('.ts')) return 'video/mp2t';
  if (name.endsWith('.m4s')) return 'video/iso.segment';
  if (name.endsWith('.mp4')) return 'video/mp4';
  if (name.endsWith('.jpg')) return 'image/jpeg';
  return 'application/octet-stream';
}
