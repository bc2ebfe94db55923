// One delivery attempt: sign the stored body (Standard Webhooks), POST it with a timeout, log the attempt in D1, and
// decide what happens next — done, retry after a backoff (longer if the receiver asks with Retry-After), the
// dead-letter queue once the retry horizon is spent, or, on 410 Gone, no more attempts to that endpoint at all.
import type { Env } from '../env.ts';
import { webhookHeaders } from './signing.ts';
import { honourRetryAfter, parseRetryAfter, retryDelaySeconds, retryPolicyFrom, type RetryPolicy } from './retry-schedule.ts';
import { signingSecrets, type DeliveryRow, type EndpointRow } from './store.ts';
import { readResponseExcerpt, type ResponseExcerpt } from './response-excerpt.ts';

/** What the delivery queues carry: the delivery to attempt, and which run of it (a redelivery starts a new run). */
export interface DeliveryMessage {
  deliveryId: string;
  endpointId: string;
  run: number;
}

export interface WebhookSettings {
  timeoutMs: number;
  retry: RetryPolicy;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;
const MAX_ERROR_LENGTH = 300;

/** Why a delivery ended failed (webhook_deliveries.failure_reason). */
export const FAILURE_REASONS = {
  retriesExhausted: 'retries exhausted',
  gone: 'endpoint gone (HTTP 410)',
} as const;

/** Statuses whose Retry-After asks us to wait (RFC 9110 §10.2.3; RFC 6585 for 429). */
const PAUSE_STATUSES = new Set([429, 503]);

export function webhookSettings(env: Pick<Env, 'WEBHOOK_TIMEOUT_SECONDS' | 'WEBHOOK_RETRY_BASE_SECONDS'>): WebhookSettings {
  const timeout = Number(env.WEBHOOK_TIMEOUT_SECONDS);
  return {
    timeoutMs: (Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_TIMEOUT_SECONDS) * 1000,
    retry: retryPolicyFrom(env.WEBHOOK_RETRY_BASE_SECONDS),
  };
}

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** What a 429 or 503 asked for with Retry-After, in seconds; null otherwise. */
  retryAfterSeconds: number | null;
  /** The receiver's answer (first 4 KiB of its body, content type); null when no response came. */
  response: ResponseExcerpt | null;
}

/** POSTs once and never throws: any 2xx is success; redirects are not followed (a 3xx counts as a failure). */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<AttemptResult> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Riverhead-Webhooks/1' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The start of the body is kept for the delivery log (why a receiver refused); capped and with its own deadline,
    // so a receiver that answers and then trickles cannot hold us.
    const excerpt = await readResponseExcerpt(response);
    const ok = response.status >= 200 && response.status < 300;
    const retryAfterSeconds = PAUSE_STATUSES.has(response.status) ? parseRetryAfter(response.headers.get('retry-after')) : null;
    return {
      ok,
      statusCode: response.status,
      latencyMs: Date.now() - started,
      error: ok ? null : `HTTP ${response.status}`,
      retryAfterSeconds,
      response: excerpt,
    };
  } catch (error) {
    const name = (error as Error | undefined)?.name;
    const message =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no response within ${timeoutMs / 1000} s`
        : String((error as Error | undefined)?.message ?? error);
    return {
      ok: false,
      statusCode: null,
      latencyMs: Date.now() - started,
      error: message.slice(0, MAX_ERROR_LENGTH),
      retryAfterSeconds: null,
      response: null,
    };
  }
}

/**
 * When a delivery put back on its queue without an attempt (behind a failed one of its endpoint, or past its
 * endpoint's share of a batch) is due, so the delivery log never shows a retry as due earlier than it will be.
 */
export async function recordNextAttempt(db: D1Database, message: DeliveryMessage, delaySeconds: number, now = Date.now()): Promise<void> {
  await db
    .prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND run = ? AND status IN ('pending', 'retrying')`)
    .bind(new Date(now + delaySeconds * 1000).toISOString(), message.deliveryId, message.run)
    .run();
}

