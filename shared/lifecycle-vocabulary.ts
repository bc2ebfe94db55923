// The words of the stream lifecycle (seed 000): statuses, lifecycle events, and the webhook type each event becomes.

export const STREAM_STATUSES = [
  'NOT_STARTED',
  'STREAMING',
  'RECORDING',
  'DISCONNECTED',
  'STOPPED',
  'COMPLETED',
  'ERROR',
] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** Seed 000's events, plus the control-plane events that also reach webhooks. */
export const LIFECYCLE_EVENTS = [
  'CREATED',
  'ON_PUBLISH',
  'RECORDING',
  'ON_PUBLISH_DONE',
  'STOPPED',
  'COMPLETED',
  'ERROR',
  'ENABLED',
  'DISABLED',
  'UPDATED',
  'DELETED',
  'RECORDING_READY',
  'CLIP_READY',
  /** A simulcast destination's relay went live, dropped (retrying or stopped), or was refused for good (issue 14). */
  'DESTINATION_CONNECTED',
  'DESTINATION_DISCONNECTED',
  'DESTINATION_FAILED',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

export const WEBHOOK_TYPE_OF_EVENT = {
  CREATED: 'video.live_stream.created',
  ON_PUBLISH: 'video.live_stream.active',
  RECORDING: 'video.live_stream.recording',
  ON_PUBLISH_DONE: 'video.live_stream.disconnected',
  STOPPED: 'video.live_stream.stopped',
  COMPLETED: 'video.live_stream.completed',
  ERROR: 'video.live_stream.errored',
  ENABLED: 'video.live_stream.enabled',
  DISABLED: 'video.live_stream.disabled',
  UPDATED: 'video.live_stream.updated',
  DELETED: 'video.live_stream.deleted',
  RECORDING_READY: 'video.live_stream.recording.ready',
  CLIP_READY: 'video.live_stream.clip.ready',
  DESTINATION_CONNECTED: 'video.live_stream.destination.connected',
  DESTINATION_DISCONNECTED: 'video.live_stream.destination.disconnected',
  DESTINATION_FAILED: 'video.live_stream.destination.failed',
} as const satisfies Record<LifecycleEventName, string>;
export type WebhookEventType = (typeof WEBHOOK_TYPE_OF_EVENT)[LifecycleEventName];
export const WEBHOOK_EVENT_TYPES = Object.values(WEBHOOK_TYPE_OF_EVENT) as WebhookEventType[];

/** The human label seed 000's `activities` sample shows ("On Publish", "On Publish Done", "Stopped"). */
export function activityLabel(event: LifecycleEventName): string {
  return event
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}
