// Low-latency sessions' fMP4 media as the durable path and the jobs see it: each ffmpeg leg has one init segment,
// `init-{legTag}.mp4`, beside its `{legTag}-{nnnnn}.m4s` segments, which are not playable without it. Pure naming, plus
// the one way the jobs hand such a segment to ffmpeg/ffprobe: the concat protocol joining init and segment bytes (a
// complete fragmented MP4 whose timestamps are the leg's own, as consecutive .ts segments' are).
import path from 'node:path';

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

/** The init segment beside an fMP4 segment file (absolute path), or null for any other file. */
export function initPathOf(segmentFile: string): string | null {
  const init = initOfSegment(path.basename(segmentFile));
  return init === null ? null : path.join(path.dirname(segmentFile), init);
}

/** A segment file as ffmpeg/ffprobe input: an fMP4 segment joined with the init beside it, anything else as it is. */
export function segmentInputOf(file: string): string {
  return segmentInput(file, initPathOf(file) ?? undefined);
}

/** Whether a rendition's segments are fMP4 (a low-latency session's): its AAC is raw, not ADTS. */
export const isFmp4Media = (segments: readonly { file: string }[]): boolean => segments.some((s) => initPathOf(s.file) !== null);

/**
 * The audio bitstream filter copying a session's AAC into MP4 takes: MPEG-TS carries ADTS (aac_adtstoasc strips it);
 * fMP4 audio is raw already, and the filter would fail on it (through the concat demuxer it has no config to check).
 */
export const aacIntoMp4Args = (fmp4: boolean): string[] => (fmp4 ? [] : ['-bsf:a', 'aac_adtstoasc']);
