// Low-latency sessions' fMP4 media as the durable path and the jobs see it: each ffmpeg leg has one init segment,
// `init-{legTag}.mp4`, beside its `{legTag}-{nnnnn}.m4s` segments, which are not playable without it. Pure naming, plus
// the one way the jobs hand such a segment to ffmpeg/ffprobe: the concat protocol joining init and segment bytes (a
// complete fragmented MP4 whose timestamps are the leg's own, as consecutive .ts segments' are).

const FMP4_SEGMENT = /^([0-9a-f]{6})-\d+\.m4s$/;

/** The init segment of a leg. */
export const initFileName = (legTag: string): string => `init-${legTag}.mp4`;

/** The init segment a segment needs (`abc123-00004.m4s` → `init-abc123.mp4`); null for MPEG-TS and foreign names. */
export function initOfSegment(uri: string): string | null {
  const leg = FMP4_SEGMENT.exec(uri)?.[1];
  return leg ? initFileName(leg) : null;
}

/**
 * The input to give ffmpeg or ffprobe for one segment file: the file itself, or with an init segment the
 * `concat:` protocol over both (byte concatenation; paths are the origin's own, never holding '|').
 */
export function segmentInput(file: string, init?: string): string {
  if (init === undefined) return file;
  if (file.includes('|') || init.includes('|')) throw new Error('a segment path with "|" cannot go through the concat protocol');
  return `concat:${init}|${file}`;
}