export type AttemptVerdict =
  /** the delivery is gone, belongs to another run, or is already settled: nothing to do */
  | { kind: 'skip' }
  | { kind: 'delivered'; result: AttemptResult }
  | { kind: 'retry'; delaySeconds: number; result: AttemptResult }
  | { kind: 'dead'; result: AttemptResult }
  /** 410 Gone: the receiver says it is gone for good; the endpoint is to be disabled (endpoint-disabling.ts) */
  | { kind: 'gone'; result: AttemptResult };

type DeliveryWithEndpoint = DeliveryRow & Pick<EndpointRow, 'url' | 'secret' | 'previous_secret' | 'previous_secret_expires_at'>;

/** Makes one attempt of a delivery, records it, and says what the queue should do with the message. */
export async function attemptDelivery(
  env: Env,
  message: DeliveryMessage,
  settings: WebhookSettings,
  random: () => number = Math.random,
): Promise<AttemptVerdict> {
  const db = env.DB;
  const delivery = await db
    .prepare(
      `SELECT d.*, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
       FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`,
    )
    .bind(message.deliveryId)
    .first<DeliveryWithEndpoint>();
  if (!delivery || delivery.run !== message.run || delivery.status === 'succeeded' || delivery.status === 'failed') {
    return { kind: 'skip' };
  }

  const startedAt = new Date();
  const reserved = await db
    .prepare(
      `UPDATE webhook_deliveries
       SET attempts = attempts + 1, run_attempts = run_attempts + 1, run_started_at = COALESCE(run_started_at, ?1), updated_at = ?1
       WHERE id = ?2 AND run = ?3
       RETURNING attempts, run_attempts, run_started_at`,
    )
    .bind(startedAt.toISOString(), delivery.id, delivery.run)
    .first<{ attempts: number; run_attempts: number; run_started_at: string }>();
  if (!reserved) return { kind: 'skip' };

  const timestamp = Math.floor(startedAt.getTime() / 1000);
  const headers = await webhookHeaders(signingSecrets(delivery as unknown as EndpointRow, startedAt), delivery.event_id, timestamp, delivery.body);
  const result = await postWebhook(delivery.url, headers, delivery.body, settings.timeoutMs);
  const finishedAt = new Date(startedAt.getTime() + result.latencyMs).toISOString();

  let verdict: AttemptVerdict;
  if (result.ok) {
    verdict = { kind: 'delivered', result };
  } else if (result.statusCode === 410) {
    verdict = { kind: 'gone', result };
  } else {
    const elapsedSeconds = (Date.parse(finishedAt) - Date.parse(reserved.run_started_at)) / 1000;
    const backoff = retryDelaySeconds(reserved.run_attempts, elapsedSeconds, settings.retry, random);
    verdict =
      backoff === null
        ? { kind: 'dead', result }
        : { kind: 'retry', delaySeconds: honourRetryAfter(backoff, result.retryAfterSeconds), result };
  }
  const status = verdict.kind === 'delivered' ? 'succeeded' : verdict.kind === 'retry' ? 'retrying' : 'failed';
  const failureReason =
    verdict.kind === 'dead' ? FAILURE_REASONS.retriesExhausted : verdict.kind === 'gone' ? FAILURE_REASONS.gone : null;
  const nextAttemptAt =
    verdict.kind === 'retry' ? new Date(Date.parse(finishedAt) + verdict.delaySeconds * 1000).toISOString() : null;

  await db.batch([
    db
      .prepare(
        `INSERT INTO webhook_attempts
           (delivery_id, attempt, started_at, status_code, latency_ms, error, response_body, response_truncated, response_content_type)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        delivery.id,
        reserved.attempts,
        startedAt.toISOString(),
        result.statusCode,
        result.latencyMs,
        result.error,
        result.response?.body ?? null,
        result.response?.truncated ? 1 : 0,
        result.response?.contentType ?? null,
      ),
    db
      // Not over a failure recorded meanwhile (the endpoint was disabled while this attempt was out).
      .prepare(
        `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, failure_reason = ?, updated_at = ?
         WHERE id = ? AND run = ? AND status != 'failed'`,
      )
      .bind(status, nextAttemptAt, failureReason, finishedAt, delivery.id, delivery.run),
    result.ok
      ? db.prepare('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL').bind(delivery.endpoint_id)
      : db.prepare('UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?').bind(finishedAt, delivery.endpoint_id),
  ]);
  return verdict;
}
