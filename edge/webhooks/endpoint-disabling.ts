// 410 Gone: the receiver says the endpoint is gone for good. The endpoint is disabled with a reason, its deliveries
// still waiting end failed (nothing more is sent there), a log line says so, and the workspace's every-type endpoints
// get a `webhook.endpoint.disabled` notice, so the customer hears of it where they already listen.
import { ENDPOINT_DISABLED_TYPE, type WebhookEndpointDisabled } from '../../shared/schemas/webhooks.ts';
import { newId } from '../../shared/identifiers.ts';
import { log } from '../log.ts';
import type { EndpointRow, PendingDelivery } from './store.ts';

export const GONE_REASON = 'the receiver answered 410 Gone';
export const DISABLED_DELIVERY_REASON = `endpoint disabled: ${GONE_REASON}`;

/**
 * Disables the endpoint (once per enabled period) and fails its waiting deliveries; returns the notices to enqueue.
 * Idempotent: a second 410 (a concurrent attempt, a retried message) only fails what is still waiting.
 */
export async function disableGoneEndpoint(db: D1Database, endpointId: string, statusCode: number): Promise<PendingDelivery[]> {
  const now = new Date().toISOString();
  const failWaiting = db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'failed', failure_reason = ?, next_attempt_at = NULL, updated_at = ?
       WHERE endpoint_id = ? AND status IN ('pending', 'retrying')`,
    )
    .bind(DISABLED_DELIVERY_REASON, now, endpointId);
  const endpoint = await db
    .prepare('SELECT id, workspace_id, url, enabled, updated_at FROM webhook_endpoints WHERE id = ?')
    .bind(endpointId)
    .first<Pick<EndpointRow, 'id' | 'workspace_id' | 'url' | 'enabled' | 'updated_at'>>();
  if (!endpoint || endpoint.enabled !== 1) {
    await failWaiting.run();
    return [];
  }

  // The endpoints a notice goes to: enabled, receiving every type (a filter names lifecycle types only).
  const { results: listeners } = await db
    .prepare(
      `SELECT id, failing_since FROM webhook_endpoints
       WHERE workspace_id = ? AND enabled = 1 AND event_types = '[]' AND id != ?`,
    )
    .bind(endpoint.workspace_id, endpoint.id)
    .all<{ id: string; failing_since: string | null }>();
  // One notice per disabling: two attempts answered 410 at once make the same id, and the second adds nothing.
  const notice: WebhookEndpointDisabled = {
    id: `evt_disabled_${endpoint.id}_${Date.parse(endpoint.updated_at)}`,
    type: ENDPOINT_DISABLED_TYPE,
    timestamp: now,
    workspaceId: endpoint.workspace_id,
    data: { webhookId: endpoint.id, url: endpoint.url, reason: GONE_REASON, statusCode },
  };
  const body = JSON.stringify(notice);
  const notices = listeners.map((l): PendingDelivery => ({ id: newId('whd'), endpoint_id: l.id, run: 1, failing_since: l.failing_since }));
  await db.batch([
    db
      .prepare('UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, disabled_at = ?, updated_at = ? WHERE id = ?')
      .bind(GONE_REASON, now, now, endpoint.id),
    failWaiting,
    ...notices.map((d) =>
      db
        .prepare(
          `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
        )
        .bind(d.id, d.endpoint_id, notice.id, ENDPOINT_DISABLED_TYPE, body, now, now),
    ),
  ]);
  log('webhook_endpoint_disabled', {
    webhookId: endpoint.id,
    workspaceId: endpoint.workspace_id,
    statusCode,
    reason: GONE_REASON,
    noticeId: notice.id,
    notified: notices.length,
  });
  // Only the notices this call inserted are still owed a message.
  if (notices.length === 0) return [];
  const marks = notices.map(() => '?').join(', ');
  const { results: owed } = await db
    .prepare(`SELECT id FROM webhook_deliveries WHERE id IN (${marks}) AND enqueued_run < run`)
    .bind(...notices.map((d) => d.id))
    .all<{ id: string }>();
  const owedIds = new Set(owed.map((o) => o.id));
  return notices.filter((d) => owedIds.has(d.id));
}
