// The VOD job's ffmpeg part (run on a media jobs worker thread): probe the source, encode its ABR ladder to VOD HLS in
// one ffmpeg run (progress through `-progress`), write the master playlist from the finished segments, remux the top
// rung into a fast-start MP4, take a thumbnail. Everything lands in a scratch folder first and moves into `outDir`
// complete, laid out as R2 holds it: hls/master.m3u8, hls/{rung}/…, video.mp4, thumbnail.jpg.
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import type { X264Preset } from '../pipeline/hls-command.ts';
import { screenshot } from '../jobs/export-recording.ts';
import { fileSize, makeWorkDir, moveInto, writeVodMaster, type VodVariantInput } from '../jobs/job-files.ts';
import { MediaJobError } from '../jobs/job-error.ts';
import { ffmpegOrThrow, probeMediaInfo, type MediaInfo, type ToolPaths } from '../jobs/media-probe.ts';
import { probeSourceVideo } from './source-probe.ts';
import { vodEncodeArgs, vodLadder } from './vod-ladder.ts';
import { lowerThreadPriority, vodEncodeThreads } from './vod-priority.ts';

export interface ProcessVideoJob extends ToolPaths {
  /** the downloaded source */
  sourceFile: string;
  /** where the outputs go (created if missing; an earlier attempt's outputs are replaced) */
  outDir: string;
  /** ffmpeg's `-progress` blocks go here during the encode (the caller polls it) */
  progressFile?: string;
  preset?: X264Preset;
  /** x264/decoder/filter threads for the encode; default half the cores (the job shares the machine with live transcodes) */
  threads?: number;
  /**
   * Lowers the calling thread's CPU priority to this nice value first, so every ffmpeg/ffprobe of the job runs below
   * live transcodes and recordings (vod-priority.ts). Only for a thread kept for VOD jobs: the lowering stays.
   */
  niceness?: number;
  /** thumbnail width (never upscaled); default 640 */
  thumbnailWidth?: number;
}

export interface VodRendition {
  name: string;
  width: number;
  height: number;
  /** peak bits per second, as the master playlist says */
  bandwidth: number;
  segments: number;
}

export interface ProcessedVideo {
  /** seconds, from the source */
  duration: number;
  /** bytes of the source */
  size: number;
  /** the source's media info (codecs, size, rate, bitrate, audio) */
  mediaInfo: MediaInfo;
  renditions: VodRendition[];
  /** {outDir}/hls, {outDir}/video.mp4, {outDir}/thumbnail.jpg */
  hlsDir: string;
  mp4Path: string;
  thumbnailPath: string;
  /** the source was interlaced and got deinterlaced */
  deinterlaced: boolean;
}

export const VIDEO_MP4 = 'video.mp4';
export const THUMBNAIL_JPG = 'thumbnail.jpg';
export const HLS_DIR = 'hls';

export async function processVideo(job: ProcessVideoJob): Promise<ProcessedVideo> {
  if (job.niceness !== undefined) lowerThreadPriority(job.niceness);
  const tools: ToolPaths = { ...(job.ffmpegPath ? { ffmpegPath: job.ffmpegPath } : {}), ...(job.ffprobePath ? { ffprobePath: job.ffprobePath } : {}) };
  const source = await probeSourceVideo(job.sourceFile, tools);
  const rungs = vodLadder(source);
  const work = await makeWorkDir(job.outDir);
  try {
    const hlsDir = path.join(work.dir, HLS_DIR);
    // Hours of media: the deadline only catches a wedged ffmpeg (ten times real time, at least an hour).
    const encodeDeadlineMs = Math.max(3600_000, source.duration * 10_000);
    await ffmpegOrThrow(
      'the ladder encode',
      vodEncodeArgs({
        sourceFile: job.sourceFile, hlsDir, rungs, interlaced: source.interlaced, hasAudio: source.hasAudio,
        threads: job.threads ?? vodEncodeThreads(os.availableParallelism(), 1), ...(job.progressFile ? { progressFile: job.progressFile } : {}), ...(job.preset ? { preset: job.preset } : {}),
      }),
      tools,
      encodeDeadlineMs,
    );
    const inputs: VodVariantInput[] = [];
    for (const r of rungs) {
      const dir = path.join(hlsDir, r.name);
      const playlist = parseMediaPlaylist(await readFile(path.join(dir, MEDIA_PLAYLIST), 'utf8'));
      if (playlist.segments.length === 0) throw new MediaJobError('no-media', `the source decoded to no frames for rendition ${r.name}`);
      const segments = await Promise.all(playlist.segments.map(async (s) => ({ bytes: (await stat(path.join(dir, s.uri))).size, duration: s.duration })));
      inputs.push({ name: r.name, width: r.width, height: r.height, frameRate: r.fps / r.fpsDen, firstSegment: path.join(dir, playlist.segments[0]!.uri), segments, hasAudio: source.hasAudio });
    }
    const variants = await writeVodMaster(hlsDir, inputs);

    // The top rung's segments remuxed: no second encode, and the MP4 plays exactly what the top HLS rendition does.
    const tmpMp4 = path.join(work.dir, VIDEO_MP4);
    await ffmpegOrThrow('the MP4', [
      '-i', path.join(hlsDir, rungs[0]!.name, MEDIA_PLAYLIST),
      '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', '-bsf:a', 'aac_adtstoasc',
      '-movflags', '+faststart', '-f', 'mp4', tmpMp4,
    ], tools, encodeDeadlineMs);
    const mp4Info = await probeMediaInfo(tmpMp4, tools);
    const tmpThumb = path.join(work.dir, THUMBNAIL_JPG);
    await screenshot(tmpMp4, tmpThumb, mp4Info.duration * 0.1, job.thumbnailWidth ?? 640, tools);

    const out = { hlsDir: path.join(job.outDir, HLS_DIR), mp4Path: path.join(job.outDir, VIDEO_MP4), thumbnailPath: path.join(job.outDir, THUMBNAIL_JPG) };
    await moveInto(hlsDir, out.hlsDir);
    await moveInto(tmpMp4, out.mp4Path);
    await moveInto(tmpThumb, out.thumbnailPath);
    return {
      duration: source.duration,
      size: await fileSize(job.sourceFile),
      mediaInfo: source.mediaInfo,
      renditions: rungs.map((r, i) => ({ name: r.name, width: r.width, height: r.height, bandwidth: variants[i]!.bandwidth, segments: inputs[i]!.segments.length })),
      ...out,
      deinterlaced: source.interlaced,
    };
  } finally {
    await work.remove();
  }
}
