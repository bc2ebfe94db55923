// The words of a scheduled live event (seed 003): its statuses, control operations, types, broadcast modes, and the
// webhook type each status change becomes. Values are the seed's own, so producers can map them one to one.

export const LIVE_EVENT_STATUSES = [
  'LIVE_STATUS_SCHEDULED',
  'LIVE_STATUS_PREPARING',
  'LIVE_STATUS_WAIT_FOR_PREVIEW',
  'LIVE_STATUS_PREVIEW',
  'LIVE_STATUS_LIVE',
  'LIVE_STATUS_ENCODING',
  'LIVE_STATUS_VOD_READY',
  'LIVE_STATUS_VOD',
  'LIVE_STATUS_LIVE_END',
  'LIVE_STATUS_CLOSED',
  'LIVE_STATUS_ARCHIVED',
] as const;
export type LiveEventStatus = (typeof LIVE_EVENT_STATUSES)[number];

/** The control operations, each a POST /v1/live/events/{eventId}/{operation}. */
export const LIVE_EVENT_OPERATIONS = ['preview', 'start', 'end', 'cancel', 'archive', 'reopen'] as const;
export type LiveEventOperation = (typeof LIVE_EVENT_OPERATIONS)[number];

/** LIVE: an encoder publishes. SIMULIVE: a recording of the workspace is broadcast as live. */
export const LIVE_TYPES = ['LIVE_TYPE_LIVE', 'LIVE_TYPE_SIMULIVE'] as const;
export type LiveType = (typeof LIVE_TYPES)[number];

/** What viewers get: the live edge only, start-over since the event went live, or a VOD they control (SIMULIVE only). */
export const BROADCAST_MODES = ['BROADCAST_MODE_TRADITIONAL_LIVE', 'BROADCAST_MODE_DVR', 'BROADCAST_MODE_PLAYBACK'] as const;
export type BroadcastMode = (typeof BROADCAST_MODES)[number];

/** An event moves from SCHEDULED to PREPARING this long before its scheduled start (seed: "less than 12 hours away"). */
export const PREPARE_AHEAD_MS = 12 * 3600_000;

export const LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS = {
  LIVE_STATUS_SCHEDULED: 'video.live_event.scheduled',
  LIVE_STATUS_PREPARING: 'video.live_event.preparing',
  LIVE_STATUS_WAIT_FOR_PREVIEW: 'video.live_event.wait_for_preview',
  LIVE_STATUS_PREVIEW: 'video.live_event.preview',
  LIVE_STATUS_LIVE: 'video.live_event.live',
  LIVE_STATUS_ENCODING: 'video.live_event.encoding',
  LIVE_STATUS_VOD_READY: 'video.live_event.vod_ready',
  LIVE_STATUS_VOD: 'video.live_event.vod',
  LIVE_STATUS_LIVE_END: 'video.live_event.live_end',
  LIVE_STATUS_CLOSED: 'video.live_event.closed',
  LIVE_STATUS_ARCHIVED: 'video.live_event.archived',
} as const satisfies Record<LiveEventStatus, string>;

/** Control-plane changes of the event's resource itself, apart from its status. */
export const LIVE_EVENT_RESOURCE_WEBHOOK_TYPES = [
  'video.live_event.created',
  'video.live_event.updated',
  'video.live_event.deleted',
] as const;

export type LiveEventWebhookType =
  | (typeof LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS)[LiveEventStatus]
  | (typeof LIVE_EVENT_RESOURCE_WEBHOOK_TYPES)[number];

export const LIVE_EVENT_WEBHOOK_TYPES: LiveEventWebhookType[] = [
  ...Object.values(LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS),
  ...LIVE_EVENT_RESOURCE_WEBHOOK_TYPES,
];
