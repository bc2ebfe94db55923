// Turns a finished (or crash-interrupted) session folder into a recording: a VOD HLS of every rendition
// (segments linked, playlists closed), a fast-start MP4 of the source rendition with its audio (stream
// copy across reconnect joins), a screenshot and the MP4's media info. Never writes into the session folder.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import { parameterSets, sameParameterSets, splitAnnexB } from './h264-params.ts';
import { fileSize, linkOrCopy, makeWorkDir, moveInto, writeAtomic, writeVodMaster } from './job-files.ts';
import type { VodVariantInput } from './job-files.ts';
import { ffmpegOrThrow, probeMediaInfo, readAnnexB } from './media-probe.ts';
import { isTransientJobFailure } from './job-retry.ts';
import type { MediaInfo, ToolPaths } from './media-probe.ts';
import { concatInputArgs, prepareConcat, ProbeCache } from './session-concat.ts';
import { periodsOf, readSession } from './session-media.ts';
import type { DroppedSegment, SessionMedia, SessionRendition } from './session-media.ts';
import { buildVodPlaylist, seconds } from './vod-playlist.ts';

export interface FinalizeRecordingJob extends ToolPaths {
  /** the live session's folder: master.m3u8, ladder.json, one folder per rendition */
  sessionDir: string;
  /** where the recording goes; created if missing, earlier outputs of a failed attempt are replaced */
  outDir: string;
  /** screenshot width in pixels (never upscaled); default 640 */
  screenshotWidth?: number;
  /** where in the recording the screenshot is taken, as a fraction of its duration; default 0.1 */
  screenshotAt?: number;
}

export interface RecordingArtifacts {
  /** {outDir}/vod: master.m3u8 and {rendition}/index.m3u8 + segments, ready to upload as a tree */
  vodDir: string;
  /** renditions in the VOD, source first */
  renditions: string[];
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
  /** listed segments left out of the source rendition, and why (crash leftovers) */
  droppedSegments: DroppedSegment[];
  /** what may not be right in the MP4 though it was made (the VOD HLS is not affected) */
  warnings: string[];
}

export const VOD_DIR = 'vod';
export const RECORDING_MP4 = 'recording.mp4';
export const SCREENSHOT_JPG = 'screenshot.jpg';

export async function finalizeRecording(job: FinalizeRecordingJob): Promise<RecordingArtifacts> {
  const tools: ToolPaths = { ...(job.ffmpegPath ? { ffmpegPath: job.ffmpegPath } : {}), ...(job.ffprobePath ? { ffprobePath: job.ffprobePath } : {}) };
  const session = await readSession(job.sessionDir, tools);
  const work = await makeWorkDir(job.outDir);
  try {
    const probes = new ProbeCache(tools);
    const mp4Path = path.join(job.outDir, RECORDING_MP4);
    const tmpMp4 = path.join(work.dir, RECORDING_MP4);
    const input = await prepareConcat(session.source.segments, work.dir, probes, 'source');
    await ffmpegOrThrow('the recording MP4', [
      ...concatInputArgs(input.listFile),
      '-map', '0:v:0', '-map', '0:a:0?',
      '-c', 'copy', '-bsf:a', 'aac_adtstoasc',
      '-movflags', '+faststart', '-f', 'mp4', tmpMp4,
    ], tools);
    const mediaInfo = await probeMediaInfo(tmpMp4, tools);

    const screenshotPath = path.join(job.outDir, SCREENSHOT_JPG);
    const tmpShot = path.join(work.dir, SCREENSHOT_JPG);
    await screenshot(tmpMp4, tmpShot, mediaInfo.duration * (job.screenshotAt ?? 0.1), job.screenshotWidth ?? 640, tools);

    const vodTmp = path.join(work.dir, VOD_DIR);
    await writeVod(session, vodTmp, mediaInfo);

    const warnings = await parameterChanges(session.source, tools);

    const vodDir = path.join(job.outDir, VOD_DIR);
    await moveInto(vodTmp, vodDir);
    await moveInto(tmpMp4, mp4Path);
    await moveInto(tmpShot, screenshotPath);
    const source = session.source;
    return {
      vodDir,
      renditions: session.renditions.map((r) => r.name),
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

async function writeVod(session: SessionMedia, vodDir: string, sourceInfo: MediaInfo): Promise<void> {
  await mkdir(vodDir, { recursive: true });
  const variants: VodVariantInput[] = [];
  for (const r of session.renditions) {
    if (r.segments.length === 0) continue;
    await writeRendition(r, path.join(vodDir, r.name));
    const isSource = r === session.source;
    const live = session.variants.find((v) => v.uri === `${r.name}/${MEDIA_PLAYLIST}`);
    const rung = session.ladder.find((l) => l.name === r.name);
    // The source's real size is what the MP4 (made from it) says; the rungs are what we scaled them to.
    const width = (isSource ? sourceInfo.video?.width : undefined) ?? rung?.width ?? live?.width ?? sourceInfo.video?.width ?? 0;
    const height = (isSource ? sourceInfo.video?.height : undefined) ?? rung?.height ?? live?.height ?? sourceInfo.video?.height ?? 0;
    const frameRate = (isSource ? sourceInfo.video?.fps : undefined) ?? (rung ? rung.fps / rung.fpsDen : undefined) ?? live?.frameRate;
    variants.push({
      name: r.name,
      width,
      height,
      ...(frameRate !== undefined ? { frameRate } : {}),
      firstSegment: r.segments[0]!.file,
      segments: r.segments,
      hasAudio: sourceInfo.audio !== null,
    });
  }
  await writeVodMaster(vodDir, variants);
}

async function writeRendition(r: SessionRendition, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const s of r.segments) await linkOrCopy(s.file, path.join(dir, s.uri));
  await writeAtomic(path.join(dir, MEDIA_PLAYLIST), buildVodPlaylist(r.segments));
}

