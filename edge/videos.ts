// Reaching a video's Durable Object, and turning its answers into the API's (absolute URLs, problems).
import type { Env } from './env.ts';
import type { VideoResult } from './video-object.ts';
import { ApiError, notFound } from './problem.ts';
import { absoluteVideo } from './video/video-document.ts';
import type { Video } from '../shared/schemas/video.ts';

export const videoObject = (env: Env, videoId: string) => env.VIDEOS.get(env.VIDEOS.idFromName(videoId));

const TITLES: Record<string, string> = {
  'video-state-conflict': 'Not allowed in the video\'s status',
  'video-exists': 'Video exists',
};

/** The video a call returned, with its URLs absolute on the request's host, or the problem the API answers with. */
export function videoOutcome(result: VideoResult, videoId: string, requestUrl: string): Video {
  if (result.ok) return absoluteVideo(result.video, requestUrl);
  if (result.code === 'not_found') throw notFound(`video ${videoId}`);
  throw new ApiError(result.httpStatus, result.type, TITLES[result.type] ?? 'Refused', result.detail);
}
