// What the stub origins of the playback tests serve: a one-rendition master and an EVENT media playlist of 2 s
// segments, each dated with PROGRAM-DATE-TIME as ffmpeg writes it, so windows and cuts by wall-clock time can be checked.
export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
export const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nsource/index.m3u8\n';

/** `segments` segments of 2 s named a1b2c3-00000.ts on, the first starting at `startMs`. */
export const datedMediaPlaylist = (startMs: number, segments: number): string =>
  [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    ...Array.from({ length: segments }, (_, i) => [
      '#EXTINF:2.000000,',
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(startMs + i * 2000).toISOString().replace('Z', '+0000')}`,
      `a1b2c3-${String(i).padStart(5, '0')}.ts`,
    ]).flat(),
    '',
  ].join('\n');
