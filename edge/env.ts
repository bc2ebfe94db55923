// The bindings the edge Worker runs with (wrangler.toml), typed once.
import type { StreamObject } from './stream-object.ts';
import type { VideoObject } from './video-object.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import type { DeliveryMessage } from './webhooks/delivery.ts';

export interface Env {
  DB: D1Database;
  STREAMS: DurableObjectNamespace<StreamObject>;
  /** One VideoObject per uploaded or imported video (issue 13). */
  VIDEOS: DurableObjectNamespace<VideoObject>;
  WEBHOOKS: Queue<WebhookEvent>;
  /** First attempts of webhook deliveries, one message per (event, endpoint). */
  WEBHOOK_DELIVERIES: Queue<DeliveryMessage>;
  /** Later attempts, on the backoff schedule. */
  WEBHOOK_RETRIES: Queue<DeliveryMessage>;
  /** Deliveries that failed for the whole retry horizon (24 h); redeliver them from the API. */
  WEBHOOK_DEAD_LETTERS: Queue<DeliveryMessage>;
  MEDIA: R2Bucket;
  /** Guards /admin (creating workspaces and their first token). A secret. */
  ADMIN_TOKEN: string;
  /**
   * The master key: never handed to an origin; each origin's own secret and the SRT passphrase key are derived from it
   * (shared/origin-credentials.ts). A secret.
   */
  ORIGIN_SECRET: string;
  /** Host names encoders are told to publish to. */
  INGEST_HOST: string;
  RTMP_PORT: string;
  RTMPS_PORT: string;
  SRT_PORT: string;
  /**
   * The URL customers reach this edge on (https://video.example.com; http:// only to loopback, for local development):
   * webhook payloads carry media URLs absolute on it. Unset: they carry /hls/... paths. A malformed value is logged
   * and ignored (edge/public-base-url.ts).
   */
  PUBLIC_BASE_URL?: string;
  /** Seconds a webhook receiver has to answer; default 10. */
  WEBHOOK_TIMEOUT_SECONDS?: string;
  /** First retry delay in seconds, doubling per failure (capped at 12 h) for at least 24 h; default 30. */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** "true": http:// webhook URLs to loopback are accepted; "false": never; unset: only when the API is called on loopback. */
  WEBHOOK_ALLOW_HTTP_LOOPBACK?: string;
  /** Seconds an MP4 export job may go unheard (no progress) before it is handed out again (3 jobs at most); default 900. */
  RECORDING_FINALIZE_TIMEOUT_SECONDS?: string;
  /** Seconds a stopped session's recording waits for its origin to make the media final before it plays from what R2 holds; default 8. */
  RECORDING_WATCHABLE_TIMEOUT_SECONDS?: string;
  /** Seconds a session's durable media that no recording needs is kept after the session ended; default 86400. */
  SESSION_MEDIA_GRACE_SECONDS?: string;
  /** The largest video upload in bytes (parts × part size stay within it); default 20 GiB. */
  VIDEO_UPLOAD_MAX_BYTES?: string;
  /** Seconds a library video's job may go unheard (no progress) before another origin gets it (3 attempts); default 300. */
  VIDEO_JOB_TIMEOUT_SECONDS?: string;
  /**
   * Seconds a library video's job may wait while every origin is busy (429 full, 503 draining; offered again every
   * ≤ 45 s) before the video fails with "every origin stayed busy"; default 86400.
   */
  VIDEO_QUEUE_TIMEOUT_SECONDS?: string;
}

export interface AppVariables {
  workspaceId: string;
  /** The origin that signed this /internal call (set by requireOriginSignature). */
  originId: string;
  /** That origin's region, as provisioned. */
  originRegion: string;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
