// The video library's webhook types (issue 13): a video's creation, its outcome (ready or errored) and its deletion.
export const VIDEO_WEBHOOK_TYPES = ['video.asset.created', 'video.asset.ready', 'video.asset.errored', 'video.asset.deleted'] as const;
export type VideoWebhookType = (typeof VIDEO_WEBHOOK_TYPES)[number];
