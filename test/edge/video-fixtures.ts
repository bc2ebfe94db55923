// Videos of the library made and driven through their VideoObject's own RPC (what the upload and import routes and the
// origins' job events call), for the edge tests of the library and of what plays its videos.
import { env } from 'cloudflare:workers';
import type { Workspace } from './helpers.ts';
import { newId, newPlaybackId } from '../../shared/identifiers.ts';
import type { CreateVideoInput } from '../../edge/video-object.ts';
import type { VideoJobEvent } from '../../edge/video/video-job-hooks.ts';

export const videoStub = (videoId: string) => env.VIDEOS.get(env.VIDEOS.idFromName(videoId));

/** A new public upload video of `workspace` (fields overridable); fails the test when the object refuses it. */
export async function newVideo(workspace: Workspace, options: Partial<CreateVideoInput> = {}): Promise<CreateVideoInput> {
  const input: CreateVideoInput = {
    videoId: newId('vid', 16),
    workspaceId: workspace.id,
    source: 'upload',
    title: null,
    metadata: {},
    playbackId: newPlaybackId(),
    accessPolicy: 'public',
    ...options,
  };
  const result = await videoStub(input.videoId).create(input);
  if (!result.ok) throw new Error(`create failed: ${JSON.stringify(result)}`);
  return input;
}

let counter = 0;
/** A job event for `videoId` as an origin reports it, with an id no other event of the run has. */
export function videoJobEvent(videoId: string, type: VideoJobEvent['type'], data: Record<string, unknown>): VideoJobEvent {
  counter += 1;
  return { id: `vev-${Date.now()}-${counter}`, type, at: new Date().toISOString(), data: { videoId, ...data } } as VideoJobEvent;
}
