// The webhook Queue's consumer: records each lifecycle event once (the Queue delivers at least once).
import type { Env } from './env.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { log } from './log.ts';

export async function consumeWebhookEvents(batch: MessageBatch<WebhookEvent>, env: Env): Promise<void> {
  const receivedAt = new Date().toISOString();
  for (const message of batch.messages) {
    const event = message.body;
    try {
      await env.DB.prepare(
        `INSERT INTO webhook_events (id, workspace_id, stream_id, sequence, type, body, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
        .bind(event.id, event.workspaceId, event.streamId, event.sequence, event.type, JSON.stringify(event), receivedAt)
        .run();
      message.ack();
    } catch (error) {
      log('webhook_event_record_failed', { eventId: event.id, streamId: event.streamId, error: String(error) });
      message.retry({ delaySeconds: 5 });
    }
  }
}
