// The seam between a VideoObject and the processing jobs of its video (V4's edge/video/video-jobs.ts): what the object
// gives the jobs module (VideoJobHost) and what it asks of it (VideoJobs). Every hook marked "in the transaction" runs
// inside the object's synchronous commit, so the job's bookkeeping commits with the video's state.
import type { MediaInfo } from '../../shared/schemas/recording.ts';
import type { Env } from '../env.ts';
import type { VideoDocument } from './video-document.ts';
import type { VideoInput } from './video-machine.ts';

export type VideoJobKind = 'import' | 'process';

/** The origin's word on a video's job (CONTRACT.md), as /internal/events hands it to the video's object. */
export type VideoJobEvent =
  | { id: string; type: 'video_progress'; at: string; data: { videoId: string; phase: 'importing' | 'processing'; progress: number } }
  | {
      id: string;
      type: 'video_ready';
      at: string;
      data: { videoId: string; duration: number; size: number; mediaInfo: MediaInfo | null; renditions: string[] };
    }
  | { id: string; type: 'video_failed'; at: string; data: { videoId: string; reason: string; permanent: boolean } };

export interface VideoJobHost {
  sql: SqlStorage;
  env: () => Env;
  /** The stored video (tombstone included), read in the caller's turn. */
  load: () => VideoDocument | null;
  /** Runs one machine input on the video, with its webhooks and owed effects (in the transaction). */
  apply: (input: VideoInput) => boolean;
  /** Owes the job's dispatch again (a re-dispatch after silence): carried out as the background effect 'video_job'. */
  redispatch: (job: VideoJobKind) => void;
  /** Writes in one transaction that re-arms the alarm (for work started outside a commit, e.g. after an await). */
  transact: (writes: () => void) => void;
}

export interface VideoJobs {
  /** Sends the job to an origin with capacity (POST /control/vod-jobs); true once one took it, false to retry later. */
  dispatch(doc: VideoDocument, job: VideoJobKind): Promise<boolean>;
  /**
   * Whether `signer` may report on the video's job (the origin it went to); null when it may, else the reason refused.
   * In the transaction.
   */
  refuseSigner(event: VideoJobEvent, signer: string | undefined): string | null;
  /** A job event from its origin was applied (progress heard, so its silence deadline moves). In the transaction. */
  heard(event: VideoJobEvent, at: number): void;
  /**
   * A failure the origin says may pass (permanent: false): true when the job will be run again (the video keeps its
   * status), false when the video is to fail now (its attempts are spent). In the transaction.
   */
  retryAfterFailure(doc: VideoDocument, reason: string, at: number): boolean;
  /** The video is ready, failed or deleted: no job runs for it any more. In the transaction. */
  over(): void;
  /** The job's next deadline (an origin gone silent), for the object's alarm. */
  nextDeadline(): number | null;
  /** The alarm: deadlines that passed re-dispatch the job (host.redispatch) or fail the video (host.apply). */
  onAlarm(at: number): Promise<void>;
}
