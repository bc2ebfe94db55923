// The bindings the edge Worker runs with (wrangler.toml), typed once.
import type { StreamObject } from './stream-object.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';

export interface Env {
  DB: D1Database;
  STREAMS: DurableObjectNamespace<StreamObject>;
  WEBHOOKS: Queue<WebhookEvent>;
  MEDIA: R2Bucket;
  /** Guards /admin (creating workspaces and their first token). A secret. */
  ADMIN_TOKEN: string;
  /** Shared with origins; signs every /internal call both ways. A secret. */
  ORIGIN_SECRET: string;
  /** Host names encoders are told to publish to. */
  INGEST_HOST: string;
  RTMP_PORT: string;
  RTMPS_PORT: string;
  SRT_PORT: string;
}

export interface AppVariables {
  workspaceId: string;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
