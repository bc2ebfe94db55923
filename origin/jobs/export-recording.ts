// Builds a recording's MP4 from a session folder (one materialized from R2 by durable-session.ts, or a live one): a
// fast-start MP4 of the source rendition with its audio (stream copy across reconnect joins), a screenshot and the
// MP4's media info. The recording's VOD is the session's durable playlists, so no VOD HLS is made here. Never writes
// into the session folder.
import path from 'node:path';
import { parameterSets, sameParameterSets, splitAnnexB } from './h264-params.ts';
import { fileSize, makeWorkDir, moveInto } from './job-files.ts';
import { ffmpegOrThrow, probeMediaInfo, readAnnexB } from './media-probe.ts';
import { isTransientJobFailure } from './job-retry.ts';
import type { MediaInfo, ToolPaths } from './media-probe.ts';
import { concatInputArgs, prepareConcat, ProbeCache } from './session-concat.ts';
import { periodsOf, readSourceRendition } from './session-media.ts';
import type { DroppedSegment, SessionRendition } from './session-media.ts';
import { seconds } from './vod-playlist.ts';
import { aacIntoMp4Args, isFmp4Media } from '../durable/fmp4-init.ts';

export interface ExportRecordingJob extends ToolPaths {
  /** the session's folder: ladder.json and the source rendition's index.m3u8 + segments */
  sessionDir: string;
  /** where the recording goes; created if missing, earlier outputs of a failed attempt are replaced */
  outDir: string;
  /** screenshot width in pixels (never upscaled); default 640 */
  screenshotWidth?: number;
  /** where in the recording the screenshot is taken, as a fraction of its duration; default 0.1 */
  screenshotAt?: number;
  /** ffmpeg's `-progress` key=value blocks go to this file while the MP4 is muxed (export-progress.ts reads it) */
  progressFile?: string;
}

export interface RecordingExport {
  /** the rendition the MP4 was made from */
  rendition: string;
  /** {outDir}/recording.mp4 */
  mp4Path: string;
  /** {outDir}/screenshot.jpg */
  screenshotPath: string;
  mediaInfo: MediaInfo;
  /** seconds: the MP4's duration */
  duration: number;
  /** bytes of the MP4 */
  size: number;
  /** seconds: sum of the source segments' EXTINF (the session timeline) */
  timelineDuration: number;
  /** source segments in the recording */
  segments: number;
  /** reconnect joins (and holes) inside the recording */
  discontinuities: number;
  /** listed segments left out, and why */
  droppedSegments: DroppedSegment[];
  /** what may not be right in the MP4 though it was made */
  warnings: string[];
}

export const RECORDING_MP4 = 'recording.mp4';
export const SCREENSHOT_JPG = 'screenshot.jpg';

export async function exportRecording(job: ExportRecordingJob): Promise<RecordingExport> {
  const tools: ToolPaths = { ...(job.ffmpegPath ? { ffmpegPath: job.ffmpegPath } : {}), ...(job.ffprobePath ? { ffprobePath: job.ffprobePath } : {}) };
  const source = await readSourceRendition(job.sessionDir, tools);
  const work = await makeWorkDir(job.outDir);
  try {
    const probes = new ProbeCache(tools);
    const mp4Path = path.join(job.outDir, RECORDING_MP4);
    const tmpMp4 = path.join(work.dir, RECORDING_MP4);
    const input = await prepareConcat(source.segments, work.dir, probes, 'source');
    await ffmpegOrThrow('the recording MP4', [
      ...(job.progressFile ? ['-progress', job.progressFile, '-stats_period', '1'] : []),
      ...concatInputArgs(input.listFile),
      '-map', '0:v:0', '-map', '0:a:0?',
      '-c', 'copy', ...aacIntoMp4Args(isFmp4Media(source.segments)),
      '-movflags', '+faststart', '-f', 'mp4', tmpMp4,
    ], tools);
    const mediaInfo = await probeMediaInfo(tmpMp4, tools);

    const screenshotPath = path.join(job.outDir, SCREENSHOT_JPG);
    const tmpShot = path.join(work.dir, SCREENSHOT_JPG);
    await screenshot(tmpMp4, tmpShot, mediaInfo.duration * (job.screenshotAt ?? 0.1), job.screenshotWidth ?? 640, tools);

    const warnings = await parameterChanges(source, tools);

    await moveInto(tmpMp4, mp4Path);
    await moveInto(tmpShot, screenshotPath);
    return {
      rendition: source.name,
      mp4Path,
      screenshotPath,
      mediaInfo,
      duration: mediaInfo.duration,
      size: await fileSize(mp4Path),
      timelineDuration: source.duration,
      segments: source.segments.length,
      discontinuities: source.segments.filter((s) => s.discontinuity).length,
      droppedSegments: source.dropped,
      warnings,
    };
  } finally {
    await work.remove();
  }
}

/**
 * An encoder that comes back with other settings (another resolution, profile) changes the H.264
 * parameter sets at the join. HLS players reset at the DISCONTINUITY; an MP4 has one avcC, the first
 * run's, and only players that honour the in-band SPS/PPS show the later runs right. Said, not fixed:
 * fixing means re-encoding the whole recording.
 */
async function parameterChanges(source: SessionRendition, tools: ToolPaths): Promise<string[]> {
  const periods = periodsOf(source.segments);
  if (periods.length < 2) return [];
  const sets = await Promise.all(periods.map(async (p) => parameterSets(splitAnnexB(await readAnnexB(p[0]!.file, 1, tools)))));
  const warnings: string[] = [];
  sets.forEach((s, i) => {
    if (i > 0 && !sameParameterSets(s, sets[0]!)) {
      warnings.push(`the encoder's H.264 parameters changed at ${periods[i]![0]!.uri} (a reconnect); the MP4 header keeps the first ones`);
    }
  });
  return warnings;
}

/** One JPEG frame at `at` seconds (input seeking decodes from the keyframe before it), at most `width` wide. */
export async function screenshot(mp4: string, out: string, at: number, width: number, tools: ToolPaths = {}): Promise<void> {
  const t = Number.isFinite(at) && at > 0 ? at : 0;
  const args = (seek: number): string[] => [
    '-ss', seconds(seek), '-i', mp4,
    '-map', '0:v:0', '-frames:v', '1',
    // Even height keeps every JPEG decoder happy; never upscale a smaller source.
    '-vf', `scale='min(${width},iw)':-2`,
    '-q:v', '3', '-f', 'image2', '-update', '1', out,
  ];
  try {
    await ffmpegOrThrow('the screenshot', args(t), tools, 60_000);
    if ((await fileSize(out).catch(() => 0)) > 0) return;
  } catch (err) {
    // Killed from outside: the job is run again as it was, not finished with another frame.
    if (isTransientJobFailure(err)) throw err;
    // a seek past the last frame (a very short recording) writes nothing: fall back to the first frame
  }
  await ffmpegOrThrow('the screenshot', args(0), tools, 60_000);
}
